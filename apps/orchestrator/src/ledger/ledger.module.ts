import { Global, Module } from '@nestjs/common';
import { LedgerController } from './ledger.controller';
import { LedgerService } from './ledger.service';

/**
 * The audit ledger: {@link LedgerService} (global, so the events module can give it the security events and health
 * can report on it) and the admin endpoints `GET /admin/audit` and `GET /admin/ledger/verify`.
 */
@Global()
@Module({ controllers: [LedgerController], providers: [LedgerService], exports: [LedgerService] })
export class LedgerModule {}
