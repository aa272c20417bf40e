/** Settings of caller authentication: admission headers, DPoP proofs and their replay store. */
import { checkedList, integerIn, parseFailureMode, parseFlag, parseInteger, parseShare, textMatching } from '../parse';
import { setting, type Section } from '../setting';

/** The admission secrets; unset = the admission guard is off. */
export const ADMISSION_SECRET = setting({
  key: 'ADMISSION_SECRET',
  at: 'admission.secrets',
  parse: checkedList((secrets) => {
    if (secrets.some((s) => s.length < 16)) throw new Error('each secret must be at least 16 characters');
  }),
  fallback: () => [],
  shownDefault: 'unset (guard off)',
  doc:
    'comma list of HMAC secrets, each ≥ 16 characters; all are accepted (rotation: add the new one, move clients, ' +
    'remove the old)',
});

/** ORCH_PUBLIC_URL: the origin of an http(s) URL. */
function parseOrigin(raw: string): string {
  const url = new URL(raw.trim());
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`'${raw}' must be an http(s) URL`);
  return url.origin;
}

/** Caller authentication. */
export const AUTH: Section = {
  title: 'Caller authentication',
  lead: 'Behaviour: [Caller authentication](security.md), [caller identity and proofs](caller-identity.md).',
  settings: [
    ADMISSION_SECRET,
    setting({
      key: 'ORCH_ADMISSION_KEY_IDS',
      at: 'admission.keyIds',
      parse: checkedList((ids) => {
        if (ids.some((id) => !/^[A-Za-z0-9._-]{1,64}$/.test(id)))
          throw new Error('each key id must be 1-64 characters of A-Z a-z 0-9 . _ -');
        if (new Set(ids).size !== ids.length) throw new Error('key ids must differ');
      }),
      fallback: (ctx) => ctx.get(ADMISSION_SECRET).map((_secret, i) => String(i + 1)),
      shownDefault: '`1`, `2`, …',
      doc:
        'one key id per `ADMISSION_SECRET` entry, in order: the identity an admission header proves, for ' +
        '`ORCH_TENANT_FROM=admission`',
    }),
    setting({
      key: 'ADMISSION_HEADER',
      at: 'admission.header',
      parse: textMatching(/^[A-Za-z0-9-]{1,64}$/, 'is not a header name'),
      default: 'X-ShieldX-Admission',
      doc: 'name of the admission header (never forwarded to backends by `/proxy`, never logged)',
    }),
    setting({
      key: 'ORCH_ADMISSION_SKEW',
      at: 'admission.skewMs',
      parse: (raw) => parseInteger(raw, 1, 3600) * 1000,
      default: '60',
      doc: 'seconds (1–3600): largest accepted |now − t| of an admission header, and |now − iat| of a DPoP proof',
    }),
    setting({
      key: 'ORCH_DPOP_REQUIRED',
      at: 'dpop.required',
      parse: parseFlag,
      fallback: false,
      doc:
        '`1` = every guarded request needs a valid DPoP proof (and `ORCH_PUBLIC_URL` must be set); otherwise a proof ' +
        'is checked when one is sent',
    }),
    setting({
      key: 'ORCH_DPOP_NONCE',
      at: 'dpop.nonce',
      parse: parseFlag,
      fallback: false,
      doc: '`1` = proofs must carry a server nonce (`DPoP-Nonce`, RFC 9449 §9)',
    }),
    setting({
      key: 'ORCH_PUBLIC_URL',
      at: 'dpop.publicUrl',
      parse: parseOrigin,
      fallback: undefined,
      doc:
        'the origin clients address (`https://gw.example.com`): every DPoP `htu` is checked against it, never ' +
        'against `Host`. Required with `ORCH_DPOP_REQUIRED=1`; unset, proofs get 401 `dpop_public_url_unset`, ' +
        "except in insecure dev mode on loopback (the listener's own origin)",
    }),
    setting({
      key: 'ORCH_REPLAY_MAX_KEYS',
      at: 'replay.maxKeys',
      parse: integerIn(1000, 100_000_000),
      default: '1000000',
      doc: 'live admission nonces and DPoP `jti`s held in process',
    }),
    setting({
      key: 'ORCH_REPLAY_CLIENT_SHARE',
      at: 'replay.clientShare',
      parse: parseShare,
      default: '0.1',
      doc: 'the share in (0, 1] of those one client may hold (an IP; IPv6: its network of ORCH_IPV6_CLIENT_PREFIX bits, at most 64)',
    }),
    setting({
      key: 'ORCH_REPLAY_REDIS_FAILURE',
      at: 'replay.redisFailure',
      parse: parseFailureMode,
      default: 'closed',
      doc:
        'when the Redis replay check fails: `closed` = refuse the proof (401 `replay_store_unavailable`), `open` = ' +
        'check against this instance alone',
    }),
  ],
};
