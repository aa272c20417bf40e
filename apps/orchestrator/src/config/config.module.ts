import { ConfigurableModuleBuilder, Global, Module } from '@nestjs/common';
import type { OrchestratorConfig } from './config';

const builder = new ConfigurableModuleBuilder<OrchestratorConfig>({ moduleName: 'OrchestratorConfig' })
  .setClassMethodName('forRoot')
  .build();

/** Injection token of the validated {@link OrchestratorConfig}. */
export const ORCH_CONFIG = builder.MODULE_OPTIONS_TOKEN;

/**
 * Injection token of the configuration's source: reads and validates the configuration again (the `ORCH_CONFIG` file
 * and the environment it started with), throwing `ConfigError` when it is invalid. Used by configuration reloads.
 */
export const CONFIG_SOURCE = Symbol('CONFIG_SOURCE');

/** What {@link CONFIG_SOURCE} provides. */
export type ConfigSource = () => OrchestratorConfig;

/** Provides the configuration validated at boot by `loadConfig`, to every module. */
@Global()
@Module({ exports: [ORCH_CONFIG] })
export class ConfigModule extends builder.ConfigurableModuleClass {}
