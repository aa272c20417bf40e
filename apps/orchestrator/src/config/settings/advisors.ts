/** Settings of the external advisors: the threat-score service and the quota service. */
import { durationAtMost, integerIn, oneOf, parseList, positiveDuration } from '../parse';
import { setting, type Section } from '../setting';
import type { ThreatFailMode } from '../types';

const THREAT = [{ title: 'Threat scores', href: 'advisors.md#threat-scores' }];
const QUOTA = [{ title: 'Quotas', href: 'advisors.md#quotas' }];
const BREAKER = [{ title: 'Time budget, breaker, fail mode', href: 'advisors.md#time-budget-breaker-fail-mode' }];

/** An advisor's URL: http(s), no fragment, no credentials. */
function parseAdvisorUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Error(`'${raw}' is not a URL (http://127.0.0.1:7000/score)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`'${raw}' must be an http(s) URL`);
  if (url.hash !== '') throw new Error(`'${raw}' must not have a fragment`);
  if (url.username !== '' || url.password !== '') throw new Error(`'${raw}' must not carry credentials`);
  return url.href;
}

/** The threat URL: as an advisor's, without a query (the gateway adds `ip` and `tenant`). */
function parseThreatUrl(raw: string): string {
  const url = parseAdvisorUrl(raw);
  if (new URL(url).search !== '') throw new Error(`'${raw}' must not have a query: the gateway adds ?ip=…&tenant=…`);
  return url;
}

/** `allow`, `deny` or `score:<0-100>`. */
export function parseThreatFailMode(raw: string): ThreatFailMode {
  const text = raw.trim().toLowerCase();
  if (text === 'allow' || text === 'deny') return { kind: text };
  const match = /^score:(\d{1,3})$/.exec(text);
  if (match !== null && Number(match[1]) <= 100) return { kind: 'score', score: Number(match[1]) };
  throw new Error(`'${raw}' must be allow, deny or score:<0-100>`);
}

/** Threat scores and quotas. */
export const ADVISORS: Section = {
  title: 'Threat scores and quotas',
  lead: 'Behaviour: [External advisors](advisors.md). Both are off until their URL is set.',
  settings: [
    setting({
      key: 'ORCH_THREAT_URL',
      at: 'threat.url',
      parse: parseThreatUrl,
      fallback: undefined,
      shownDefault: 'unset (no threat scores)',
      doc:
        'the threat-score service, asked `GET <url>?ip=<client ip>&tenant=<tenant>` for `{"score": 0-100, ' +
        '"reasons": [...]}`; the score reaches the policy as `input.threat` and `input.ip_reputation`',
      see: THREAT,
    }),
    setting({
      key: 'ORCH_THREAT_TIMEOUT',
      at: 'threat.timeoutMs',
      parse: durationAtMost('10s'),
      default: '50ms',
      doc: 'time budget of one call to the threat service (connection, answer and body)',
      see: BREAKER,
    }),
    setting({
      key: 'ORCH_THREAT_ON_ERROR',
      at: 'threat.onError',
      parse: parseThreatFailMode,
      default: 'allow',
      doc:
        'when the threat service fails, is out of budget or its breaker is open: `allow` (no score: ' +
        '`input.threat.score` 0 with reason `unavailable`), `deny` (503 `threat_unavailable`) or `score:<n>` (as if ' +
        'it answered n)',
      see: BREAKER,
    }),
    setting({
      key: 'ORCH_THREAT_CACHE_TTL',
      at: 'threat.cacheTtlMs',
      parse: positiveDuration,
      default: '60s',
      doc: "how long a client IP's score is reused; one call at a time per IP, however many requests wait for it",
      see: THREAT,
    }),
    setting({
      key: 'ORCH_THREAT_CACHE_SIZE',
      at: 'threat.cacheSize',
      parse: integerIn(1, 10_000_000),
      default: '100000',
      doc: 'most client IPs whose score is kept; the least recently used is dropped beyond it',
      see: THREAT,
    }),
    setting({
      key: 'ORCH_QUOTA_URL',
      at: 'quota.url',
      parse: parseAdvisorUrl,
      fallback: undefined,
      shownDefault: 'unset (no quota checks)',
      doc:
        'the quota service, asked `POST <url>` with `{"tenant", "scope", "cost"}` for `{"allowed": bool, ' +
        '"remaining": n}` before a request of `ORCH_QUOTA_SCOPES`, or whose policy decision carries a `cost`',
      see: QUOTA,
    }),
    setting({
      key: 'ORCH_QUOTA_SCOPES',
      at: 'quota.scopes',
      parse: parseList,
      default: '',
      shownDefault: 'none',
      doc: 'comma list of scopes whose requests cost 1 unit of quota each (`*`: every scope)',
      see: QUOTA,
    }),
    setting({
      key: 'ORCH_QUOTA_TIMEOUT',
      at: 'quota.timeoutMs',
      parse: durationAtMost('10s'),
      default: '50ms',
      doc: 'time budget of one call to the quota service',
      see: BREAKER,
    }),
    setting({
      key: 'ORCH_QUOTA_ON_ERROR',
      at: 'quota.onError',
      parse: oneOf(['allow', 'deny']),
      default: 'allow',
      doc: 'when the quota service fails: `allow` (the request goes on) or `deny` (503 `quota_unavailable`)',
      see: BREAKER,
    }),
    setting({
      key: 'ORCH_ADVISOR_BREAKER_FAILS',
      at: 'advisors.breakerFails',
      parse: integerIn(1, 1000),
      default: '5',
      doc: 'consecutive failed calls that open the breaker of an advisor (its calls then fail at once)',
      see: BREAKER,
    }),
    setting({
      key: 'ORCH_ADVISOR_BREAKER_OPEN_FOR',
      at: 'advisors.breakerOpenForMs',
      parse: durationAtMost('60s'),
      default: '5s',
      doc: 'first open period of an advisor breaker, then one trial call; doubled after each failed trial up to 60s',
      see: BREAKER,
    }),
  ],
};
