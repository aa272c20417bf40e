/**
 * The settings table: every setting, section by section, in the order of docs/configuration.md. The loader reads
 * the rows in this order, so problems are listed in it too.
 */
import type { Section, Setting } from '../setting';
import { ADMIN, ADMIN_UI } from './admin';
import { ADVISORS } from './advisors';
import { AUTH } from './auth';
import { HEALTH } from './health';
import { LEDGER } from './ledger';
import { LISTENER } from './listener';
import { LOGS } from './logs';
import { POLICY } from './policy';
import { POOLS } from './pools';
import { PROXY } from './proxy';
import { RATE_LIMITS } from './rate-limits';
import { SCALE_OUT } from './scale-out';
import { TENANTS } from './tenants';

/** Every section, in page order. */
export const SECTIONS: readonly Section[] = [
  LISTENER,
  POOLS,
  HEALTH,
  PROXY,
  RATE_LIMITS,
  TENANTS,
  POLICY,
  ADVISORS,
  AUTH,
  ADMIN,
  ADMIN_UI,
  LEDGER,
  LOGS,
  SCALE_OUT,
];

/** Every row the orchestrator reads (the admin UI's rows left out), in page order. */
export const SETTINGS: readonly Setting[] = SECTIONS.flatMap((section) => section.settings).filter(
  (row) => row.reader === undefined,
);

/** Variables the orchestrator reads (besides the ORCH_POOL_* families). Unknown ORCH_* names are reported. */
export const KNOWN_KEYS: ReadonlySet<string> = new Set(
  SETTINGS.filter((row) => row.family === undefined).map((row) => row.key),
);

/** Prefixes of the families of keys (`ORCH_POOL_`, …): every variable starting with one is a setting. */
export const FAMILY_PREFIXES: readonly string[] = SETTINGS.flatMap((row) =>
  row.family === undefined ? [] : [row.family],
);

export { CONFIG_FILE, tlsFileCount } from './listener';
export { workerLedgerPath } from './scale-out';
