import type { SecurityEvent, SecurityEventSink } from '../events/security-events';
import type { LedgerService } from './ledger.service';

/** Sends every security event to the audit ledger (aggregated and capped there, see `EventGuard`). */
export class LedgerEventSink implements SecurityEventSink {
  constructor(private readonly ledger: LedgerService) {}

  write(event: SecurityEvent): void {
    this.ledger.record(event);
  }
}
