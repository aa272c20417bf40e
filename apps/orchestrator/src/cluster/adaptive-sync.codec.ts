import type { SharedAdaptiveKey } from '../ratelimit/adaptive-protection';

/**
 * A message on the adaptive channel: the keys `origin` tightened or renewed (`set`), relaxed (`del`), and released by
 * an operator there (`release`: every instance gives them their full limit back).
 */
export interface AdaptiveMessage {
  readonly origin: string;
  readonly set: readonly SharedAdaptiveKey[];
  readonly del: readonly string[];
  readonly release: readonly string[];
}

/** Longest key or instance id accepted from the channel. */
const MAX_NAME = 256;
/** Most entries of one kind in one message (an instance shares at most 1000 keys). */
const MAX_ENTRIES = 5000;

/** The hash field of `origin`'s entry for `key`. */
export function adaptiveField(origin: string, key: string): string {
  return `${origin} ${key}`;
}

function name(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME) throw new Error(`bad ${what}`);
  return value;
}

function number(value: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
    throw new Error(`bad ${what}`);
  return value;
}

function names(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_ENTRIES) throw new Error(`bad ${what}`);
  return value.map((item) => name(item, what));
}

/** Validates one shared key (from the hash or a message); throws on anything malformed. */
export function parseSharedKey(value: unknown): SharedAdaptiveKey {
  if (typeof value !== 'object' || value === null) throw new Error('bad shared key');
  const entry = value as Record<string, unknown>;
  const phase = entry['phase'];
  if (phase !== 'tightened' && phase !== 'recovering') throw new Error('bad phase');
  const enforced = entry['enforced'];
  if (typeof enforced !== 'boolean') throw new Error('bad enforced');
  return {
    key: name(entry['key'], 'key'),
    origin: name(entry['origin'], 'origin'),
    phase,
    since: number(entry['since'], 'since', 0),
    recoveringSince: number(entry['recoveringSince'], 'recoveringSince', 0),
    // A factor of 0 would refuse everything: the settings never allow it, nor does the channel.
    tightenFactor: number(entry['tightenFactor'], 'tightenFactor', Number.MIN_VALUE, 1),
    recoveryMs: number(entry['recoveryMs'], 'recoveryMs', 0),
    enforced,
    baselineRate: number(entry['baselineRate'], 'baselineRate', 0, Number.MAX_VALUE),
    currentRate: number(entry['currentRate'], 'currentRate', 0, Number.MAX_VALUE),
    thresholdRate: number(entry['thresholdRate'], 'thresholdRate', 0, Number.MAX_VALUE),
    expiresAt: number(entry['expiresAt'], 'expiresAt', 0),
  };
}

/** Parses a message of the adaptive channel; throws on anything malformed. */
export function parseAdaptiveMessage(text: string): AdaptiveMessage {
  const value = JSON.parse(text) as unknown;
  if (typeof value !== 'object' || value === null) throw new Error('bad message');
  const message = value as Record<string, unknown>;
  const set = message['set'] ?? [];
  if (!Array.isArray(set) || set.length > MAX_ENTRIES) throw new Error('bad set');
  const origin = name(message['origin'], 'origin');
  const entries = set.map(parseSharedKey);
  if (entries.some((entry) => entry.origin !== origin)) throw new Error('entry of another origin');
  return { origin, set: entries, del: names(message['del'], 'del'), release: names(message['release'], 'release') };
}
