import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DCLinter } from 'dclint';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../src/config/config';
import { dockerInstructions, dockerStages } from './dockerfile';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const COMPOSE = join(ROOT, 'docker-compose.yaml');

interface Service {
  build?: { context: string; dockerfile: string };
  image?: string;
  depends_on?: Record<string, { condition: string }>;
  environment: Record<string, string>;
  ports?: string[];
  networks: string[];
  network_mode?: string;
  healthcheck: { test: string[] };
  read_only: boolean;
  cap_drop: string[];
  user: string;
  privileged?: boolean;
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, unknown>;
}

/** Every problem dclint finds in a Compose file: the Compose specification's JSON schema first, then its rules. */
function lint(file: string): string[] {
  const linter = new DCLinter({ rules: {}, quiet: false, debug: false, exclude: [] });
  return linter.lintFiles([file], false).flatMap((result) => result.messages.map((m) => `${m.rule}: ${m.message}`));
}

/** `${NAME:?message}` as Compose substitutes it when NAME is set. */
function substitute(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::\?[^}]*)?\}/g, (_, name: string) => env[name] ?? '');
}

describe('docker-compose.yaml', () => {
  const compose = parse(readFileSync(COMPOSE, 'utf8')) as Compose;
  const services = compose.services;
  const scratch = mkdtempSync(join(tmpdir(), 'shieldx-e2e-compose-'));

  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('is valid against the Compose specification schema and passes dclint', () => {
    expect(lint(COMPOSE)).toEqual([]);
  });

  it('the schema check refuses what Compose would refuse', () => {
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services.redis.healthchek = broken.services.redis.healthcheck;
    const file = join(scratch, 'broken.yaml');
    writeFileSync(file, JSON.stringify(broken));
    expect(lint(file)).toEqual([expect.stringMatching(/^invalid-schema: .*additional properties/)]);
  });

  it('runs the orchestrator, Redis and the admin UI, each with a health check, the next waiting for it', () => {
    expect(Object.keys(services).sort()).toEqual(['admin-ui', 'orchestrator', 'redis']);
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck.test[0], name).toBe('CMD');
    }
    expect(services.orchestrator.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    expect(services['admin-ui'].depends_on).toEqual({ orchestrator: { condition: 'service_healthy' } });
    // Images are built from this repository: the gateway from the root Dockerfile, the UI from its own.
    expect(services.orchestrator.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(services['admin-ui'].build).toEqual({ context: '.', dockerfile: 'apps/admin-ui/Dockerfile' });
    for (const service of Object.values(services)) {
      if (service.build !== undefined) expect(existsSync(join(ROOT, service.build.dockerfile))).toBe(true);
    }
    expect(services.redis.image).toMatch(/^redis:\d+\.\d+\.\d+-alpine$/);
  });

  it('publishes ports on loopback only, on the one compose network, unprivileged and read-only', () => {
    expect(Object.keys(compose.networks)).toEqual(['shieldx']);
    for (const [name, service] of Object.entries(services)) {
      expect(service.networks, name).toEqual(['shieldx']);
      expect(service.network_mode, name).toBeUndefined();
      for (const port of service.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
      expect(service.read_only, name).toBe(true);
      expect(service.cap_drop, name).toEqual(['ALL']);
      expect(service.privileged ?? false, name).toBe(false);
      expect(Number(service.user.split(':')[0]), name).toBeGreaterThan(0);
    }
    expect(services.redis.ports).toBeUndefined();
  });

  it('configures the orchestrator with valid settings: demo backends, Redis, the ops port its health check reads', () => {
    const env = Object.fromEntries(
      Object.entries(services.orchestrator.environment).map(([key, value]) => [
        key,
        substitute(String(value), { ORCH_ADMIN_TOKEN: 'x'.repeat(24) }),
      ]),
    );
    const { config, warnings } = loadConfig(env);
    expect(warnings).toEqual([]);
    expect(env.ORCH_DEMO).toBe('1');
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080, insecure: true });
    expect(services.orchestrator.ports).toEqual([
      `127.0.0.1:8080:${config.listen.port}`,
      `127.0.0.1:9090:${config.ops.port}`,
    ]);
    expect(services.orchestrator.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${config.ops.port}/readyz`);
    expect(env.REDIS_ADDR).toBe('redis://redis:6379');
    // The token is required from the caller's environment, never written here.
    expect(services.orchestrator.environment.ORCH_ADMIN_TOKEN).toMatch(/^\$\{ORCH_ADMIN_TOKEN:\?/);
    expect(services['admin-ui'].environment).toMatchObject({
      ORCH_ADMIN_URL: `http://orchestrator:${config.listen.port}`,
      ORCH_ADMIN_TOKEN: services.orchestrator.environment.ORCH_ADMIN_TOKEN,
    });
  });
});

describe('admin UI image (apps/admin-ui/Dockerfile)', () => {
  const instructions = dockerInstructions(readFileSync(join(ROOT, 'apps/admin-ui/Dockerfile'), 'utf8'));
  const stages = dockerStages(instructions);
  const final = stages.at(-1);
  const finalOf = (op: string) => final?.instructions.filter((i) => i.op === op) ?? [];

  it("is a multi-stage build of Next.js's standalone output, whose runtime copies that output only", () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    const config = readFileSync(join(ROOT, 'apps/admin-ui/next.config.ts'), 'utf8');
    expect(config).toMatch(/output: 'standalone'/);
    const runs = stages[0].instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((run) => run.includes('npm ci'))).toBe(true);
    expect(runs.some((run) => run.includes('next build apps/admin-ui'))).toBe(true);
    // The standalone tree (traced server modules, no dev dependencies) and nothing else: no node_modules, no sources.
    expect(finalOf('COPY').map((i) => i.args)).toEqual(['--from=build /src/apps/admin-ui/.next/standalone ./']);
    expect(finalOf('RUN').some((i) => /npm (ci|install)/.test(i.args))).toBe(false);
  });

  it('runs as a numeric non-root user, listening on all interfaces inside the container, with a HEALTHCHECK', () => {
    const users = finalOf('USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0].args.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    const ops = final?.instructions.map((i) => i.op) ?? [];
    expect(ops.indexOf('USER')).toBeLessThan(ops.indexOf('CMD'));
    const env = finalOf('ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toContain('NODE_ENV=production');
    expect(env).toContain('HOSTNAME=0.0.0.0');
    expect(finalOf('EXPOSE').map((i) => i.args)).toEqual([/PORT=(\d+)/.exec(env)?.[1]]);
    const healthchecks = finalOf('HEALTHCHECK');
    expect(healthchecks).toHaveLength(1);
    expect(healthchecks[0].args).toMatch(/CMD \[/);
    expect(healthchecks[0].args).toContain('http://127.0.0.1:');
    expect(JSON.parse(finalOf('CMD')[0].args)).toEqual(['node', 'server.js']);
    expect(finalOf('WORKDIR').at(-1)?.args).toBe('/app/apps/admin-ui');
  });
});
