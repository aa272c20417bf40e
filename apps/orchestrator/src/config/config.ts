/**
 * The orchestrator's configuration: its shape (`types.ts`), the settings table it is read through (`settings/`),
 * and the loader (`load.ts`). Every setting is one row of the table; docs/configuration.md is generated from it.
 */
export { ConfigError, loadConfig } from './load';
export { FAMILY_PREFIXES, KNOWN_KEYS, SECTIONS, SETTINGS, workerLedgerPath } from './settings/table';
export {
  LOG_LEVELS,
  TENANT_SOURCES,
  type Env,
  type LoadedConfig,
  type LogLevel,
  type OrchestratorConfig,
  type PoolConfig,
  type ReadText,
  type TenantSource,
} from './types';
