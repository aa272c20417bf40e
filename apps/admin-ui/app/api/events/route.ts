import { adminFetch, orchestratorUrl } from '../../lib/admin-client';

export const dynamic = 'force-dynamic';

/**
 * Relays the orchestrator's admin event stream (`GET /admin/events`) to the browser as server-sent events, with the
 * credentials added on the server. When the browser goes away the upstream stream is closed too; when the
 * orchestrator goes away the browser's EventSource reconnects (the stream's `retry` says after 2 s).
 */
export async function GET(request: Request): Promise<Response> {
  let upstream: Response;
  try {
    upstream = await adminFetch('/admin/events', {
      headers: { accept: 'text/event-stream' },
      signal: request.signal,
      timeoutMs: 0,
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return Response.json(
      {
        error: 'orchestrator_unreachable',
        message: `the orchestrator at ${orchestratorUrl()} did not answer (${cause ?? (error as Error).message})`,
      },
      { status: 502 },
    );
  }
  if (upstream.status !== 200 || upstream.body === null) {
    return new Response(await upstream.text(), {
      status: upstream.status,
      headers: { 'content-type': upstream.headers.get('content-type') ?? 'application/json' },
    });
  }
  return new Response(upstream.body, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    },
  });
}
