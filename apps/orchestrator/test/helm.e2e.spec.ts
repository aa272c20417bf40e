import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../src/config/config';
import { KUBE_SCHEMAS, validate } from './k8s-schemas';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHART = join(ROOT, 'deploy/helm/shieldx');
const ALL_FEATURES = join(CHART, 'ci/all-features-values.yaml');
/** The Kubernetes version the schema subset describes; also what `helm template` renders for. */
const KUBE_VERSION = '1.30.0';
const NAMESPACE = 'gateway';

/** A working helm, installed by scripts/helm.mjs when missing: a failed install fails the suite, never skips it. */
function helmBinary(): string {
  const found = spawnSync(process.execPath, [join(ROOT, 'scripts/helm.mjs')], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`helm is needed for the chart tests and could not be had: ${found.stderr}`);
  return found.stdout.trim();
}

type Labels = Record<string, string>;
type Doc = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; labels: Labels } };
interface HttpProbe {
  httpGet: { path: string; port: number | string; scheme?: string };
}
interface Container {
  ports: { name: string; containerPort: number }[];
  livenessProbe: HttpProbe;
  readinessProbe: HttpProbe;
  startupProbe: HttpProbe;
  securityContext: Record<string, unknown>;
  resources: { requests: Labels; limits: Labels };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  envFrom: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  env: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
}
interface Deployment {
  spec: {
    replicas?: number;
    selector: { matchLabels: Labels };
    strategy: { rollingUpdate: { maxUnavailable: number } };
    template: {
      metadata: { labels: Labels; annotations: Labels };
      spec: {
        containers: Container[];
        securityContext: Record<string, unknown>;
        automountServiceAccountToken: boolean;
        volumes: { name: string; secret?: { secretName: string } }[];
      };
    };
  };
}
interface NetworkPolicyRule {
  ports: { port: string | number; protocol: string }[];
  from?: Record<string, unknown>[];
  to?: Record<string, unknown>[];
}
interface NetworkPolicy {
  spec: {
    podSelector: { matchLabels: Labels };
    policyTypes: string[];
    ingress: NetworkPolicyRule[];
    egress?: NetworkPolicyRule[];
  };
}

class Rendered {
  constructor(readonly docs: Doc[]) {}

  /** The one object of `kind`. */
  only<T>(kind: string): T {
    const found = this.docs.filter((doc) => doc.kind === kind);
    expect(found, kind).toHaveLength(1);
    return found[0] as unknown as T;
  }

  kinds(): string[] {
    return this.docs.map((doc) => `${doc.apiVersion} ${doc.kind}`).sort();
  }
}

describe('Helm chart (deploy/helm/shieldx)', () => {
  let helm: string;

  /** Runs helm; returns its exit status and output. */
  const run = (args: string[]) => spawnSync(helm, args, { encoding: 'utf8' });

  /** `helm template` with the given extra arguments; every document parsed strictly. */
  function render(...args: string[]): Rendered {
    const result = run([
      'template',
      'shieldx',
      CHART,
      '--namespace',
      NAMESPACE,
      '--kube-version',
      KUBE_VERSION,
      ...args,
    ]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const docs: Doc[] = [];
    for (const document of parseAllDocuments(result.stdout)) {
      expect(document.errors.map((error) => error.message)).toEqual([]);
      const doc = document.toJS() as Doc | null;
      if (doc !== null) docs.push(doc);
    }
    return new Rendered(docs);
  }

  const variants: Record<string, () => Rendered> = {};
  let defaults: Rendered;
  let full: Rendered;

  beforeAll(() => {
    helm = helmBinary();
    defaults = render();
    full = render('-f', ALL_FEATURES);
    variants['default values'] = () => defaults;
    variants['every optional feature'] = () => full;
    variants['TLS off'] = () => render('--set', 'tls.enabled=false');
  }, 600_000);

  it('passes helm lint --strict with the default values and with every optional feature on', () => {
    for (const extra of [[], ['-f', ALL_FEATURES], ['--set', 'tls.enabled=false']]) {
      const result = run(['lint', CHART, '--strict', '--kube-version', KUBE_VERSION, ...extra]);
      expect(result.stdout + result.stderr, extra.join(' ')).toContain('0 chart(s) failed');
      expect(result.status, result.stdout).toBe(0);
    }
  });

  it('renders the objects each set of values asks for, and no Secret', () => {
    expect(defaults.kinds()).toEqual([
      'apps/v1 Deployment',
      'networking.k8s.io/v1 NetworkPolicy',
      'policy/v1 PodDisruptionBudget',
      'v1 ConfigMap',
      'v1 Service',
    ]);
    expect(full.kinds()).toEqual([
      'apps/v1 Deployment',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'monitoring.coreos.com/v1 ServiceMonitor',
      'networking.k8s.io/v1 NetworkPolicy',
      'policy/v1 PodDisruptionBudget',
      'v1 ConfigMap',
      'v1 Service',
    ]);
    // With the HPA on, the Deployment leaves the replica count to it (an upgrade would otherwise reset it).
    expect(defaults.only<Deployment>('Deployment').spec.replicas).toBe(3);
    expect(full.only<Deployment>('Deployment').spec.replicas).toBeUndefined();
  });

  it('renders objects valid against the Kubernetes schemas (fields, types, required, enums)', () => {
    for (const [name, rendered] of Object.entries(variants)) {
      for (const doc of rendered().docs) {
        const schema = KUBE_SCHEMAS[`${doc.apiVersion} ${doc.kind}`];
        expect(schema, `${name}: no schema for ${doc.apiVersion} ${doc.kind}`).toBeDefined();
        expect(validate(doc, schema, `${name}:${doc.kind}`)).toEqual([]);
        expect(doc.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm' });
      }
    }
  });

  it('keeps the hardening: non-root, read-only root file system, no privileges, probes on the plain-HTTP ops port', () => {
    for (const [name, rendered] of Object.entries(variants)) {
      const current = rendered();
      const deployment = current.only<Deployment>('Deployment');
      const pod = deployment.spec.template.spec;
      const data = current.only<{ data: Labels }>('ConfigMap').data;
      expect(pod.securityContext, name).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
      for (const container of pod.containers) {
        expect(container.securityContext, name).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        });
        const ports = new Map(container.ports.map((p) => [p.name, p.containerPort]));
        expect(ports.get('ops')).toBe(Number(data.ORCH_OPS_PORT));
        expect([...ports.values()]).toContain(Number(data.ORCH_PORT));
        expect(container.livenessProbe.httpGet.path).toBe('/healthz');
        expect(container.startupProbe.httpGet.path).toBe('/healthz');
        expect(container.readinessProbe.httpGet.path).toBe('/readyz');
        for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
          expect(probe.httpGet.port).toBe('ops');
          expect(probe.httpGet.scheme ?? 'HTTP').toBe('HTTP');
        }
        // Every path the process writes is a volume: the ledger directory and /tmp.
        const mounts = new Set(container.volumeMounts.map((m) => m.mountPath));
        expect(mounts.has(data.ORCH_LEDGER_PATH.replace(/\/[^/]+$/, ''))).toBe(true);
        expect(mounts.has('/tmp')).toBe(true);
      }
      const annotations = deployment.spec.template.metadata.annotations;
      expect(annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': data.ORCH_OPS_PORT });
      expect(annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('configures the orchestrator with valid settings (start-up validation), TLS files from the mounted secret', () => {
    for (const [name, rendered] of Object.entries(variants)) {
      const current = rendered();
      const pod = current.only<Deployment>('Deployment').spec.template.spec;
      const container = pod.containers[0];
      const env: Record<string, string> = { ...current.only<{ data: Labels }>('ConfigMap').data };
      env.ORCH_INSTANCE_ID = 'pod-0';
      // Values that come from Secrets at run time.
      for (const variable of container.env.filter((e) => e.valueFrom?.secretKeyRef !== undefined)) {
        env[variable.name] = 'redis://shieldx-redis:6379';
      }
      if (container.envFrom.some((source) => source.secretRef !== undefined)) env.ORCH_ADMIN_TOKEN = 'x'.repeat(24);
      const { config, warnings } = loadConfig(env);
      expect(warnings, name).toEqual([]);
      expect(config.ops.port).toBe(9090);
      expect(config.listen.port).toBe(8443);
      expect(config.listen.host).toBe('0.0.0.0');
      // The CPU request and limit follow the worker count.
      const cpu = (quantity: string) =>
        quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
      expect(cpu(container.resources.limits.cpu)).toBe(config.cluster.workers);
      expect(cpu(container.resources.requests.cpu)).toBe(config.cluster.workers * 0.25);
      if (name === 'TLS off') {
        expect(config.listen.insecure).toBe(true);
        expect(pod.volumes.map((v) => v.name)).not.toContain('tls');
        continue;
      }
      expect(config.listen.insecure).toBe(false);
      const tlsMount = container.volumeMounts.find((m) => m.name === 'tls');
      expect(tlsMount?.readOnly).toBe(true);
      expect(pod.volumes.find((v) => v.name === 'tls')?.secret?.secretName).toBe('shieldx-tls');
      for (const file of [config.tls.certFile, config.tls.keyFile, config.tls.clientCaFile]) {
        expect(file?.startsWith(`${tlsMount?.mountPath}/`), file).toBe(true);
      }
    }
    const container = full.only<Deployment>('Deployment').spec.template.spec.containers[0];
    expect(container.resources).toEqual({
      requests: { cpu: '1', memory: '256Mi' },
      limits: { cpu: '4', memory: '512Mi' },
    });
    expect(container.env.find((e) => e.name === 'REDIS_ADDR')?.valueFrom?.secretKeyRef).toEqual({
      name: 'shieldx-redis',
      key: 'url',
    });
    expect(container.envFrom).toContainEqual({ secretRef: { name: 'shieldx-orchestrator' } });
    const data = full.only<{ data: Labels }>('ConfigMap').data;
    expect(data).toMatchObject({
      ORCH_WORKERS: '4',
      ORCH_PUBLIC_URL: 'https://gw.example.com',
      ORCH_ALLOWED_CLIENT_SAN_PREFIXES: 'spiffe://cluster.local/ns/edge/sa/ingress',
      ORCH_RATELIMIT_REDIS_FAILURE: 'open',
      ORCH_REPLAY_REDIS_FAILURE: 'closed',
    });
    expect(defaults.only<{ data: Labels }>('ConfigMap').data.ORCH_PUBLIC_URL).toBe(
      `https://shieldx.${NAMESPACE}.svc.cluster.local`,
    );
    // Secrets never land in the ConfigMap.
    for (const rendered of [defaults, full]) {
      const keys = Object.keys(rendered.only<{ data: Labels }>('ConfigMap').data);
      for (const secret of ['ORCH_ADMIN_TOKEN', 'ADMISSION_SECRET', 'REDIS_ADDR', 'REDIS_URL']) {
        expect(keys).not.toContain(secret);
      }
    }
  });

  it('fits together: selectors, port names, the HPA target and the ServiceMonitor endpoint', () => {
    const deployment = full.only<Deployment>('Deployment');
    const podLabels = deployment.spec.template.metadata.labels;
    const matches = (selector: Labels) => Object.entries(selector).every(([key, value]) => podLabels[key] === value);
    const containerPorts = new Set(deployment.spec.template.spec.containers.flatMap((c) => c.ports.map((p) => p.name)));
    expect(matches(deployment.spec.selector.matchLabels)).toBe(true);
    const service = full.only<{ spec: { selector: Labels; ports: { name: string; targetPort: string }[] } }>('Service');
    expect(matches(service.spec.selector)).toBe(true);
    for (const port of service.spec.ports) expect(containerPorts.has(port.targetPort)).toBe(true);
    expect(
      matches(
        full.only<{ spec: { selector: { matchLabels: Labels } } }>('PodDisruptionBudget').spec.selector.matchLabels,
      ),
    ).toBe(true);
    const monitor = full.only<{
      spec: { selector: { matchLabels: Labels }; endpoints: { port: string; path: string }[] };
    }>('ServiceMonitor');
    expect(matches(monitor.spec.selector.matchLabels)).toBe(true);
    expect(monitor.spec.endpoints).toEqual([
      expect.objectContaining({ port: 'ops', path: '/metrics', scheme: 'http' }),
    ]);
    expect(service.spec.ports.map((p) => p.name)).toContain('ops');
    const hpa = full.only<{ spec: { scaleTargetRef: Record<string, string>; minReplicas: number } }>(
      'HorizontalPodAutoscaler',
    );
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'shieldx' });
    expect(full.only<Doc>('Deployment').metadata.name).toBe('shieldx');
    const policy = full.only<NetworkPolicy>('NetworkPolicy');
    expect(matches(policy.spec.podSelector.matchLabels)).toBe(true);
    for (const rule of policy.spec.ingress) {
      for (const port of rule.ports) expect(containerPorts.has(String(port.port)), String(port.port)).toBe(true);
    }
  });

  it('NetworkPolicy: data port from anywhere or the given peers, ops port from the monitoring namespace only', () => {
    const open = defaults.only<NetworkPolicy>('NetworkPolicy').spec;
    const monitoring = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }];
    expect(open.policyTypes).toEqual(['Ingress']);
    expect(open.ingress).toEqual([
      { ports: [{ port: 'https', protocol: 'TCP' }] },
      { ports: [{ port: 'ops', protocol: 'TCP' }], from: monitoring },
    ]);
    expect(open.egress).toBeUndefined();

    const strict = full.only<NetworkPolicy>('NetworkPolicy').spec;
    expect(strict.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(strict.ingress[0].from).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'edge' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress' } },
      },
    ]);
    expect(strict.ingress[1]).toEqual({ ports: [{ port: 'ops', protocol: 'TCP' }], from: monitoring });
    // DNS, Redis, then the configured backends; nothing else leaves the pod.
    expect(strict.egress?.map((rule) => rule.ports.map((p) => `${p.protocol}/${p.port}`).join(','))).toEqual([
      'UDP/53,TCP/53',
      'TCP/6379',
      'TCP/8080',
    ]);
    expect(strict.egress?.[1].to).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'redis' } } }]);

    const off = render('--set', 'networkPolicy.enabled=false');
    expect(off.docs.some((doc) => doc.kind === 'NetworkPolicy')).toBe(false);
  });

  it('refuses values it cannot deploy, saying which', () => {
    const refused = (args: string[]) => {
      const result = run(['template', 'shieldx', CHART, '--kube-version', KUBE_VERSION, ...args]);
      expect(result.status, args.join(' ')).not.toBe(0);
      return result.stderr;
    };
    expect(refused(['--set', 'workers=auto'])).toContain('workers must be a whole number from 1 to 64 (got auto)');
    const one = render('--set', 'workers=1').only<Deployment>('Deployment').spec.template.spec.containers[0];
    expect(one.resources).toMatchObject({ requests: { cpu: '250m' }, limits: { cpu: '1' } });
    expect(refused(['--set', 'workers=0'])).toContain('workers must be a whole number from 1 to 64');
    expect(refused(['--set', 'workers=1.5'])).toContain('workers must be a whole number from 1 to 64');
    // values.schema.json: helm checks the values before rendering.
    expect(refused(['--set', 'ports.ops=70000'])).toContain("at '/ports/ops'");
    expect(refused(['--set', 'redis.replayFailure=maybe'])).toContain("at '/redis/replayFailure'");
    expect(refused(['--set', 'tls.enabled=yes'])).toContain("at '/tls/enabled'");
    expect(refused(['--set', 'redis.enabled=true', '--set', 'redis.existingSecret='])).toContain(
      'redis.existingSecret is required',
    );
  });
});
