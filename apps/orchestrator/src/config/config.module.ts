import { ConfigurableModuleBuilder, Global, Module } from '@nestjs/common';
import type { OrchestratorConfig } from './config';

const builder = new ConfigurableModuleBuilder<OrchestratorConfig>({ moduleName: 'OrchestratorConfig' })
  .setClassMethodName('forRoot')
  .build();

/** Injection token of the validated {@link OrchestratorConfig}. */
export const ORCH_CONFIG = builder.MODULE_OPTIONS_TOKEN;

/** Provides the configuration validated at boot by `loadConfig`, to every module. */
@Global()
@Module({ exports: [ORCH_CONFIG] })
export class ConfigModule extends builder.ConfigurableModuleClass {}
