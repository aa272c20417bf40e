import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AdmissionVerifier, admissionMessage, signAdmission, type AdmissionResult } from './admission';
import { MemoryReplayStore, type ReplayStore } from './replay-store';

const SECRET = 'correct-horse-battery-staple';
const NEXT_SECRET = 'the-next-rotated-secret-0001';
/** 2026-01-01T00:00:00Z in ms. */
const NOW = 1_767_225_600_000;
const T = NOW / 1000;
const NONCE = 'n0nce-0123456789abcdef';

function verifier(options: { secrets?: string[]; replay?: ReplayStore; skewMs?: number } = {}): AdmissionVerifier {
  return new AdmissionVerifier({
    secrets: options.secrets ?? [SECRET],
    replay: options.replay ?? new MemoryReplayStore(),
    skewMs: options.skewMs,
  });
}

function header(overrides: { secret?: string; t?: number; n?: string; method?: string; path?: string } = {}): string {
  return signAdmission({
    secret: overrides.secret ?? SECRET,
    timestamp: overrides.t ?? T,
    nonce: overrides.n ?? NONCE,
    method: overrides.method ?? 'POST',
    pathWithQuery: overrides.path ?? '/route',
  });
}

const request = (h: string | string[] | undefined, method = 'POST', path = '/route') => ({
  header: h,
  method,
  pathWithQuery: path,
});

/** The code of a refusal (or 'ok'). */
async function code(result: AdmissionResult | Promise<AdmissionResult>): Promise<string> {
  const settled = await result;
  return settled.ok ? 'ok' : settled.code;
}

describe(signAdmission.name, () => {
  it('writes t, n and the hex HMAC-SHA256 of "<t>.<n>.<METHOD>.<path with query>"', () => {
    const value = signAdmission({
      secret: SECRET,
      timestamp: 1_700_000_000,
      nonce: NONCE,
      method: 'POST',
      pathWithQuery: '/route?x=1',
    });
    const mac = createHmac('sha256', SECRET).update(`1700000000.${NONCE}.POST./route?x=1`).digest('hex');
    expect(value).toBe(`t=1700000000,n=${NONCE},v1=${mac}`);
    expect(admissionMessage(1, 'n', 'GET', '/p?q')).toBe('1.n.GET./p?q');
  });

  it('makes a random 128-bit nonce by default and refuses nonces outside the alphabet', () => {
    const a = signAdmission({ secret: SECRET, method: 'GET', pathWithQuery: '/' });
    const b = signAdmission({ secret: SECRET, method: 'GET', pathWithQuery: '/' });
    expect(a).toMatch(/^t=\d+,n=[A-Za-z0-9_-]{22},v1=[0-9a-f]{64}$/);
    expect(a.split(',')[1]).not.toBe(b.split(',')[1]);
    expect(() => signAdmission({ secret: SECRET, method: 'GET', pathWithQuery: '/', nonce: 'short' })).toThrow(/nonce/);
  });
});

describe(AdmissionVerifier.name, () => {
  it('accepts a valid header synchronously with an in-process store', () => {
    const result = verifier().verify(request(header()), NOW);
    expect(result).toEqual({ ok: true, nonce: NONCE, timestamp: T, keyIndex: 0 });
  });

  it('accepts the fields in any order and with spaces after commas', async () => {
    const [t, n, v1] = header().split(',');
    expect(await code(verifier().verify(request(`${v1}, ${t}, ${n}`), NOW))).toBe('ok');
  });

  it('accepts any of several secrets (rotation), saying which one made the header', async () => {
    const v = verifier({ secrets: [NEXT_SECRET, SECRET] });
    const byOld = await v.verify(request(header({ secret: SECRET, n: 'old-secret-nonce-0000' })), NOW);
    expect(byOld).toMatchObject({ ok: true, keyIndex: 1 });
    const byNew = await v.verify(request(header({ secret: NEXT_SECRET, n: 'new-secret-nonce-0000' })), NOW);
    expect(byNew).toMatchObject({ ok: true, keyIndex: 0 });
    expect(await code(v.verify(request(header({ secret: SECRET, n: 'old-secret-nonce-0001' })), NOW))).toBe('ok');
    expect(await code(v.verify(request(header({ secret: NEXT_SECRET, n: 'new-secret-nonce-0001' })), NOW))).toBe('ok');
    expect(await code(v.verify(request(header({ secret: 'some-other-secret-000' })), NOW))).toBe('admission_invalid');
  });

  it('refuses a missing header', async () => {
    expect(await code(verifier().verify(request(undefined), NOW))).toBe('admission_missing');
    expect(await code(verifier().verify(request(''), NOW))).toBe('admission_missing');
  });

  it.each([
    ['sent twice', [header(), header()]],
    ['a missing field', `t=${T},n=${NONCE}`],
    ['a repeated field', `${header()},n=${NONCE}`],
    ['an unknown field', `${header()},v2=00`],
    ['a bare word', `${header()},x`],
    ['a non-numeric t', header().replace(`t=${T}`, 't=soon')],
    ['a short nonce', `t=${T},n=short,v1=${'0'.repeat(64)}`],
    ['a nonce outside the alphabet', `t=${T},n=${'a'.repeat(15)}.,v1=${'0'.repeat(64)}`],
    ['a short signature', header().slice(0, -2)],
    ['a non-hex signature', header().slice(0, -1) + 'g'],
    ['an oversized header', `${header()},${'x'.repeat(300)}`],
  ])('refuses a malformed header: %s', async (_label, value) => {
    expect(await code(verifier().verify(request(value), NOW))).toBe('admission_malformed');
  });

  it('refuses timestamps more than the skew away, either way, and accepts them at the edge', async () => {
    const v = verifier({ skewMs: 60_000 });
    expect(await code(v.verify(request(header({ t: T - 61, n: 'past-nonce-000000001' })), NOW))).toBe(
      'admission_expired',
    );
    expect(await code(v.verify(request(header({ t: T + 61, n: 'future-nonce-0000001' })), NOW))).toBe(
      'admission_expired',
    );
    expect(await code(v.verify(request(header({ t: T - 60, n: 'edge-past-nonce-0001' })), NOW))).toBe('ok');
    expect(await code(v.verify(request(header({ t: T + 60, n: 'edge-future-nonce-01' })), NOW))).toBe('ok');
  });

  it('binds the signature to the method, the path and the query', async () => {
    const value = header({ method: 'POST', path: '/route?a=1' });
    expect(await code(verifier().verify(request(value, 'GET', '/route?a=1'), NOW))).toBe('admission_invalid');
    expect(await code(verifier().verify(request(value, 'POST', '/route'), NOW))).toBe('admission_invalid');
    expect(await code(verifier().verify(request(value, 'POST', '/route?a=2'), NOW))).toBe('admission_invalid');
    expect(await code(verifier().verify(request(value, 'POST', '/other?a=1'), NOW))).toBe('admission_invalid');
    expect(await code(verifier().verify(request(value, 'POST', '/route?a=1'), NOW))).toBe('ok');
  });

  it('refuses a tampered signature, timestamp or nonce', async () => {
    const value = header();
    const mac = value.slice(-64);
    const flipped = (mac[0] === 'a' ? 'b' : 'a') + mac.slice(1);
    expect(await code(verifier().verify(request(value.slice(0, -64) + flipped), NOW))).toBe('admission_invalid');
    expect(await code(verifier().verify(request(value.replace(`t=${T}`, `t=${T - 1}`)), NOW))).toBe(
      'admission_invalid',
    );
    expect(await code(verifier().verify(request(value.replace(NONCE, `${NONCE}x`)), NOW))).toBe('admission_invalid');
  });

  it('accepts each nonce once within the window', async () => {
    const v = verifier();
    expect(await code(v.verify(request(header()), NOW))).toBe('ok');
    expect(await code(v.verify(request(header()), NOW + 1000))).toBe('admission_replayed');
    // Same nonce, another request: still a replay (the nonce is the unit).
    expect(await code(v.verify(request(header({ path: '/health', method: 'GET' }), 'GET', '/health'), NOW))).toBe(
      'admission_replayed',
    );
  });

  it('remembers a nonce for 2 × skew + 1 s, longer than its header stays acceptable', () => {
    const v = verifier({ skewMs: 60_000 });
    expect(v.replayTtlMs).toBe(121_000);
  });

  it('does not let a forged header burn the nonce of a real one', async () => {
    const v = verifier();
    const forged = `t=${T},n=${NONCE},v1=${'0'.repeat(64)}`;
    expect(await code(v.verify(request(forged), NOW))).toBe('admission_invalid');
    expect(await code(v.verify(request(header()), NOW))).toBe('ok');
  });

  it('answers through a promise when the store is asynchronous', async () => {
    const seen = new Set<string>();
    const asyncStore: ReplayStore = {
      firstSeen: (key) => {
        const first = !seen.has(key);
        seen.add(key);
        return Promise.resolve(first);
      },
    };
    const v = verifier({ replay: asyncStore });
    const first = v.verify(request(header()), NOW);
    expect(first).toBeInstanceOf(Promise);
    expect(await code(first)).toBe('ok');
    expect(await code(v.verify(request(header()), NOW))).toBe('admission_replayed');
  });

  it('answers replay_store_unavailable when the store throws or rejects', async () => {
    const throwing: ReplayStore = {
      firstSeen: () => {
        throw new Error('down');
      },
    };
    const rejecting: ReplayStore = { firstSeen: () => Promise.reject(new Error('timeout')) };
    const a = await verifier({ replay: throwing }).verify(request(header()), NOW);
    expect(a).toMatchObject({ ok: false, code: 'replay_store_unavailable', message: expect.stringContaining('down') });
    expect(await code(verifier({ replay: rejecting }).verify(request(header()), NOW))).toBe('replay_store_unavailable');
  });

  it('charges the nonce to the client and answers a refused share with its capacity code and retry time', async () => {
    const replay = new MemoryReplayStore({ maxKeys: 1000, clientShare: 0.001 });
    const v = verifier({ replay });
    const from = (h: string, client: string) => ({ ...request(h), client });
    expect(await code(v.verify(from(header(), '203.0.113.9'), NOW))).toBe('ok');
    expect(replay.heldBy('203.0.113.9')).toBe(1);
    const refused = await v.verify(from(header({ n: 'second-nonce-0123456789' }), '203.0.113.9'), NOW);
    expect(refused).toMatchObject({ ok: false, code: 'replay_quota_exceeded', retryAfterMs: 121_000 });
    expect(await code(v.verify(from(header({ n: 'second-nonce-0123456789' }), '198.51.100.7'), NOW))).toBe('ok');
  });

  it('namespaces replay keys by kind', async () => {
    const keys: string[] = [];
    const recording: ReplayStore = {
      firstSeen: (key) => {
        keys.push(key);
        return true;
      },
    };
    await verifier({ replay: recording }).verify(request(header()), NOW);
    expect(keys).toEqual([`admission:${NONCE}`]);
  });

  it('fails fast on bad options', () => {
    expect(() => new AdmissionVerifier({ secrets: [], replay: new MemoryReplayStore() })).toThrow(/secret/);
    expect(() => new AdmissionVerifier({ secrets: [SECRET], replay: new MemoryReplayStore(), skewMs: 1500 })).toThrow(
      /skewMs/,
    );
  });
});
