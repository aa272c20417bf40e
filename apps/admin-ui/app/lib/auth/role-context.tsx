'use client';

import type { AdminRole } from '@shieldx/security';
import { createContext, useContext, type ReactNode } from 'react';

const RoleContext = createContext<readonly AdminRole[]>([]);

/**
 * Gives the page's controls what the signed-in person may do: `allowed` lists every role whose rights they have
 * (worked out on the server with the orchestrator's role table; all three in loopback-only mode).
 */
export function RoleProvider({ allowed, children }: { allowed: readonly AdminRole[]; children: ReactNode }) {
  return <RoleContext.Provider value={allowed}>{children}</RoleContext.Provider>;
}

/** Whether the signed-in person may do what needs `required`. Only hides controls: the server refuses either way. */
export function useCan(required: AdminRole): boolean {
  return useContext(RoleContext).includes(required);
}

/** Shows its children only to a person who may do what needs `role`. */
export function Can({ role, children }: { role: AdminRole; children: ReactNode }) {
  return useCan(role) ? <>{children}</> : null;
}
