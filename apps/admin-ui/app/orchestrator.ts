/** One backend as the orchestrator's `/health` reports it. */
export interface BackendView {
  url: string;
  healthy: boolean;
  ewma_ms: number;
  inflight: number;
  cb_state: string;
  weight: number;
  last_error: string | null;
}

/** The orchestrator's `/health` body. */
export interface HealthView {
  status: string;
  health_ratio: number;
  pools: Record<string, { algo: string; healthy: number; total: number; backends: BackendView[] }>;
}

/** Where the orchestrator is (server side only; the browser never talks to it). */
export function orchestratorUrl(): string {
  return (process.env.ORCH_ADMIN_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
}

/** Reads `/health` (which answers 503 with the same body while degraded). */
export async function fetchHealth(): Promise<
  { ok: true; health: HealthView } | { ok: false; url: string; error: string }
> {
  const url = orchestratorUrl();
  try {
    const response = await fetch(`${url}/health`, { cache: 'no-store', signal: AbortSignal.timeout(3000) });
    if (response.status !== 200 && response.status !== 503) return { ok: false, url, error: `HTTP ${response.status}` };
    return { ok: true, health: (await response.json()) as HealthView };
  } catch (error) {
    return { ok: false, url, error: error instanceof Error ? error.message : String(error) };
  }
}
