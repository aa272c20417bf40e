import { Empty, Time } from '../components/status';
import { POLICY_ACTIONS, type ShadowAnswer } from '../lib/policy-types';

/** Samples shown of the latest divergent requests. */
const SAMPLES_SHOWN = 20;

/** What the candidate state means, for people. */
const STATE_TEXT: Record<ShadowAnswer['candidate']['state'], string> = {
  none: 'No candidate policy is configured (ORCH_SHADOW_POLICY_PATH).',
  loaded: 'Evaluated beside the active policy on live traffic; it decides nothing until promoted.',
  promoted: 'Promoted: it is the active policy now. The slot is empty until the next reload.',
  failed: 'The candidate failed to load; fix the file and reload.',
};

/** The candidate policy: its state, the active × candidate matrix and the latest divergent requests. */
export function ShadowCard({ shadow }: { shadow: ShadowAnswer }) {
  const { candidate } = shadow;
  const count = (active: string, other: string) =>
    shadow.matrix.find((cell) => cell.active === active && cell.shadow === other)?.count ?? 0;
  return (
    <div className="card" data-testid="shadow-card">
      <h2>Candidate policy</h2>
      <p data-testid="candidate-state">{STATE_TEXT[candidate.state]}</p>
      {candidate.state === 'none' ? null : (
        <dl className="facts">
          <dt>File</dt>
          <dd className="mono">{candidate.path}</dd>
          <dt>Engine</dt>
          <dd>{candidate.source ?? <span className="muted">none loaded</span>}</dd>
          <dt>Loaded</dt>
          <dd>
            <Time iso={candidate.lastReload} />
          </dd>
          <dt>Last error</dt>
          <dd className={candidate.lastError === null ? 'muted' : 'bad'}>{candidate.lastError ?? 'none'}</dd>
          <dt>Evaluated</dt>
          <dd>
            {shadow.evaluated} requests since <Time iso={shadow.since} />, {shadow.divergent} divergent
            {shadow.shed > 0 ? `, ${shadow.shed} shed (queue full)` : ''}
          </dd>
        </dl>
      )}
      {candidate.state === 'none' ? null : (
        <div className="table-wrap">
          <table data-testid="shadow-matrix">
            <caption>Requests by active decision (rows) and candidate decision (columns)</caption>
            <thead>
              <tr>
                <th scope="col">Active \ Candidate</th>
                {POLICY_ACTIONS.map((action) => (
                  <th scope="col" className="num" key={action}>
                    {action}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {POLICY_ACTIONS.map((active) => (
                <tr key={active} data-active={active}>
                  <th scope="row">{active}</th>
                  {POLICY_ACTIONS.map((other) => {
                    const value = count(active, other);
                    const divergent = active !== other && value > 0;
                    return (
                      <td
                        key={other}
                        className={`num${divergent ? ' bad' : value === 0 ? ' muted' : ''}`}
                        data-shadow={other}
                      >
                        {value}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {candidate.state === 'none' ? null : shadow.samples.length === 0 ? (
        <Empty>No divergent request yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table data-testid="shadow-samples">
            <caption>Latest divergent requests (client addresses anonymised)</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Tenant</th>
                <th scope="col">Scope</th>
                <th scope="col">Request</th>
                <th scope="col">Client</th>
                <th scope="col">Active</th>
                <th scope="col">Candidate</th>
              </tr>
            </thead>
            <tbody>
              {shadow.samples.slice(0, SAMPLES_SHOWN).map((sample, i) => (
                <tr key={`${sample.at}-${i}`}>
                  <td>
                    <Time iso={sample.at} />
                  </td>
                  <td className="mono">{sample.input.tenant}</td>
                  <td className="mono">{sample.input.scope}</td>
                  <td className="mono">
                    {sample.input.method} {sample.input.service}
                    {sample.input.path}
                  </td>
                  <td className="mono">{sample.input.ip}</td>
                  <td title={sample.active.reason ?? undefined}>{sample.active.action}</td>
                  <td title={sample.candidate.reason ?? undefined}>{sample.candidate.action}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
