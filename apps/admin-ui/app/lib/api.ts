'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import type { ErrorBody } from './types';

/** An answer of the UI's own API routes: the data, or the error body the orchestrator (or the relay) gave. */
export type ApiResult<T> = { ok: true; data: T } | { ok: false; status: number; error: ErrorBody };

/** Calls one of the UI's own routes (`/api/admin/...`), which add the admin credentials on the server. */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<ApiResult<T>> {
  try {
    const response = await fetch(path, {
      method: init.method ?? 'GET',
      headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      cache: 'no-store',
    });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (response.ok) return { ok: true, data: body as T };
    return {
      ok: false,
      status: response.status,
      error: {
        error: typeof body.error === 'string' ? body.error : `http_${response.status}`,
        message: typeof body.message === 'string' ? body.message : `HTTP ${response.status}`,
        details: body.details,
      },
    };
  } catch (error) {
    return { ok: false, status: 0, error: { error: 'network', message: (error as Error).message } };
  }
}

/** State of a resource kept fresh on the client. */
export interface Resource<T> {
  readonly data: T | undefined;
  readonly error: ErrorBody | undefined;
  readonly loading: boolean;
  /** Re-reads the resource (a plain function: safe to pass as a callback). */
  readonly refresh: () => void;
}

/**
 * Holds a JSON resource of the UI's API, starting from the server-rendered `initial` value, re-read on `refresh()`
 * (coalesced: at most one request in flight, one more queued). The last good data stays shown beside an error.
 */
export function useResource<T>(path: string, initial: T | undefined, initialError?: ErrorBody): Resource<T> {
  const [data, setData] = useState<T | undefined>(initial);
  const [error, setError] = useState<ErrorBody | undefined>(initialError);
  const [loading, setLoading] = useState(initial === undefined && initialError === undefined);
  const inFlight = useRef(false);
  const queued = useRef(false);
  const pathRef = useRef(path);
  useEffect(() => {
    pathRef.current = path;
  }, [path]);

  const refresh = useCallback(() => {
    if (inFlight.current) {
      queued.current = true;
      return;
    }
    inFlight.current = true;
    setLoading(true);
    void api<T>(pathRef.current).then((result) => {
      inFlight.current = false;
      setLoading(false);
      if (result.ok) {
        setData(result.data);
        setError(undefined);
      } else setError(result.error);
      if (queued.current) {
        queued.current = false;
        refresh();
      }
    });
  }, []);

  useEffect(() => {
    if (initial === undefined && initialError === undefined) refresh();
    // Only on mount: later reads are driven by events.
  }, []);

  return { data, error, loading, refresh };
}
