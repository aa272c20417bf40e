import { fetchHealth, type HealthView } from './orchestrator';

export const dynamic = 'force-dynamic';

/** Overview: the orchestrator's pools as `/health` reports them, rendered on the server. */
export default async function OverviewPage() {
  const result = await fetchHealth();
  if (!result.ok) {
    return (
      <section>
        <h1>Pools</h1>
        <p className="bad" role="alert">
          The orchestrator at {result.url} did not answer: {result.error}
        </p>
      </section>
    );
  }
  return <Pools health={result.health} />;
}

function Pools({ health }: { health: HealthView }) {
  const pools = Object.entries(health.pools);
  return (
    <section>
      <h1>Pools</h1>
      <p>
        Status <strong className={health.status === 'ok' ? 'ok' : 'bad'}>{health.status}</strong>, healthy ratio{' '}
        {(health.health_ratio * 100).toFixed(0)} %
      </p>
      {pools.length === 0 ? <p className="muted">No pools are configured.</p> : null}
      {pools.map(([name, pool]) => (
        <div key={name}>
          <h2>
            {name}{' '}
            <span className="muted">
              ({pool.algo}, {pool.healthy}/{pool.total} healthy)
            </span>
          </h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Backend</th>
                <th scope="col">Health</th>
                <th scope="col">Breaker</th>
                <th scope="col">EWMA ms</th>
                <th scope="col">In flight</th>
                <th scope="col">Weight</th>
              </tr>
            </thead>
            <tbody>
              {pool.backends.map((backend) => (
                <tr key={backend.url}>
                  <td>{backend.url}</td>
                  <td className={backend.healthy ? 'ok' : 'bad'}>{backend.healthy ? 'healthy' : 'unhealthy'}</td>
                  <td>{backend.cb_state}</td>
                  <td>{backend.ewma_ms.toFixed(2)}</td>
                  <td>{backend.inflight}</td>
                  <td>{backend.weight}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </section>
  );
}
