import { post, type RunningOrchestrator } from './harness';

/** Sends `perSecond` requests a second as `tenant` from `ip` until stopped; records every status. */
export function steady(orch: RunningOrchestrator, tenant: string, ip: string, perSecond: number) {
  const statuses: number[] = [];
  const timer = setInterval(() => {
    void post(
      `${orch.url}/route`,
      { service: 'api', tenant, scope: 'read', path: '/v1/items' },
      { 'x-forwarded-for': ip },
    ).then(
      (answer) => statuses.push(answer.status),
      () => statuses.push(0),
    );
  }, 1000 / perSecond);
  return { statuses, stop: () => clearInterval(timer) };
}

/** As many requests as `concurrency` loops can send, until stopped. */
export function flood(orch: RunningOrchestrator, tenant: string, ip: string, concurrency: number) {
  const statuses: number[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      const answer = await post(
        `${orch.url}/route`,
        { service: 'api', tenant, scope: 'read', path: '/v1/items' },
        { 'x-forwarded-for': ip },
      );
      statuses.push(answer.status);
    }
  });
  return {
    statuses,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
