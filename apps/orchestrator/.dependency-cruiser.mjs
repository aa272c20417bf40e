/**
 * The orchestrator's layers (docs/architecture.md). Folders of `src/` are listed from the bottom up; a file may import
 * from its own folder and from folders listed before its own, never from one listed after it. Within a layer the
 * order is an order too, so no two folders can import each other: the folder graph has no cycle by construction.
 * Type-only imports count. Files at the top of `src/` (main, app module, app factory) are the app and may import all.
 */
const LAYERS = [
  ['foundation', ['errors', 'clock', 'config', 'validation', 'openapi']],
  ['infrastructure', ['metrics', 'request', 'tracing', 'logging', 'events', 'redis']],
  [
    'capabilities',
    [
      'tls',
      'auth',
      'pools',
      'rollouts',
      'ratelimit',
      'policy',
      'ledger',
      'upstream',
      'resilience',
      'advisors',
      'routing',
    ],
  ],
  ['pipeline', ['pipeline']],
  ['edges', ['route', 'proxy', 'health', 'admin', 'demo', 'ops', 'cluster']],
];

const SRC = '^apps/orchestrator/src/';
const folders = LAYERS.flatMap(([layer, names]) => names.map((name) => ({ layer, name })));
const UNKNOWN_FOLDER = `${SRC}(?!(${folders.map((f) => f.name).join('|')})/)[^/]+/`;

const forbidden = [
  {
    name: 'no-cycle',
    severity: 'error',
    comment: 'Modules must not import each other in a circle.',
    from: { path: SRC },
    to: { circular: true },
  },
  {
    name: 'known-folder',
    severity: 'error',
    comment: 'Every folder of src/ has a place in LAYERS (.dependency-cruiser.mjs): add the new one there.',
    from: { path: SRC },
    to: { path: UNKNOWN_FOLDER },
  },
  {
    name: 'known-folder-importer',
    severity: 'error',
    comment: 'Every folder of src/ has a place in LAYERS (.dependency-cruiser.mjs): add the new one there.',
    from: { path: UNKNOWN_FOLDER },
    to: {},
  },
  {
    name: 'no-app-import',
    severity: 'error',
    comment: 'Only the app (main, app module, app factory) sits above the edges; nothing imports it.',
    from: { path: `${SRC}[^/]+/` },
    to: { path: `${SRC}[^/]+$` },
  },
  ...folders
    .map(({ layer, name }, index) => {
      const above = folders.slice(index + 1);
      return {
        name: `layer-${name}`,
        severity: 'error',
        comment: `${name}/ (${layer}) may import only folders listed before it in LAYERS: not ${above.map((f) => f.name).join(', ')}.`,
        from: { path: `${SRC}${name}/` },
        to: { path: `${SRC}(${above.map((f) => f.name).join('|')})/` },
      };
    })
    .filter((rule) => rule.to.path !== `${SRC}()/`),
];

export default {
  forbidden,
  options: {
    doNotFollow: { path: ['node_modules', '^libs/'] },
    exclude: { path: '\\.spec\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
