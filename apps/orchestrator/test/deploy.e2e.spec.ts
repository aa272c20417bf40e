import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../src/config/config';
import { startOpsServer, type OpsServer } from '../src/ops/ops-server';
import { startOrchestrator, type RunningOrchestrator } from './harness';
import { dockerInstructions, dockerStages } from './dockerfile';
import { KUBE_SCHEMAS, validate } from './k8s-schemas';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const K8S = join(ROOT, 'deploy/k8s');
const CLI = join(ROOT, 'packages/cli/shieldx.mjs');

type Doc = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string } };
interface Manifest {
  readonly file: string;
  readonly doc: Doc;
}

/** Every YAML document under deploy/k8s, parsed strictly (a YAML error fails the test). */
function manifests(): Manifest[] {
  const all: Manifest[] = [];
  for (const file of readdirSync(K8S)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()) {
    for (const document of parseAllDocuments(readFileSync(join(K8S, file), 'utf8'))) {
      expect(document.errors.map((error) => `${file}: ${error.message}`)).toEqual([]);
      const doc = document.toJS() as Doc | null;
      if (doc !== null) all.push({ file, doc });
    }
  }
  return all;
}

/** The one object of `kind` (typed as far as the tests read it; the schema test checks the shapes). */
function only<T>(all: Manifest[], kind: string): T {
  const found = all.filter((m) => m.doc.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0].doc as unknown as T;
}

type Labels = Record<string, string>;
interface HttpProbe {
  httpGet: { path: string; port: number | string; scheme?: string };
}
interface Container {
  ports: { name: string; containerPort: number }[];
  livenessProbe: HttpProbe;
  readinessProbe: HttpProbe;
  startupProbe: HttpProbe;
  securityContext: { privileged?: boolean } & Record<string, unknown>;
  resources: { requests?: Record<string, unknown>; limits?: Record<string, string | number> };
  volumeMounts: { name: string; mountPath: string }[];
  envFrom: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
}
interface PodSpec {
  containers: Container[];
  securityContext: { runAsUser: number } & Record<string, unknown>;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds: number;
  volumes: { name: string; secret?: { secretName: string } }[];
}
interface Deployment {
  spec: {
    replicas: number;
    selector: { matchLabels: Labels };
    strategy: { rollingUpdate: { maxUnavailable: number | string } };
    template: { metadata: { labels: Labels; annotations: Labels }; spec: PodSpec };
  };
}
interface Service {
  spec: { selector: Labels; ports: { name: string; port: number; targetPort: number | string }[] };
}
interface Pdb {
  spec: { maxUnavailable?: number; minAvailable?: number; selector: { matchLabels: Labels } };
}
interface ConfigMap {
  data: Labels;
}
interface Secret {
  metadata: { name: string };
  stringData: Labels;
}
interface ServiceMonitor {
  spec: { endpoints: { port: string; path: string }[] };
}
interface Kustomization {
  resources: string[];
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  const all = manifests();
  const deployment = only<Deployment>(all, 'Deployment');
  const pod = deployment.spec.template.spec;
  const containers = pod.containers;
  const configMap = only<ConfigMap>(all, 'ConfigMap');

  it('are valid objects of their kinds (Kubernetes schema subset: fields, types, required, enums)', () => {
    expect(all.map((m) => `${m.doc.apiVersion} ${m.doc.kind}`).sort()).toEqual([
      'apps/v1 Deployment',
      'kustomize.config.k8s.io/v1beta1 Kustomization',
      'monitoring.coreos.com/v1 ServiceMonitor',
      'policy/v1 PodDisruptionBudget',
      'v1 ConfigMap',
      'v1 Secret',
      'v1 Secret',
      'v1 Service',
    ]);
    for (const { file, doc } of all) {
      const schema = KUBE_SCHEMAS[`${doc.apiVersion} ${doc.kind}`];
      expect(schema, `${file}: no schema for ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(validate(doc, schema, `${file}:${doc.kind}`)).toEqual([]);
    }
  });

  it('the schema check catches what the API server would drop or refuse', () => {
    const broken = structuredClone(deployment) as unknown as { spec: Record<string, unknown> };
    const container = (broken.spec.template as Deployment['spec']['template']).spec.containers[0];
    Object.assign(container, { livenesProbe: container.livenessProbe });
    Object.assign(container.ports[0], { containerPort: '8443' });
    delete broken.spec.selector;
    expect(validate(broken, KUBE_SCHEMAS['apps/v1 Deployment'])).toEqual([
      "$.spec: missing required field 'selector'",
      '$.spec.template.spec.containers[0].ports[0].containerPort: expected integer, got string',
      "$.spec.template.spec.containers[0]: unknown field 'livenesProbe'",
    ]);
  });

  it('probe liveness at /healthz and readiness at /readyz on the plain-HTTP ops port the config opens', () => {
    const opsPort = Number(configMap.data.ORCH_OPS_PORT);
    for (const container of containers) {
      const ports = new Map<string, number>(container.ports.map((p) => [p.name, p.containerPort]));
      const portOf = (probe: HttpProbe) =>
        typeof probe.httpGet.port === 'string' ? ports.get(probe.httpGet.port) : probe.httpGet.port;
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container.startupProbe.httpGet.path).toBe('/healthz');
      for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
        expect(portOf(probe)).toBe(opsPort);
        expect(probe.httpGet.scheme ?? 'HTTP').toBe('HTTP');
      }
      expect(ports.get('https')).toBe(Number(configMap.data.ORCH_PORT));
    }
  });

  it('run as non-root, without privileges, on a read-only root file system, with resources set', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.automountServiceAccountToken).toBe(false);
    for (const container of containers) {
      expect(container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(container.securityContext.privileged ?? false).toBe(false);
      for (const kind of ['requests', 'limits'] as const) {
        expect(Object.keys(container.resources[kind] ?? {}).sort(), kind).toEqual(['cpu', 'memory']);
      }
      // Every path the process writes is a volume: the ledger directory and /tmp.
      const mounts = new Set(container.volumeMounts.map((m) => m.mountPath));
      expect(mounts.has(configMap.data.ORCH_LEDGER_PATH.replace(/\/[^/]+$/, ''))).toBe(true);
      expect(mounts.has('/tmp')).toBe(true);
    }
    // Long enough for ORCH_SHUTDOWN_GRACE plus the preStop pause.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(10 + 5);
  });

  it('are scraped by Prometheus on the ops port (annotations and ServiceMonitor)', () => {
    const annotations = deployment.spec.template.metadata.annotations;
    expect(annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': configMap.data.ORCH_OPS_PORT,
      'prometheus.io/path': '/metrics',
    });
    const monitor = only<ServiceMonitor>(all, 'ServiceMonitor');
    const service = only<Service>(all, 'Service');
    const servicePorts = new Map(service.spec.ports.map((p) => [p.name, p]));
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'ops', path: '/metrics' });
    expect(servicePorts.has(monitor.spec.endpoints[0].port)).toBe(true);
  });

  it('fit together: selectors, port names, referenced config maps, secrets and kustomize resources', () => {
    const podLabels = deployment.spec.template.metadata.labels;
    const matches = (selector: Record<string, string>) =>
      Object.entries(selector).every(([key, value]) => podLabels[key] === value);
    expect(matches(deployment.spec.selector.matchLabels)).toBe(true);
    const service = only<Service>(all, 'Service');
    expect(matches(service.spec.selector)).toBe(true);
    const pdb = only<Pdb>(all, 'PodDisruptionBudget');
    expect(matches(pdb.spec.selector.matchLabels)).toBe(true);
    expect(['minAvailable', 'maxUnavailable'].filter((key) => key in pdb.spec)).toHaveLength(1);
    expect(deployment.spec.replicas).toBeGreaterThan(pdb.spec.maxUnavailable ?? 0);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);

    const containerPorts = new Set<string | number>(containers.flatMap((c) => c.ports.map((p) => p.name)));
    for (const port of service.spec.ports)
      expect(containerPorts.has(port.targetPort), String(port.targetPort)).toBe(true);

    const names = (kind: string) => new Set(all.filter((m) => m.doc.kind === kind).map((m) => m.doc.metadata.name));
    for (const source of containers.flatMap((c) => c.envFrom)) {
      if (source.configMapRef !== undefined) expect(names('ConfigMap').has(source.configMapRef.name)).toBe(true);
      if (source.secretRef !== undefined) expect(names('Secret').has(source.secretRef.name)).toBe(true);
    }
    for (const volume of pod.volumes) {
      if (volume.secret !== undefined) expect(names('Secret').has(volume.secret.secretName)).toBe(true);
    }
    const volumes = new Set(pod.volumes.map((v) => v.name));
    for (const mount of containers.flatMap((c) => c.volumeMounts)) expect(volumes.has(mount.name)).toBe(true);

    const kustomization = only<Kustomization>(all, 'Kustomization');
    for (const resource of kustomization.resources) expect(existsSync(join(K8S, resource)), resource).toBe(true);
    expect(kustomization.resources).not.toContain('servicemonitor.yaml');
    // The example secrets are documentation: the real ones are created apart, never applied with placeholders.
    expect(kustomization.resources).not.toContain('secret.example.yaml');
  });

  it('configure the orchestrator with valid settings only (the same validation as start-up)', () => {
    const secrets = all.filter((m) => m.doc.kind === 'Secret').map((m) => m.doc as unknown as Secret);
    const env: Record<string, string> = { ...configMap.data, ...secrets[0].stringData, ORCH_INSTANCE_ID: 'pod-0' };
    const { config, warnings } = loadConfig(env);
    expect(warnings).toEqual([]);
    expect(config.ops.port).toBe(9090);
    expect(config.listen).toMatchObject({ host: '0.0.0.0', port: 8443, insecure: false });
    expect(config.cluster.workers).toBe(Number(containers[0].resources.limits?.cpu));
    // The TLS files are where the secret volume is mounted.
    const tlsMount = containers[0].volumeMounts.find((m) => m.name === 'tls')?.mountPath ?? '(none)';
    const tlsSecretName = pod.volumes.find((v) => v.name === 'tls')?.secret?.secretName;
    const tlsSecret = secrets.find((secret) => secret.metadata.name === tlsSecretName);
    for (const file of [config.tls.certFile, config.tls.keyFile, config.tls.clientCaFile]) {
      expect(file?.startsWith(`${tlsMount}/`), file).toBe(true);
      expect(Object.keys(tlsSecret?.stringData ?? {})).toContain(file?.slice(tlsMount.length + 1));
    }
  });
});

describe('Dockerfile', () => {
  const instructions = dockerInstructions(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const stages = dockerStages(instructions);
  const final = stages.at(-1);
  const finalOf = (op: string) => final?.instructions.filter((i) => i.op === op) ?? [];

  it('is a multi-stage build whose stages are named and whose COPY --from names a stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.name).toMatch(/^[a-z][a-z0-9-]*$/);
    const names = new Set(stages.map((s) => s.name));
    for (const copy of instructions.filter((i) => i.op === 'COPY' && i.args.includes('--from='))) {
      expect(names.has(/--from=(\S+)/.exec(copy.args)?.[1] ?? ''), copy.args).toBe(true);
    }
    expect(instructions.some((i) => i.op === 'ADD' && /https?:\/\//.test(i.args))).toBe(false);
    expect(instructions.find((i) => i.op === 'RUN' && i.args.includes('npm ci'))).toBeDefined();
  });

  it('runs as a numeric non-root user, with a HEALTHCHECK on /healthz of the ops port', () => {
    const users = finalOf('USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0].args.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    // USER comes before CMD, and nothing after it switches back to root.
    const ops = final?.instructions.map((i) => i.op) ?? [];
    expect(ops.indexOf('USER')).toBeLessThan(ops.indexOf('CMD'));
    const healthchecks = finalOf('HEALTHCHECK');
    expect(healthchecks).toHaveLength(1);
    expect(healthchecks[0].args).toMatch(/CMD \[/);
    expect(healthchecks[0].args).toContain('/healthz');
    expect(healthchecks[0].args).toContain('ORCH_OPS_PORT');
  });

  it('starts the built main in exec form, exposes the listener and the ops port it configures', () => {
    const cmd = finalOf('CMD');
    expect(cmd).toHaveLength(1);
    const argv = JSON.parse(cmd[0].args) as string[];
    expect(argv).toEqual(['node', 'dist/orchestrator/apps/orchestrator/src/main.js']);
    expect(existsSync(join(ROOT, 'apps/orchestrator/src/main.ts'))).toBe(true);
    const env = finalOf('ENV')
      .map((i) => i.args)
      .join(' ');
    const exposed = finalOf('EXPOSE').flatMap((i) => i.args.split(/\s+/));
    expect(exposed).toContain(/ORCH_PORT=(\d+)/.exec(env)?.[1]);
    expect(exposed).toContain(/ORCH_OPS_PORT=(\d+)/.exec(env)?.[1]);
    // The ledger path the image configures is the directory it hands to the non-root user.
    expect(env).toMatch(/ORCH_LEDGER_PATH=\/app\/data\//);
    // The same V8 flags and malloc settings as npm start and shieldx serve give the gateway.
    const gatewayProcess = readFileSync(join(ROOT, 'scripts/gateway-process.mjs'), 'utf8');
    const flags = /GATEWAY_NODE_OPTIONS = '([^']+)'/.exec(gatewayProcess)?.[1];
    expect(flags).toBeDefined();
    expect(env).toContain(`NODE_OPTIONS=${flags}`);
    const malloc = [...gatewayProcess.matchAll(/^ {2}(MALLOC_\w+): '([^']+)',$/gm)].map(
      ([, name, value]) => `${name}=${value}`,
    );
    expect(malloc.length).toBeGreaterThan(0);
    for (const setting of malloc) expect(env.split(/\s+/)).toContain(setting);
    expect(final?.instructions.some((i) => i.op === 'RUN' && i.args.includes('chown 1000:1000 /app/data'))).toBe(true);
  });

  it('holds the gateway only: runtime dependencies without the admin UI (Next.js, React, uPlot) and no UI build', () => {
    const byName = new Map(stages.map((stage) => [stage.name, stage]));
    const copies = final?.instructions.filter((i) => i.op === 'COPY') ?? [];
    for (const copy of copies) {
      expect(copy.args, copy.args).not.toMatch(/admin-ui|\.next/);
      expect(copy.args).toMatch(/^--from=\S+ /);
    }
    // node_modules comes from a stage that installs production dependencies and removes the UI's.
    const modules = copies.find((copy) => / \S*node_modules /.test(copy.args));
    const source = byName.get(/--from=(\S+)/.exec(modules?.args ?? '')?.[1] ?? '');
    const installs = source?.instructions.filter((i) => i.op === 'RUN').map((i) => i.args) ?? [];
    expect(installs.some((run) => run.includes('npm ci --omit=dev'))).toBe(true);
    const uninstall = installs.find((run) => run.includes('npm uninstall')) ?? '';
    for (const ui of ['next', 'react', 'react-dom', 'uplot']) expect(uninstall.split(/\s+/)).toContain(ui);
    expect(installs.some((run) => run.includes('test ! -e node_modules/next'))).toBe(true);
    // Those are indeed the UI's only: the gateway, its libraries and the CLI import none of them.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const ui of ['next', 'react', 'react-dom', 'uplot']) expect(Object.keys(pkg.dependencies)).toContain(ui);
    const pattern = "from '(next|react|react-dom|uplot)(/[^']*)?'";
    const dirs = ['apps/orchestrator/src', 'libs', 'packages', 'scripts'];
    const found = spawnSync('grep', ['-rlE', '--include=*.ts', '--include=*.mjs', pattern, ...dirs], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(found.stdout).toBe('');
    expect(found.status).toBe(1); // grep: no match
  });

  it('ignores local state, secrets and build output (.dockerignore)', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.git', 'node_modules', 'dist', 'data', '*.key', '*.pem', '.env']) {
      expect(ignored).toContain(entry);
    }
  });
});

/** Metric names a PromQL expression refers to (selectors and bare names of our families). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:orchestrator|ratls|process|nodejs)_[a-z0-9_]+)\b/g)].map((match) => match[1]);
}

/** Names a /metrics text makes queryable: each family, and a histogram's `_bucket`/`_sum`/`_count` series. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match;
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

interface Dashboard {
  title: string;
  uid: string;
  __inputs: Record<string, unknown>[];
  panels: {
    id: number;
    type: string;
    title: string;
    gridPos: { x: number; y: number; w: number; h: number };
    datasource?: unknown;
    targets?: { expr: string }[];
  }[];
}

/** The metric names docs/observability.md lists. */
const DOCUMENTED_METRICS = [
  'orchestrator_route_total',
  'orchestrator_route_denied_total',
  'orchestrator_route_error_total',
  'orchestrator_health_ok_total',
  'orchestrator_health_bad_total',
  'orchestrator_lb_pick_total',
  'orchestrator_health_probe_seconds',
  'orchestrator_cb_open_total',
  'orchestrator_cb_halfopen_total',
  'orchestrator_cb_close_total',
  'orchestrator_opa_cache_hit_total',
  'orchestrator_opa_cache_miss_total',
  'orchestrator_policy_reload_total',
  'orchestrator_policy_version',
  'orchestrator_ratelimit_denied_total',
  'orchestrator_http_request_duration_seconds',
  'ratls_cert_expiry_seconds',
];

/**
 * The Grafana dashboard against a real instance: TLS with client certificates on the main listener (certificates from
 * `shieldx certs dev`), and `/metrics` read from the plain-HTTP ops listener, as Prometheus does in the manifests.
 */
describe('Grafana dashboard (deploy/grafana/shieldx.json)', () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/shieldx.json'), 'utf8')) as Dashboard;
  const panels = dashboard.panels;
  const exprs = panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  let certs: string;
  let orch: RunningOrchestrator;
  let ops: OpsServer;
  let exposed: Set<string>;

  beforeAll(async () => {
    certs = mkdtempSync(join(tmpdir(), 'shieldx-e2e-deploy-'));
    execFileSync(process.execPath, [CLI, 'certs', 'dev', certs], { stdio: 'pipe' });
    orch = await startOrchestrator({
      ORCH_TLS_CERT_FILE: join(certs, 'server.pem'),
      ORCH_TLS_KEY_FILE: join(certs, 'server.key'),
      ORCH_TLS_CLIENT_CA_FILE: join(certs, 'ca.pem'),
      ORCH_POOL_API: 'http://127.0.0.1:9',
      ORCH_LOG_LEVEL: 'warn',
    });
    ops = await startOpsServer(orch.app, { host: '127.0.0.1', port: 0 });
    const response = await fetch(`${ops.url}/metrics`);
    expect(response.status).toBe(200);
    exposed = exposedNames(await response.text());
  });

  afterAll(async () => {
    await ops?.close();
    await orch?.close();
    if (certs !== undefined) rmSync(certs, { recursive: true, force: true });
  });

  it('is an importable dashboard: unique panel ids, a Prometheus data source input, panels on the 24-column grid', () => {
    expect(dashboard).toMatchObject({ title: 'ShieldX Orchestrator', uid: 'shieldx-orchestrator' });
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' })]);
    const ids = panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      if (panel.type === 'row') continue;
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
    // Balanced brackets in every query (a cheap syntax check).
    for (const expr of exprs) {
      for (const [open, close] of [
        ['(', ')'],
        ['{', '}'],
        ['[', ']'],
      ]) {
        expect(expr.split(open).length, expr).toBe(expr.split(close).length);
      }
    }
  });

  it('queries only metric names a running orchestrator exposes on /metrics', () => {
    const referenced = new Set(exprs.flatMap(metricNames));
    expect(referenced.size).toBeGreaterThan(20);
    expect([...referenced].filter((name) => !exposed.has(name)).sort()).toEqual([]);
  });

  it("covers every documented metric, and the cluster's", () => {
    const referenced = new Set(exprs.flatMap(metricNames).map((name) => name.replace(/_(bucket|sum|count)$/, '')));
    const expected = [
      ...DOCUMENTED_METRICS,
      'orchestrator_cluster_up',
      'orchestrator_cluster_sync_errors_total',
      'orchestrator_audit_stream_total',
    ];
    expect(expected.filter((name) => !referenced.has(name))).toEqual([]);
    for (const name of expected) expect(exposed.has(name), name).toBe(true);
  });

  it('is served by the ops listener only for probes and scrapes, while the main listener requires mTLS', async () => {
    expect((await fetch(`${ops.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${ops.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      info: { policy: { status: 'up' }, tls: { status: 'up' } },
    });
    expect((await fetch(`${ops.url}/route`)).status).toBe(404);
    // What a kubelet probe or a Prometheus scrape would get on the main listener: no client certificate, no answer.
    const main = new URL(orch.url);
    const refused = await new Promise<string>((resolve) => {
      const request = httpsRequest(
        {
          host: '127.0.0.1',
          port: main.port,
          path: '/healthz',
          ca: readFileSync(join(certs, 'ca.pem')),
          servername: 'localhost',
        },
        (response) => resolve(`HTTP ${response.statusCode}`),
      );
      request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      request.end();
    });
    expect(refused).toMatch(/CERTIFICATE_REQUIRED|ECONNRESET/);
  });
});
