'use client';

import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';

/** Event names of the admin event stream. */
export type LiveEventName = 'hello' | 'pool' | 'breaker' | 'policy' | 'audit' | 'metrics';

/** State of the connection to the event stream. */
export type LiveState = 'connecting' | 'live' | 'reconnecting';

type Listener = (data: unknown) => void;

interface LiveContext {
  readonly state: LiveState;
  subscribe(event: LiveEventName, listener: Listener): () => void;
}

const Context = createContext<LiveContext | null>(null);

const EVENTS: readonly LiveEventName[] = ['hello', 'pool', 'breaker', 'policy', 'audit', 'metrics'];
/** How long after a refused stream (not a dropped one, which the browser retries by itself) the next try waits. */
const REFUSED_RETRY_MS = 30_000;

/**
 * Holds one EventSource on the UI's own `/api/events` (which relays the orchestrator's admin stream) for every page,
 * so client-side navigation keeps the connection. The browser reconnects by itself when it drops; when the UI
 * refuses it (too many streams of this person, the orchestrator away), it is tried again after 30 s.
 */
export function LiveProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<LiveState>('connecting');
  const listeners = useRef(new Map<LiveEventName, Set<Listener>>());
  const [context] = useState<Omit<LiveContext, 'state'>>(() => ({
    subscribe(event, listener) {
      let set = listeners.current.get(event);
      if (set === undefined) listeners.current.set(event, (set = new Set()));
      set.add(listener);
      return () => set.delete(listener);
    },
  }));

  useEffect(() => {
    let source: EventSource | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const connect = (): void => {
      const current = new EventSource('/api/events');
      source = current;
      current.onopen = () => setState('live');
      current.onerror = () => {
        setState('reconnecting');
        // An answer other than a stream (429 too many streams of this person, 502, 503) closes an EventSource for
        // good: try again later, when another tab may have given its stream back.
        if (current.readyState === EventSource.CLOSED) retry = setTimeout(connect, REFUSED_RETRY_MS);
      };
      for (const name of EVENTS) {
        current.addEventListener(name, (message: MessageEvent<string>) => {
          let data: unknown;
          try {
            data = JSON.parse(message.data);
          } catch {
            return;
          }
          for (const listener of listeners.current.get(name) ?? []) listener(data);
        });
      }
    };
    connect();
    return () => {
      clearTimeout(retry);
      source?.close();
    };
  }, []);

  return <Context.Provider value={{ ...context, state }}>{children}</Context.Provider>;
}

/** Calls `listener` for each event of the given names while the component is mounted. */
export function useLiveEvent(names: readonly LiveEventName[], listener: Listener): void {
  const context = useContext(Context);
  const latest = useRef(listener);
  useEffect(() => {
    latest.current = listener;
  });
  const key = names.join(',');
  useEffect(() => {
    if (context === null) return undefined;
    const unsubscribes = key
      .split(',')
      .map((name) => context.subscribe(name as LiveEventName, (data) => latest.current(data)));
    return () => unsubscribes.forEach((unsubscribe) => unsubscribe());
  }, [context, key]);
}

/** The connection state, for the header's indicator. */
export function useLiveState(): LiveState {
  return useContext(Context)?.state ?? 'connecting';
}

/** The header's live indicator: announced politely to screen readers when it changes. */
export function LiveIndicator() {
  const state = useLiveState();
  const label = state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  return (
    <span className={`live live-${state}`} role="status" aria-live="polite" data-testid="live-state">
      <span className="dot" aria-hidden="true" />
      {label}
    </span>
  );
}
