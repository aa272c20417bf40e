/** Settings of active health checks, circuit breakers and outlier detection. */
import { integerIn, numberIn, positiveDuration, textMatching } from '../parse';
import { setting, type Section } from '../setting';

const PROBES = [{ title: 'Active health checks', href: 'load-balancing.md#active-health-checks' }];
const BREAKER = [{ title: 'circuit breaker', href: 'load-balancing.md#circuit-breaker' }];

const HEALTH_EVERY = setting({
  key: 'ORCH_HEALTH_EVERY',
  at: 'health.everyMs',
  parse: positiveDuration,
  default: '5s',
  doc: 'interval of the active health probes of every backend',
  see: PROBES,
});

/** Health checks, breakers and outlier detection. */
export const HEALTH: Section = {
  title: 'Health checks, breakers and outlier detection',
  lead:
    'Behaviour: [Active health checks](load-balancing.md#active-health-checks),\n' +
    '[circuit breaker](load-balancing.md#circuit-breaker), ' +
    '[outlier detection](load-balancing.md#passive-health-outlier-detection).',
  settings: [
    HEALTH_EVERY,
    setting({
      key: 'ORCH_HEALTH_TIMEOUT',
      at: 'health.timeoutMs',
      parse: positiveDuration,
      // Unset, it follows a short interval down rather than refusing to start (ORCH_HEALTH_EVERY=1s alone).
      fallback: (ctx) => Math.min(1500, ctx.get(HEALTH_EVERY)),
      shownDefault: '`1500ms`, or `ORCH_HEALTH_EVERY` when that is shorter',
      doc: 'deadline of one probe; must not exceed `ORCH_HEALTH_EVERY`',
      see: PROBES,
    }),
    setting({
      key: 'ORCH_HEALTH_PATH',
      at: 'health.path',
      parse: textMatching(/^\/[\x21-\x7e]{0,255}$/, 'must be a path starting with /', { trim: false }),
      default: '/healthz',
      doc: 'path the probes request',
      see: PROBES,
    }),
    setting({
      key: 'ORCH_CB_FAILS',
      at: 'breaker.fails',
      parse: integerIn(1, 1000),
      default: '3',
      doc: "failures in a row that open a backend's breaker",
      see: BREAKER,
    }),
    setting({
      key: 'ORCH_CB_OPEN_FOR',
      at: 'breaker.openForMs',
      parse: positiveDuration,
      default: '15s',
      doc: 'first open period of a breaker (doubles on each failed half-open trial, capped at 5 min)',
      see: BREAKER,
    }),
    setting({
      key: 'ORCH_OUTLIER_MAX_EJECTION',
      at: 'proxy.maxEjection',
      parse: numberIn(0, 1),
      default: '0.5',
      doc: 'most of a pool that outlier detection may eject (at least one backend)',
    }),
  ],
};
