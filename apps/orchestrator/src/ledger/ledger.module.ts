import { Module } from '@nestjs/common';
import { LEDGER_METRIC_PROVIDERS, LedgerMetrics } from './ledger-metrics';
import { LedgerService } from './ledger.service';

/** The audit ledger ({@link LedgerService}); its admin endpoints are in the admin API, its sink in the app's events. */
@Module({ providers: [...LEDGER_METRIC_PROVIDERS, LedgerMetrics, LedgerService], exports: [LedgerService] })
export class LedgerModule {}
