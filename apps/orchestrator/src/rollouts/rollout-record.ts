import { basename, dirname, extname, join } from 'node:path';
import type {
  RolloutPhase,
  RolloutSnapshot,
  RolloutSpec,
  RolloutState,
  RolloutTransition,
  SideSummary,
  TransitionKind,
  WindowCounts,
} from './rollout';

/** A rollout as kept beyond this process (state file, Redis): its pool, run, both sets and its snapshot. */
export interface RolloutRecord {
  readonly pool: string;
  /** Id of this rollout (a new one per start): a state of another run never changes it. */
  readonly run: string;
  readonly stableUrls: readonly string[];
  readonly canaryUrls: readonly string[];
  readonly snapshot: RolloutSnapshot;
}

const STATES: ReadonlySet<string> = new Set<RolloutState>(['running', 'paused', 'promoted', 'rolled_back', 'aborted']);
const PHASES: ReadonlySet<string> = new Set<RolloutPhase>(['preview', 'traffic']);
const KINDS: ReadonlySet<string> = new Set<TransitionKind>([
  'started',
  'previewed',
  'advanced',
  'promoted',
  'rolled_back',
  'paused',
  'resumed',
  'aborted',
  'restored',
]);
/** Longest list a record may hold (backends of one side, steps, history entries). */
const MAX_ITEMS = 1024;

/** The state file of this process's rollouts without Redis: beside its ledger, `<ledger stem>.rollouts.json`. */
export function rolloutStatePath(ledgerPath: string): string {
  const name = basename(ledgerPath);
  const ext = extname(name);
  return join(dirname(ledgerPath), `${ext === '' ? name : name.slice(0, -ext.length)}.rollouts.json`);
}

/** True when the state is final (no split any more). */
export function isFinal(state: RolloutState): boolean {
  return state !== 'running' && state !== 'paused';
}

/** Checks a parsed record (from a file or another instance) field by field. @throws Error naming the field */
export function parseRecord(value: unknown, pool?: string): RolloutRecord {
  const record = object(value, 'record');
  const name = text(record['pool'], 'pool', 128);
  if (pool !== undefined && name !== pool) throw new Error(`record of '${name}' stored as '${pool}'`);
  const snapshot = object(record['snapshot'], 'snapshot');
  const spec = parseSpec(snapshot['spec']);
  const state = text(snapshot['state'], 'state', 16);
  if (!STATES.has(state)) throw new Error(`unknown state '${state}'`);
  const phase = text(snapshot['phase'], 'phase', 16);
  if (!PHASES.has(phase)) throw new Error(`unknown phase '${phase}'`);
  return {
    pool: name,
    run: text(record['run'], 'run', 128),
    stableUrls: list(record['stableUrls'], 'stableUrls').map((url) => text(url, 'stableUrls', 2048)),
    canaryUrls: list(record['canaryUrls'], 'canaryUrls').map((url) => text(url, 'canaryUrls', 2048)),
    snapshot: {
      spec,
      state: state as RolloutState,
      phase: phase as RolloutPhase,
      index: integer(snapshot['index'], 'index', 0, spec.steps.length - 1),
      intervalStart: number(snapshot['intervalStart'], 'intervalStart'),
      baselineP99: snapshot['baselineP99'] === null ? null : number(snapshot['baselineP99'], 'baselineP99'),
      window: integer(snapshot['window'], 'window', 0, Number.MAX_SAFE_INTEGER),
      history: list(snapshot['history'], 'history').map(parseTransition),
    },
  };
}

/** Checks a window's shared counts. @throws Error */
export function parseCounts(value: unknown): WindowCounts {
  const counts = object(value, 'counts');
  const histogram = list(counts['histogram'], 'histogram').map((n) =>
    integer(n, 'histogram', 0, Number.MAX_SAFE_INTEGER),
  );
  return {
    requests: integer(counts['requests'], 'requests', 0, Number.MAX_SAFE_INTEGER),
    errors: integer(counts['errors'], 'errors', 0, Number.MAX_SAFE_INTEGER),
    histogram,
  };
}

function parseSpec(value: unknown): RolloutSpec {
  const spec = object(value, 'spec');
  const steps = list(spec['steps'], 'steps').map((step) => integer(step, 'steps', 1, 100));
  if (steps.length === 0) throw new Error('no steps');
  const methods = spec['previewMethods'];
  return {
    steps,
    intervalMs: integer(spec['intervalMs'], 'intervalMs', 1, 86_400_000),
    maxErrorRate: number(spec['maxErrorRate'], 'maxErrorRate'),
    maxP99Ratio: number(spec['maxP99Ratio'], 'maxP99Ratio'),
    minRequests: integer(spec['minRequests'], 'minRequests', 1, 1_000_000),
    sticky: spec['sticky'] === true,
    preview: spec['preview'] === true,
    ...(methods === undefined
      ? {}
      : { previewMethods: list(methods, 'previewMethods').map((m) => text(m, 'method', 16)) }),
  };
}

function parseTransition(value: unknown): RolloutTransition & { readonly at: number } {
  const entry = object(value, 'history');
  const kind = text(entry['kind'], 'kind', 16);
  if (!KINDS.has(kind)) throw new Error(`unknown transition '${kind}'`);
  const from = text(entry['from'], 'from', 16);
  const to = text(entry['to'], 'to', 16);
  if (!STATES.has(from) || !STATES.has(to)) throw new Error('unknown state in history');
  const phase = entry['phase'] === undefined ? 'traffic' : text(entry['phase'], 'phase', 16);
  if (!PHASES.has(phase)) throw new Error(`unknown phase '${phase}'`);
  return {
    kind: kind as TransitionKind,
    from: from as RolloutState,
    to: to as RolloutState,
    fromPercent: integer(entry['fromPercent'], 'fromPercent', 0, 100),
    toPercent: integer(entry['toPercent'], 'toPercent', 0, 100),
    reason: text(entry['reason'], 'reason', 512),
    phase: phase as RolloutPhase,
    stable: parseSummary(entry['stable']),
    canary: parseSummary(entry['canary']),
    at: number(entry['at'], 'at'),
  };
}

function parseSummary(value: unknown): SideSummary {
  const summary = object(value, 'summary');
  return {
    requests: integer(summary['requests'], 'requests', 0, Number.MAX_SAFE_INTEGER),
    errors: integer(summary['errors'], 'errors', 0, Number.MAX_SAFE_INTEGER),
    errorRate: number(summary['errorRate'], 'errorRate'),
    p99Ms: summary['p99Ms'] === null ? null : number(summary['p99Ms'], 'p99Ms'),
  };
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${field} is not an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value) || value.length > MAX_ITEMS) throw new Error(`${field} is not a list`);
  return value;
}

function text(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new Error(`bad ${field}`);
  return value;
}

function number(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`bad ${field}`);
  return value;
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`bad ${field}`);
  }
  return value;
}
