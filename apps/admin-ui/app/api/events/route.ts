import { adminFetch, orchestratorUrl } from '../../lib/admin-client';
import { currentSession } from '../../lib/auth/current-user';
import { personKey, signedOutPeople } from '../../lib/auth/revocation';
import type { SessionUser } from '../../lib/auth/session';
import { authSettings } from '../../lib/auth/settings';
import { eventStreams, MAX_STREAMS_PER_PERSON, type StreamTicket } from '../../lib/event-streams';

export const dynamic = 'force-dynamic';

const signedOut = (): Response =>
  Response.json({ error: 'signed_out', message: 'sign in to use the admin UI' }, { status: 401 });

/**
 * Relays the upstream stream until it ends, the browser goes away or `signal` (the stream's ticket, which also aborts
 * the upstream request) is aborted at sign-out or at the session's absolute timeout; calls `release` when it ends.
 */
function relay(body: ReadableStream<Uint8Array>, signal: AbortSignal | undefined, release: () => void) {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          release();
          controller.close();
          return;
        }
        controller.enqueue(value);
      } catch (error) {
        release();
        // Ended here (signed out): a clean end of the stream, after which the browser's reconnect meets sign-in.
        if (signal?.aborted === true) controller.close();
        else controller.error(error);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
}

/**
 * Relays the orchestrator's admin event stream (`GET /admin/events`) to the browser as server-sent events, with the
 * credentials added on the server. When the browser goes away the upstream stream is closed too; when the
 * orchestrator goes away the browser's EventSource reconnects (the stream's `retry` says after 2 s).
 *
 * With sign-in, one person holds at most {@link MAX_STREAMS_PER_PERSON} streams at once (429 `too_many_streams`
 * beyond; the person is their identity provider and subject, {@link personKey}), so nobody can take all of the
 * orchestrator's; a stream ends when its person signs out (every stream of theirs, whichever session opened it) or its
 * session reaches its absolute timeout.
 */
export async function GET(request: Request): Promise<Response> {
  const settings = authSettings();
  let user: SessionUser | undefined;
  let ticket: StreamTicket | undefined;
  if (settings.mode === 'oidc') {
    const session = await currentSession();
    if (session === undefined) return signedOut();
    user = session.user;
    const person = personKey(user);
    ticket = eventStreams().acquire(person, session.created, session.created + settings.maxMs - Date.now());
    // The person may have signed out after their session was opened above and before this place was taken: the
    // sign-out ended their streams then, so this one would have stayed open. Taking the place and looking again in one
    // step leaves no such gap.
    if (signedOutPeople().refuses(person, session.created, Date.now())) {
      ticket?.release();
      return signedOut();
    }
    if (ticket === undefined) {
      return Response.json(
        {
          error: 'too_many_streams',
          message: `at most ${MAX_STREAMS_PER_PERSON} live event streams per person may be open at once (one per tab of the admin UI): close another tab`,
        },
        { status: 429, headers: { 'retry-after': '30', 'cache-control': 'no-store' } },
      );
    }
  }
  const release = (): void => ticket?.release();
  if (request.signal.aborted) release();
  else request.signal.addEventListener('abort', release, { once: true });
  let upstream: Response;
  try {
    upstream = await adminFetch('/admin/events', {
      headers: { accept: 'text/event-stream' },
      signal: ticket === undefined ? request.signal : AbortSignal.any([request.signal, ticket.signal]),
      timeoutMs: 0,
      ...(user === undefined ? {} : { user }),
    });
  } catch (error) {
    release();
    // Ended here while connecting (signed out, or the session's absolute timeout).
    if (ticket?.signal.aborted === true && !request.signal.aborted) return signedOut();
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
    release();
    return new Response(await upstream.text(), {
      status: upstream.status,
      headers: { 'content-type': upstream.headers.get('content-type') ?? 'application/json' },
    });
  }
  return new Response(relay(upstream.body, ticket?.signal, release), {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    },
  });
}
