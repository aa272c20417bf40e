import type { Decision, PolicyInput } from '@shieldx/policy';
import { describe, expect, it } from 'vitest';
import { ShadowEvaluator, type ShadowEvaluatorOptions } from './shadow-evaluator';

const INPUT: PolicyInput = {
  service: 'api',
  tenant: 'acme',
  scope: 'read',
  path: '/v1/items',
  method: 'GET',
  ip: '203.0.113.7',
  identity: { uris: [], dns: [] },
  dpop: { jkt: null },
  poolHealth: 1,
  headers: {},
};
const ALLOW: Decision = { action: 'allow' };

/** An evaluator whose drains run only when the test says so, on a clock the test moves. */
function harness(over: Partial<ShadowEvaluatorOptions> = {}) {
  const queued: (() => void)[] = [];
  const clock = { now: 0 };
  const counted: string[] = [];
  let shed = 0;
  const evaluator = new ShadowEvaluator({
    capacity: 4,
    samples: 3,
    evaluate: (input) => (input.tenant.startsWith('closed') ? { action: 'deny', reason: 'closed' } : ALLOW),
    onEvaluated: (active, shadow) => counted.push(`${active}>${shadow}`),
    onShed: () => shed++,
    showIp: () => '203.0.113.0',
    schedule: (run) => queued.push(run),
    now: () => clock.now,
    ...over,
  });
  const runNext = () => queued.shift()?.();
  return { evaluator, queued, clock, counted, runNext, shedCount: () => shed };
}

describe(ShadowEvaluator.name, () => {
  it('only queues on offer; the scheduled drain evaluates, counts the matrix and keeps divergent samples', () => {
    const { evaluator, queued, counted, runNext } = harness();
    evaluator.offer(INPUT, ALLOW);
    evaluator.offer({ ...INPUT, tenant: 'closed-1' }, ALLOW);
    expect(counted).toEqual([]);
    expect(queued).toHaveLength(1);
    expect(evaluator.view().pending).toBe(2);
    runNext();
    expect(counted).toEqual(['allow>allow', 'allow>deny']);
    const view = evaluator.view();
    expect(view).toMatchObject({ evaluated: 2, divergent: 1, shed: 0, pending: 0 });
    expect(view.matrix).toEqual([
      { active: 'allow', shadow: 'allow', count: 1 },
      { active: 'allow', shadow: 'deny', count: 1 },
    ]);
    expect(view.samples).toEqual([
      {
        at: expect.any(String),
        input: { ...INPUT, tenant: 'closed-1', ip: '203.0.113.0' },
        active: { action: 'allow', reason: null },
        candidate: { action: 'deny', reason: 'closed' },
      },
    ]);
  });

  it('sheds and counts what does not fit in the queue, so memory stays bounded under load', () => {
    const { evaluator, runNext, shedCount } = harness();
    for (let i = 0; i < 10; i++) evaluator.offer(INPUT, ALLOW);
    expect(shedCount()).toBe(6);
    expect(evaluator.view()).toMatchObject({ pending: 4, shed: 6 });
    runNext();
    expect(evaluator.view()).toMatchObject({ pending: 0, evaluated: 4 });
  });

  it('yields after its time slice and continues on the next turn', () => {
    const { evaluator, queued, clock, runNext } = harness({
      sliceMs: 2,
      evaluate: () => {
        clock.now += 1;
        return ALLOW;
      },
    });
    for (let i = 0; i < 4; i++) evaluator.offer(INPUT, ALLOW);
    runNext();
    expect(evaluator.view()).toMatchObject({ evaluated: 2, pending: 2 });
    expect(queued).toHaveLength(1);
    runNext();
    expect(evaluator.view()).toMatchObject({ evaluated: 4, pending: 0 });
  });

  it('keeps the latest divergent samples only, newest first', () => {
    const { evaluator, runNext } = harness();
    for (let i = 1; i <= 4; i++) evaluator.offer({ ...INPUT, tenant: `closed-${i}` }, ALLOW);
    runNext();
    expect(evaluator.view().samples.map((s) => s.input.tenant)).toEqual(['closed-4', 'closed-3', 'closed-2']);
  });

  it('drops the queue when the candidate is gone, and starts afresh on reset', () => {
    let present = true;
    const { evaluator, runNext } = harness({ evaluate: () => (present ? { action: 'deny' } : undefined) });
    evaluator.offer(INPUT, ALLOW);
    runNext();
    present = false;
    evaluator.offer(INPUT, ALLOW);
    evaluator.offer(INPUT, ALLOW);
    runNext();
    expect(evaluator.view()).toMatchObject({ evaluated: 1, pending: 0 });
    evaluator.reset();
    expect(evaluator.view()).toMatchObject({ evaluated: 0, divergent: 0, matrix: [], samples: [] });
  });
});
