/**
 * Reads the environment (and the optional `ORCH_CONFIG` file) through the settings table into one
 * {@link OrchestratorConfig}, collecting every problem before failing once.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { parse } from 'yaml';
import type { ConfigPath, ReadContext, Setting } from './setting';
import { checkAcrossSettings } from './rules';
import { CONFIG_FILE, FAMILY_PREFIXES, KNOWN_KEYS, SETTINGS } from './settings/table';
import type { Env, LoadedConfig, OrchestratorConfig, ReadText } from './types';

/** The YAML parser, loaded only for an `ORCH_CONFIG` file: most deployments configure by environment alone. */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as { parse: typeof parse };
  return yaml.parse(text);
}

/** Thrown when configuration is invalid; `problems` holds one line per bad key. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`,
    );
    this.name = 'ConfigError';
  }
}

/**
 * Validates the environment (and the optional `ORCH_CONFIG` YAML/JSON file of the same keys; the environment wins)
 * into one typed object. Every bad key is collected; if any, a single {@link ConfigError} names them all.
 */
export function loadConfig(processEnv: Env, readText: ReadText = (path) => readFileSync(path, 'utf8')): LoadedConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  const env = mergeConfigFile(processEnv, readText, problems);
  for (const key of Object.keys(env)) {
    if (key.startsWith('ORCH_') && !KNOWN_KEYS.has(key) && !FAMILY_PREFIXES.some((prefix) => key.startsWith(prefix))) {
      warnings.push(`${key} is not a ShieldX setting and is ignored`);
    }
  }

  const reading = new Reading(env, problems);
  const fields: Record<string, unknown> = {};
  for (const row of SETTINGS) {
    if (row.at === undefined) continue;
    const value = reading.get(row);
    place(fields, row.at, row.resolve === undefined ? value : row.resolve(value, reading));
  }
  // Every field has its row: settings.spec.ts compares the fields filled with those of OrchestratorConfig.
  const config = fields as unknown as OrchestratorConfig;
  checkAcrossSettings(config, reading, (line) => warnings.push(line));
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, warnings };
}

/** Puts `value` at `group.field` (or a top-level field) of the configuration being built. */
function place(fields: Record<string, unknown>, at: ConfigPath, value: unknown): void {
  const [group, field] = at.split('.') as [string, string | undefined];
  if (field === undefined) {
    fields[group] = value;
    return;
  }
  const groupFields = (fields[group] ??= {}) as Record<string, unknown>;
  groupFields[field] = value;
}

/** The values of one load: each setting parsed once, on first use, its problem recorded under its key. */
class Reading implements ReadContext {
  private readonly values = new Map<Setting<unknown>, unknown>();
  private readonly inProgress = new Set<Setting<unknown>>();

  constructor(
    readonly env: Env,
    private readonly problems: string[],
  ) {}

  get<R>(setting: Setting<R>): R {
    if (this.values.has(setting)) return this.values.get(setting) as R;
    if (this.inProgress.has(setting)) throw new Error(`the default of ${setting.key} depends on itself`);
    this.inProgress.add(setting);
    const value = this.read(setting);
    this.inProgress.delete(setting);
    this.values.set(setting, value);
    return value;
  }

  raw(setting: Setting<unknown>): string | undefined {
    const raw = this.env[setting.key]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  }

  problem(line: string): void {
    this.problems.push(line);
  }

  private read<R>(setting: Setting<R>): R {
    const parse = setting.parse ?? ((raw: string) => raw.trim() as R);
    const raw = this.env[setting.key];
    if (raw !== undefined && raw.trim() !== '' && (setting.when?.(this) ?? true)) {
      try {
        return parse(raw);
      } catch (error) {
        this.problem(`${setting.key}: ${(error as Error).message}`);
      }
    }
    // An invalid value falls back too, so that one bad key does not hide the problems of the keys read after it.
    if (setting.default !== undefined) return parse(setting.default);
    const { fallback } = setting;
    return typeof fallback === 'function' ? (fallback as (ctx: ReadContext) => R)(this) : (fallback as R);
  }
}

/** Settings from the `ORCH_CONFIG` file under those of the environment; lists become comma lists, maps JSON. */
function mergeConfigFile(processEnv: Env, readText: ReadText, problems: string[]): Env {
  const file = processEnv[CONFIG_FILE.key]?.trim();
  if (file === undefined || file === '') return processEnv;
  let parsed: unknown;
  try {
    parsed = parseYaml(readText(file));
  } catch (error) {
    problems.push(`${CONFIG_FILE.key}: cannot read '${file}': ${(error as Error).message.split('\n')[0]}`);
    return processEnv;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`${CONFIG_FILE.key}: '${file}' must hold a mapping of setting names to values`);
    return processEnv;
  }
  const merged: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) merged[key] = value.map((item) => scalar(item)).join(',');
    else if (typeof value === 'object') merged[key] = JSON.stringify(value);
    else merged[key] = scalar(value);
  }
  return { ...merged, ...processEnv };
}

function scalar(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
