/**
 * The row type of the settings table: one declaration per setting gives its key, default, parser, where its value
 * lands in {@link OrchestratorConfig}, and its line on docs/configuration.md. Loader, unknown-key warnings and the
 * page all read the table (`settings/`).
 */
import type { Env, OrchestratorConfig } from './types';

/** Top-level fields of {@link OrchestratorConfig} that group several settings. */
type Group = {
  [K in keyof OrchestratorConfig]: OrchestratorConfig[K] extends ReadonlyMap<unknown, unknown> | boolean ? never : K;
}[keyof OrchestratorConfig];

/** A field of {@link OrchestratorConfig} one setting fills: `group.field`, or a top-level field such as `demo`. */
export type ConfigPath =
  | Exclude<keyof OrchestratorConfig, Group>
  | { [G in Group]: `${G}.${Extract<keyof OrchestratorConfig[G], string>}` }[Group];

/** The type of the field at {@link ConfigPath} `P`. */
export type ValueAt<P extends ConfigPath> = P extends `${infer G extends Group}.${infer F}`
  ? F extends keyof OrchestratorConfig[G]
    ? OrchestratorConfig[G][F]
    : never
  : P extends keyof OrchestratorConfig
    ? OrchestratorConfig[P]
    : never;

/** What a row's default, condition and resolution may consult while the configuration is read. */
export interface ReadContext {
  /** The (merged) environment, for families of keys such as `ORCH_POOL_<NAME>`. */
  readonly env: Env;
  /** Another setting's value as parsed, or its default; read on demand, once. */
  get<R>(setting: Setting<R>): R;
  /** Another setting's text, trimmed; undefined when unset or blank. */
  raw(setting: Setting<unknown>): string | undefined;
  /** Records a problem line, `KEY: what is wrong`. */
  problem(line: string): void;
}

/** A link to the page that describes a setting's behaviour. */
export interface Link {
  readonly title: string;
  /** Relative to `docs/`, optionally with an anchor: `load-balancing.md#circuit-breaker`. */
  readonly href: string;
}

/** One row of the settings table. */
export interface Setting<R = unknown> {
  /** The variable, or for a family the pattern, `ORCH_POOL_<NAME>`. */
  readonly key: string;
  /** Meaning on docs/configuration.md (markdown, one line), including rules that involve other settings. */
  readonly doc: string;
  /** Pages that describe the behaviour, linked after `doc`. */
  readonly see?: readonly Link[];
  /** The default as an operator would write it; parsed like a set value, shown in backticks. */
  readonly default?: string;
  /** The default column when `default` cannot say it (computed defaults); else `unset` when there is none. */
  readonly shownDefault?: string;
  /** Text → value; throws with a message that completes `KEY: …`. Absent = the trimmed text. */
  readonly parse?: (raw: string) => R;
  /** The value when unset (or invalid) and there is no `default`: a value or computed from other settings. */
  readonly fallback?: R | ((ctx: ReadContext) => R);
  /** When false, the setting is not read at all (another one takes precedence); its value is the fallback. */
  readonly when?: (ctx: ReadContext) => boolean;
  /** The field of {@link OrchestratorConfig} the (resolved) value goes to; absent for rows read by other rows. */
  readonly at?: ConfigPath;
  /** Turns the value into the field's value using other settings (a worker's suffix, a family of keys, …). */
  resolve?(value: R, ctx: ReadContext): unknown;
  /** A family of keys: every variable starting with this prefix belongs to the row. */
  readonly family?: string;
  /** Who reads the variable; rows of the admin UI are documented here but unknown to the orchestrator. */
  readonly reader?: 'admin-ui';
}

/**
 * What every row declares: a parser, and either a `default` (written as an operator would) or a `fallback`, which
 * is `undefined` only where the field may be unset.
 */
type Row<R> = Omit<Setting<R>, 'at' | 'resolve' | 'parse' | 'default' | 'fallback' | 'family'> & {
  readonly parse: (raw: string) => R;
} & (
    | { readonly default: string; readonly fallback?: never }
    | { readonly default?: never; readonly fallback: R | ((ctx: ReadContext) => R) }
  );

/** A row as {@link setting} returns it: its parser is there to be reused. */
export type ParsedSetting<R> = Setting<R> & { readonly parse: (raw: string) => R };

/** A row whose value, resolved with other settings, fills the field `at`. */
export function setting<P extends ConfigPath, R>(
  row: Row<R> & { readonly at: P; resolve(value: R, ctx: ReadContext): ValueAt<P> },
): ParsedSetting<R>;
/** A row whose parsed value fills the field `at` as it is. */
export function setting<P extends ConfigPath>(row: Row<ValueAt<P>> & { readonly at: P }): ParsedSetting<ValueAt<P>>;
/** A row that other rows read (through {@link ReadContext.get}) rather than a field of its own. */
export function setting<R>(row: Row<R>): ParsedSetting<R>;
export function setting(row: ParsedSetting<unknown>): ParsedSetting<unknown> {
  return row;
}

/** A family of keys (`ORCH_POOL_<NAME>`): every variable starting with `family`, each parsed by `parse`. */
export function family<R>(
  row: Omit<Setting<R>, 'at' | 'resolve' | 'parse' | 'fallback' | 'when' | 'default'> & {
    readonly family: string;
    readonly parse: (raw: string) => R;
  },
): ParsedSetting<R> {
  return row;
}

/** A row read outside the table's loader (by the admin UI, or before it, like `ORCH_CONFIG`): documented only. */
export function documented(
  row: Omit<Setting<never>, 'at' | 'resolve' | 'parse' | 'fallback' | 'when'>,
): Setting<never> {
  return row;
}

/** A group of settings: a section of docs/configuration.md. */
export interface Section {
  /** Heading of the section. */
  readonly title: string;
  /** Paragraph under the heading: what reads these settings and the pages that describe the behaviour. */
  readonly lead: string;
  /** Its rows, in page order. */
  readonly settings: readonly Setting[];
}
