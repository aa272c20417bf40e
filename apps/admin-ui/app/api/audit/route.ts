import { orchestratorUrl } from '../../lib/admin-client';
import { AdminCallError, queryAudit, readFilter } from '../../lib/audit-query';

export const dynamic = 'force-dynamic';

/** `GET /api/audit?type&tenant&corrId&before`: one filtered page of the audit ledger, newest first. */
export async function GET(request: Request): Promise<Response> {
  try {
    const view = await queryAudit(readFilter(new URL(request.url).searchParams));
    return Response.json(view, { headers: { 'cache-control': 'no-store' } });
  } catch (error) {
    if (error instanceof AdminCallError) return Response.json(error.body, { status: error.status });
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return Response.json(
      {
        error: 'orchestrator_unreachable',
        message: `the orchestrator at ${orchestratorUrl()} did not answer (${cause ?? (error as Error).message})`,
      },
      { status: 502 },
    );
  }
}
