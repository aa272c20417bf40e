// Read by the event relay (`/api/events`) and sign-out (`/auth/logout`), which Next.js bundles apart: the record of
// this process lives on globalThis, so every bundle's copy of this module sees the same one.

/**
 * Live event streams one person may hold open through the UI at once (one per tab). The orchestrator serves at most
 * 64 (`SSE_MAX_CLIENTS`, for everyone together): without a share per person, one signed-in viewer could take them all.
 */
export const MAX_STREAMS_PER_PERSON = 4;
/** The longest timer Node keeps (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One open stream: aborted when its person signs out or its session reaches its end; release it when it ends. */
export interface StreamTicket {
  readonly signal: AbortSignal;
  /** Gives the place back (idempotent). */
  release(): void;
}

interface OpenStream {
  /** When the stream's session started (epoch ms). */
  readonly created: number;
  readonly controller: AbortController;
  readonly release: () => void;
}

/** The event streams open through this process, by person. */
export class EventStreams {
  private readonly byPerson = new Map<string, Set<OpenStream>>();

  constructor(readonly perPerson: number = MAX_STREAMS_PER_PERSON) {}

  /** How many streams `person` holds open. */
  count(person: string): number {
    return this.byPerson.get(person)?.size ?? 0;
  }

  /**
   * A place for one more stream of `person` in their session started at `created` (epoch ms), or undefined when they
   * hold `perPerson` already. With `endsInMs`, the ticket's signal aborts then (the session's absolute timeout).
   */
  acquire(person: string, created: number, endsInMs?: number): StreamTicket | undefined {
    let streams = this.byPerson.get(person);
    if ((streams?.size ?? 0) >= this.perPerson) return undefined;
    if (streams === undefined) this.byPerson.set(person, (streams = new Set()));
    const held = streams;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (timer !== undefined) clearTimeout(timer);
      held.delete(stream);
      if (held.size === 0 && this.byPerson.get(person) === held) this.byPerson.delete(person);
    };
    const stream: OpenStream = { created, controller, release };
    held.add(stream);
    if (endsInMs !== undefined) {
      timer = setTimeout(() => controller.abort(), Math.min(MAX_TIMER_MS, Math.max(0, endsInMs)));
      timer.unref();
    }
    return { signal: controller.signal, release };
  }

  /**
   * Ends every stream of `person` whose session started at or before `signedOutAt` (epoch ms): at their sign-out,
   * that is all of theirs, from every browser. Returns how many there were.
   */
  endSignedOut(person: string, signedOutAt: number): number {
    let ended = 0;
    for (const stream of [...(this.byPerson.get(person) ?? [])]) {
      if (stream.created > signedOutAt) continue;
      stream.controller.abort();
      stream.release();
      ended++;
    }
    return ended;
  }
}

const KEY = Symbol.for('shieldx.admin-ui.event-streams');

/** The event streams of this process (a cap per replica of the UI). */
export function eventStreams(): EventStreams {
  const holder = globalThis as typeof globalThis & { [KEY]?: EventStreams };
  holder[KEY] ??= new EventStreams();
  return holder[KEY];
}
