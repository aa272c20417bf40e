import { signAdmission } from '@shieldx/security';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrchestrator, type RunningOrchestrator } from '../harness';

const SECRET = 'proof-bucket-secret-0123456789';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A DPoP proof that parses but whose signature is garbage: costs a verification if nothing stops it first. */
const forged = () =>
  `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' } })}.${b64({ htm: 'GET', htu: 'http://x/', iat: Math.floor(Date.now() / 1000), jti: Math.random().toString(36) })}.${'A'.repeat(86)}`;

async function failures(orch: RunningOrchestrator, code: string): Promise<number> {
  const text = await (await fetch(`${orch.url}/metrics`)).text();
  const match = new RegExp(`orchestrator_auth_failed_total\\{scheme="[a-z]+",code="${code}"\\} (\\d+)`).exec(text);
  return match === null ? 0 : Number(match[1]);
}

describe('a per-IP bucket in front of every proof check (adversarial)', () => {
  for (const path of ['/health', '/admin/pools', '/no/such/route', '/policy']) {
    describe(path, () => {
      let orch: RunningOrchestrator;

      beforeAll(async () => {
        orch = await startOrchestrator({
          ORCH_POOL_API: 'http://127.0.0.1:9',
          ORCH_IP_BURST: '3',
          ORCH_IP_BURST_DEGRADED: '3',
        });
      });

      afterAll(async () => {
        await orch.close();
      });

      it('verifies at most a burst of forged DPoP proofs, then refuses from the bucket', async () => {
        const before = await failures(orch, 'dpop_invalid');
        const statuses: number[] = [];
        for (let i = 0; i < 8; i++)
          statuses.push((await fetch(`${orch.url}${path}`, { headers: { dpop: forged() } })).status);
        expect(statuses).toEqual([401, 401, 401, 429, 429, 429, 429, 429]);
        expect((await failures(orch, 'dpop_invalid')) - before).toBe(3);
        // Without a proof, nothing is verified and no token is taken off the data plane.
        expect((await fetch(`${orch.url}/healthz`)).status).toBe(200);
      });
    });
  }

  describe('admission headers off the data plane', () => {
    let orch: RunningOrchestrator;

    beforeAll(async () => {
      orch = await startOrchestrator({
        ORCH_POOL_API: 'http://127.0.0.1:9',
        ADMISSION_SECRET: SECRET,
        ORCH_IP_BURST: '3',
        ORCH_IP_BURST_DEGRADED: '3',
      });
    });

    afterAll(async () => {
      await orch.close();
    });

    it('takes a token before each admission check', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const header = signAdmission({ secret: 'a-wrong-secret-0123456789', method: 'GET', pathWithQuery: '/health' });
        statuses.push((await fetch(`${orch.url}/health`, { headers: { 'x-shieldx-admission': header } })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    });
  });
});
