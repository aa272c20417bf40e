import type { SecurityEvent } from '../src/events/security-events';

/**
 * A `policy.deny` event carrying whatever `data` a ledger test needs (partial, or deliberately unserialisable): the
 * ledger must store any event it is handed, so these tests step outside the typed shapes on purpose.
 */
export function denyEvent(data: Record<string, unknown>, corrId?: string): SecurityEvent {
  return { type: 'policy.deny', corrId, data } as unknown as SecurityEvent;
}
