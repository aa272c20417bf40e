/**
 * Minimal JSON-schema checks of the Kubernetes objects under deploy/k8s and of those the Helm chart renders: the subset
 * of the Kubernetes 1.30 OpenAPI schemas (field names, types, required fields and enums) for the kinds and fields the
 * manifests use. Objects whose every field is listed refuse unknown ones (`additionalProperties: false`), so a misspelt
 * `livenesProbe` or a field at the wrong level fails the test instead of being silently dropped by the API server.
 * Nothing is downloaded.
 */

/** The JSON-schema keywords {@link validate} understands. */
export interface Schema {
  readonly type?: JsonType | readonly JsonType[];
  readonly required?: readonly string[];
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly additionalProperties?: boolean | Schema;
  readonly items?: Schema;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly pattern?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minProperties?: number;
  readonly maxProperties?: number;
}

type JsonType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

function typeOf(value: unknown): JsonType | 'null' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as JsonType;
}

/** Every violation of `schema` by `value`, as `<path>: <problem>` lines (empty when valid). */
export function validate(value: unknown, schema: Schema, path = '$'): string[] {
  const problems: string[] = [];
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const allowed = typeof schema.type === 'string' ? [schema.type] : schema.type;
    const ok = allowed.includes(actual as JsonType) || (actual === 'integer' && allowed.includes('number'));
    if (!ok) return [`${path}: expected ${allowed.join(' or ')}, got ${actual}`];
  }
  if (schema.const !== undefined && value !== schema.const) {
    problems.push(`${path}: must be ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`);
  }
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    problems.push(`${path}: must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`);
  }
  if (typeof value === 'string') {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
      problems.push(`${path}: '${value}' does not match ${schema.pattern}`);
    }
    if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${path}: too short`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${path}: too long`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${path}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${path}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      problems.push(`${path}: needs at least ${schema.minItems} item(s)`);
    }
    if (schema.items !== undefined) {
      const items = schema.items;
      value.forEach((item, i) => problems.push(...validate(item, items, `${path}[${i}]`)));
    }
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object);
    for (const key of schema.required ?? []) {
      if (!(key in object)) problems.push(`${path}: missing required field '${key}'`);
    }
    if (schema.minProperties !== undefined && keys.length < schema.minProperties) {
      problems.push(`${path}: needs at least ${schema.minProperties} field(s)`);
    }
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
      problems.push(`${path}: at most ${schema.maxProperties} field(s)`);
    }
    for (const key of keys) {
      const property = schema.properties?.[key];
      if (property !== undefined) problems.push(...validate(object[key], property, `${path}.${key}`));
      else if (schema.additionalProperties === false) problems.push(`${path}: unknown field '${key}'`);
      else if (typeof schema.additionalProperties === 'object') {
        problems.push(...validate(object[key], schema.additionalProperties, `${path}.${key}`));
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Building blocks (io.k8s.api.core.v1, io.k8s.apimachinery.pkg.apis.meta.v1)

const str: Schema = { type: 'string' };
const bool: Schema = { type: 'boolean' };
const int: Schema = { type: 'integer' };
const nonNegative: Schema = { type: 'integer', minimum: 0 };
const positive: Schema = { type: 'integer', minimum: 1 };
const portNumber: Schema = { type: 'integer', minimum: 1, maximum: 65535 };
const anyObject: Schema = { type: 'object' };
const strings: Schema = { type: 'array', items: str };
const stringMap: Schema = { type: 'object', additionalProperties: str };
/** IANA_SVC_NAME: a port name. */
const portName: Schema = { type: 'string', pattern: '^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 15 };
const intOrPortName: Schema = { type: ['integer', 'string'] };
/** A quantity (`500m`, `256Mi`, `2`). */
const quantity: Schema = {
  type: ['string', 'integer', 'number'],
  pattern: '^[+]?[0-9.]+([eE][-+]?[0-9]+|[mkMGTPE]i?|[KMGTPE]i)?$',
};
const dns1123Subdomain: Schema = {
  type: 'string',
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  maxLength: 253,
};
const labelValue: Schema = { type: 'string', pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$', maxLength: 63 };
const labels: Schema = { type: 'object', additionalProperties: labelValue };

const closed = (properties: Record<string, Schema>, required: readonly string[] = []): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

const objectMeta = closed(
  {
    name: dns1123Subdomain,
    generateName: str,
    namespace: dns1123Subdomain,
    labels,
    annotations: stringMap,
    finalizers: strings,
    ownerReferences: { type: 'array', items: anyObject },
  },
  ['name'],
);
const templateMeta = closed({ name: str, labels, annotations: stringMap });

const labelSelector = closed({
  matchLabels: labels,
  matchExpressions: {
    type: 'array',
    items: closed({ key: str, operator: { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }, values: strings }, [
      'key',
      'operator',
    ]),
  },
});

const keyRef = closed({ name: str, key: str, optional: bool }, ['key']);
const envVar = closed(
  {
    name: { type: 'string', minLength: 1 },
    value: str,
    valueFrom: closed({
      fieldRef: closed({ apiVersion: str, fieldPath: str }, ['fieldPath']),
      resourceFieldRef: closed({ containerName: str, resource: str, divisor: quantity }, ['resource']),
      configMapKeyRef: keyRef,
      secretKeyRef: keyRef,
    }),
  },
  ['name'],
);
const envFrom = closed({
  prefix: str,
  configMapRef: closed({ name: str, optional: bool }, ['name']),
  secretRef: closed({ name: str, optional: bool }, ['name']),
});

const httpGet = closed(
  {
    path: { type: 'string', pattern: '^/' },
    port: intOrPortName,
    host: str,
    scheme: { enum: ['HTTP', 'HTTPS'] },
    httpHeaders: { type: 'array', items: closed({ name: str, value: str }, ['name', 'value']) },
  },
  ['port'],
);
const execAction = closed({ command: { type: 'array', items: str, minItems: 1 } });
const tcpSocket = closed({ port: intOrPortName, host: str }, ['port']);
const probe = closed({
  httpGet,
  exec: execAction,
  tcpSocket,
  grpc: closed({ port: portNumber, service: str }, ['port']),
  initialDelaySeconds: nonNegative,
  periodSeconds: positive,
  timeoutSeconds: positive,
  successThreshold: positive,
  failureThreshold: positive,
  terminationGracePeriodSeconds: positive,
});
const lifecycleHandler = closed({
  exec: execAction,
  httpGet,
  tcpSocket,
  sleep: closed({ seconds: positive }, ['seconds']),
});

const seccompProfile = closed(
  { type: { enum: ['RuntimeDefault', 'Localhost', 'Unconfined'] }, localhostProfile: str },
  ['type'],
);
const capabilities = closed({ add: strings, drop: strings });
const containerSecurityContext = closed({
  allowPrivilegeEscalation: bool,
  appArmorProfile: anyObject,
  capabilities,
  privileged: bool,
  procMount: str,
  readOnlyRootFilesystem: bool,
  runAsGroup: nonNegative,
  runAsNonRoot: bool,
  runAsUser: nonNegative,
  seLinuxOptions: anyObject,
  seccompProfile,
  windowsOptions: anyObject,
});
const podSecurityContext = closed({
  appArmorProfile: anyObject,
  fsGroup: nonNegative,
  fsGroupChangePolicy: { enum: ['OnRootMismatch', 'Always'] },
  runAsGroup: nonNegative,
  runAsNonRoot: bool,
  runAsUser: nonNegative,
  seLinuxOptions: anyObject,
  seccompProfile,
  supplementalGroups: { type: 'array', items: nonNegative },
  sysctls: { type: 'array', items: anyObject },
  windowsOptions: anyObject,
});

const resources = closed({
  limits: { type: 'object', additionalProperties: quantity },
  requests: { type: 'object', additionalProperties: quantity },
  claims: { type: 'array', items: anyObject },
});

const container = closed(
  {
    name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
    image: { type: 'string', minLength: 1 },
    imagePullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] },
    command: strings,
    args: strings,
    workingDir: str,
    ports: {
      type: 'array',
      items: closed(
        {
          name: portName,
          containerPort: portNumber,
          hostPort: portNumber,
          hostIP: str,
          protocol: { enum: ['TCP', 'UDP', 'SCTP'] },
        },
        ['containerPort'],
      ),
    },
    env: { type: 'array', items: envVar },
    envFrom: { type: 'array', items: envFrom },
    resources,
    resizePolicy: { type: 'array', items: anyObject },
    restartPolicy: { enum: ['Always'] },
    volumeMounts: {
      type: 'array',
      items: closed(
        {
          name: str,
          mountPath: { type: 'string', pattern: '^/' },
          readOnly: bool,
          recursiveReadOnly: str,
          subPath: str,
          subPathExpr: str,
          mountPropagation: str,
        },
        ['name', 'mountPath'],
      ),
    },
    volumeDevices: { type: 'array', items: anyObject },
    livenessProbe: probe,
    readinessProbe: probe,
    startupProbe: probe,
    lifecycle: closed({ postStart: lifecycleHandler, preStop: lifecycleHandler }),
    terminationMessagePath: str,
    terminationMessagePolicy: { enum: ['File', 'FallbackToLogsOnError'] },
    securityContext: containerSecurityContext,
    stdin: bool,
    stdinOnce: bool,
    tty: bool,
  },
  ['name', 'image'],
);

const volume = closed(
  {
    name: str,
    secret: closed({
      secretName: str,
      items: { type: 'array', items: anyObject },
      defaultMode: { type: 'integer', minimum: 0, maximum: 0o777 },
      optional: bool,
    }),
    configMap: closed({
      name: str,
      items: { type: 'array', items: anyObject },
      defaultMode: { type: 'integer', minimum: 0, maximum: 0o777 },
      optional: bool,
    }),
    emptyDir: closed({ medium: { enum: ['', 'Memory'] }, sizeLimit: quantity }),
    persistentVolumeClaim: closed({ claimName: str, readOnly: bool }, ['claimName']),
    projected: anyObject,
    downwardAPI: anyObject,
    ephemeral: anyObject,
    csi: anyObject,
    hostPath: anyObject,
  },
  ['name'],
);

const podSpec = closed(
  {
    activeDeadlineSeconds: positive,
    affinity: anyObject,
    automountServiceAccountToken: bool,
    containers: { type: 'array', items: container, minItems: 1 },
    dnsConfig: anyObject,
    dnsPolicy: { enum: ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'] },
    enableServiceLinks: bool,
    ephemeralContainers: { type: 'array', items: anyObject },
    hostAliases: { type: 'array', items: anyObject },
    hostIPC: bool,
    hostNetwork: bool,
    hostPID: bool,
    hostUsers: bool,
    hostname: str,
    imagePullSecrets: { type: 'array', items: closed({ name: str }) },
    initContainers: { type: 'array', items: container },
    nodeName: str,
    nodeSelector: stringMap,
    os: anyObject,
    overhead: anyObject,
    preemptionPolicy: str,
    priority: int,
    priorityClassName: str,
    readinessGates: { type: 'array', items: anyObject },
    resourceClaims: { type: 'array', items: anyObject },
    restartPolicy: { enum: ['Always', 'OnFailure', 'Never'] },
    runtimeClassName: str,
    schedulerName: str,
    schedulingGates: { type: 'array', items: anyObject },
    securityContext: podSecurityContext,
    serviceAccountName: str,
    setHostnameAsFQDN: bool,
    shareProcessNamespace: bool,
    subdomain: str,
    terminationGracePeriodSeconds: nonNegative,
    tolerations: { type: 'array', items: anyObject },
    topologySpreadConstraints: {
      type: 'array',
      items: closed(
        {
          maxSkew: positive,
          topologyKey: str,
          whenUnsatisfiable: { enum: ['DoNotSchedule', 'ScheduleAnyway'] },
          labelSelector,
          matchLabelKeys: strings,
          minDomains: positive,
          nodeAffinityPolicy: { enum: ['Honor', 'Ignore'] },
          nodeTaintsPolicy: { enum: ['Honor', 'Ignore'] },
        },
        ['maxSkew', 'topologyKey', 'whenUnsatisfiable'],
      ),
    },
    volumes: { type: 'array', items: volume },
  },
  ['containers'],
);

const header = (apiVersion: string, kind: string) => ({
  apiVersion: { const: apiVersion },
  kind: { const: kind },
  metadata: objectMeta,
});

// ---------------------------------------------------------------------------------------------------------------
// Kinds

const deployment = closed(
  {
    ...header('apps/v1', 'Deployment'),
    spec: closed(
      {
        replicas: nonNegative,
        selector: labelSelector,
        template: closed({ metadata: templateMeta, spec: podSpec }, ['spec']),
        strategy: closed({
          type: { enum: ['Recreate', 'RollingUpdate'] },
          rollingUpdate: closed({ maxUnavailable: intOrPortName, maxSurge: intOrPortName }),
        }),
        minReadySeconds: nonNegative,
        revisionHistoryLimit: nonNegative,
        progressDeadlineSeconds: positive,
        paused: bool,
      },
      ['selector', 'template'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

const service = closed(
  {
    ...header('v1', 'Service'),
    spec: closed({
      type: { enum: ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] },
      selector: labels,
      ports: {
        type: 'array',
        items: closed(
          {
            name: portName,
            port: portNumber,
            targetPort: intOrPortName,
            protocol: { enum: ['TCP', 'UDP', 'SCTP'] },
            nodePort: portNumber,
            appProtocol: str,
          },
          ['port'],
        ),
      },
      clusterIP: str,
      clusterIPs: strings,
      externalName: str,
      externalTrafficPolicy: { enum: ['Cluster', 'Local'] },
      internalTrafficPolicy: { enum: ['Cluster', 'Local'] },
      ipFamilies: strings,
      ipFamilyPolicy: str,
      loadBalancerClass: str,
      loadBalancerSourceRanges: strings,
      publishNotReadyAddresses: bool,
      sessionAffinity: { enum: ['ClientIP', 'None'] },
      sessionAffinityConfig: anyObject,
      trafficDistribution: str,
    }),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

const podDisruptionBudget = closed(
  {
    ...header('policy/v1', 'PodDisruptionBudget'),
    // Exactly one of minAvailable and maxUnavailable: checked by the test (no `oneOf` here).
    spec: closed(
      {
        minAvailable: intOrPortName,
        maxUnavailable: intOrPortName,
        selector: labelSelector,
        unhealthyPodEvictionPolicy: { enum: ['IfHealthyBudget', 'AlwaysAllow'] },
      },
      ['selector'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

const configMap = closed(
  {
    ...header('v1', 'ConfigMap'),
    data: { type: 'object', additionalProperties: str },
    binaryData: stringMap,
    immutable: bool,
  },
  ['apiVersion', 'kind', 'metadata'],
);

const secret = closed(
  {
    ...header('v1', 'Secret'),
    type: str,
    data: { type: 'object', additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$' } },
    stringData: stringMap,
    immutable: bool,
  },
  ['apiVersion', 'kind', 'metadata'],
);

const serviceMonitor = closed(
  {
    ...header('monitoring.coreos.com/v1', 'ServiceMonitor'),
    spec: closed(
      {
        selector: labelSelector,
        namespaceSelector: anyObject,
        jobLabel: str,
        endpoints: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            properties: {
              port: portName,
              targetPort: intOrPortName,
              path: { type: 'string', pattern: '^/' },
              scheme: { enum: ['http', 'https'] },
              interval: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' },
              scrapeTimeout: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' },
            },
          },
        },
      },
      ['selector', 'endpoints'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

const networkPolicyPeer = closed({
  podSelector: labelSelector,
  namespaceSelector: labelSelector,
  ipBlock: closed({ cidr: str, except: strings }, ['cidr']),
});
const networkPolicyPort = closed({
  port: intOrPortName,
  endPort: portNumber,
  protocol: { enum: ['TCP', 'UDP', 'SCTP'] },
});
const networkPolicy = closed(
  {
    ...header('networking.k8s.io/v1', 'NetworkPolicy'),
    spec: closed(
      {
        podSelector: labelSelector,
        policyTypes: { type: 'array', items: { enum: ['Ingress', 'Egress'] } },
        ingress: {
          type: 'array',
          items: closed({
            from: { type: 'array', items: networkPolicyPeer },
            ports: { type: 'array', items: networkPolicyPort },
          }),
        },
        egress: {
          type: 'array',
          items: closed({
            to: { type: 'array', items: networkPolicyPeer },
            ports: { type: 'array', items: networkPolicyPort },
          }),
        },
      },
      ['podSelector'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

const metricTarget = closed(
  {
    type: { enum: ['Utilization', 'Value', 'AverageValue'] },
    averageUtilization: positive,
    averageValue: quantity,
    value: quantity,
  },
  ['type'],
);
const horizontalPodAutoscaler = closed(
  {
    ...header('autoscaling/v2', 'HorizontalPodAutoscaler'),
    spec: closed(
      {
        scaleTargetRef: closed({ apiVersion: str, kind: str, name: str }, ['kind', 'name']),
        minReplicas: positive,
        maxReplicas: positive,
        metrics: {
          type: 'array',
          items: closed(
            {
              type: { enum: ['ContainerResource', 'External', 'Object', 'Pods', 'Resource'] },
              resource: closed({ name: str, target: metricTarget }, ['name', 'target']),
              containerResource: anyObject,
              external: anyObject,
              object: anyObject,
              pods: anyObject,
            },
            ['type'],
          ),
        },
        behavior: anyObject,
      },
      ['scaleTargetRef', 'maxReplicas'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

const kustomization: Schema = {
  type: 'object',
  properties: {
    apiVersion: { const: 'kustomize.config.k8s.io/v1beta1' },
    kind: { const: 'Kustomization' },
    resources: { type: 'array', items: str, minItems: 1 },
    labels: {
      type: 'array',
      items: closed({ pairs: labels, includeSelectors: bool, includeTemplates: bool }, ['pairs']),
    },
    namespace: dns1123Subdomain,
  },
  required: ['apiVersion', 'kind', 'resources'],
};

/** Schema per `<apiVersion> <kind>`. */
export const KUBE_SCHEMAS: Readonly<Record<string, Schema>> = {
  'apps/v1 Deployment': deployment,
  'v1 Service': service,
  'policy/v1 PodDisruptionBudget': podDisruptionBudget,
  'v1 ConfigMap': configMap,
  'v1 Secret': secret,
  'monitoring.coreos.com/v1 ServiceMonitor': serviceMonitor,
  'networking.k8s.io/v1 NetworkPolicy': networkPolicy,
  'autoscaling/v2 HorizontalPodAutoscaler': horizontalPodAutoscaler,
  'kustomize.config.k8s.io/v1beta1 Kustomization': kustomization,
};
