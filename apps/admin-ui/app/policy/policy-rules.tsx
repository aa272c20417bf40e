import { Empty } from '../components/status';
import type { AdvancedRule, PolicyRules } from '../lib/policy-types';

/** What an advanced rule does beyond its action: pool, hold time, cost. */
function details(rule: AdvancedRule): string {
  const parts: string[] = [];
  if (rule.divertTo !== undefined) parts.push(`to ${rule.divertTo}`);
  if (rule.tarpitMs !== undefined) parts.push(`${rule.tarpitMs} ms`);
  if (rule.cost !== undefined) parts.push(`cost ${rule.cost}`);
  return parts.join(', ');
}

/** One policy's rules: base rules as a table (first match wins), then what follows them, then the Rego if carried. */
export function PolicyRulesView({ rules, testId }: { rules: PolicyRules; testId: string }) {
  const { baseRules, rego } = rules;
  const threat = baseRules.threat;
  const decidesByOpa = rules.source === 'opa';
  return (
    <div data-testid={testId}>
      {decidesByOpa ? (
        <p className="muted">
          OPA decides (entrypoint <span className="mono">{rules.entrypoint}</span>); the base rules below are loaded
          beside it but do not decide.
        </p>
      ) : null}
      {baseRules.advanced.length === 0 ? (
        <Empty>No advanced rule.</Empty>
      ) : (
        <div className="table-wrap">
          <table data-testid={`${testId}-table`}>
            <caption className="sr-only">Advanced rules, evaluated in order; the first match decides</caption>
            <thead>
              <tr>
                <th scope="col" className="num">
                  #
                </th>
                <th scope="col">Tenant</th>
                <th scope="col">Scopes</th>
                <th scope="col">Path prefix</th>
                <th scope="col">Action</th>
                <th scope="col">Details</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {baseRules.advanced.map((rule, i) => (
                <tr key={i}>
                  <td className="num">{i + 1}</td>
                  <td className="mono">{rule.tenant}</td>
                  <td className="mono">{rule.scopes.join(', ')}</td>
                  <td className="mono">{rule.pathPrefix}</td>
                  <td>
                    <strong>{rule.action}</strong>
                  </td>
                  <td>{details(rule)}</td>
                  <td>{rule.reason ?? <span className="muted">none</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <dl className="facts">
        <dt>Then</dt>
        <dd>
          {baseRules.allowAll
            ? 'allow everything else (allow_all)'
            : baseRules.allowed.length === 0
              ? 'deny everything else'
              : `allow ${baseRules.allowed.map((a) => `${a.tenant} (${a.scopes.join(', ')})`).join('; ')}, deny the rest`}
        </dd>
        <dt>Default hold</dt>
        <dd>{baseRules.tarpitMs} ms</dd>
        <dt>Threat thresholds</dt>
        <dd>
          {threat === undefined
            ? 'none'
            : [
                threat.denyAbove === undefined ? null : `deny above ${threat.denyAbove}`,
                threat.tarpitAbove === undefined ? null : `tarpit above ${threat.tarpitAbove}`,
                threat.divertAbove === undefined ? null : `divert above ${threat.divertAbove} to ${threat.divertTo}`,
              ]
                .filter((text) => text !== null)
                .join(', ')}
        </dd>
      </dl>
      {rego.map((module) => (
        <details key={module.path} className="rego">
          <summary>
            Rego: <span className="mono">{module.path}</span>
          </summary>
          <pre className="mono">{module.text}</pre>
        </details>
      ))}
    </div>
  );
}
