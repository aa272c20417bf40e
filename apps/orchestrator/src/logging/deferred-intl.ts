/**
 * `@nestjs/common` builds an `Intl.DateTimeFormat` as it loads (the timestamp of its ConsoleLogger), which maps about
 * 8 MB of ICU data into the process (measured: a bare Node process goes from 40 to 48 MB resident with that one call).
 * The gateway never formats with it: its logs are pino's (NestPinoLogger). Imported first by main.ts, this module
 * makes the formatters built while the modules load deferred — the real one is built on first use — and
 * {@link restoreDateTimeFormat} puts the real constructor back once they are loaded.
 */
const Real = Intl.DateTimeFormat;

function Deferred(this: unknown, ...args: ConstructorParameters<typeof Intl.DateTimeFormat>): Intl.DateTimeFormat {
  let real: Intl.DateTimeFormat | undefined;
  const build = (): Intl.DateTimeFormat => (real ??= new Real(...args));
  return new Proxy({} as Intl.DateTimeFormat, {
    get: (_target, key) => {
      const value: unknown = Reflect.get(build(), key);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(build()) : value;
    },
    getPrototypeOf: () => Real.prototype,
  });
}
Object.setPrototypeOf(Deferred, Real);
Deferred.prototype = Real.prototype;
Intl.DateTimeFormat = Deferred as unknown as typeof Intl.DateTimeFormat;

/** Puts the real `Intl.DateTimeFormat` back (call once the framework's modules are loaded). */
export function restoreDateTimeFormat(): void {
  Intl.DateTimeFormat = Real;
}
