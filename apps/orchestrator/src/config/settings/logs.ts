/** Settings of logs and tracing. */
import { numberIn, oneOf, parseFlag, PRINTABLE_NAME, textMatching } from '../parse';
import { setting, type Section } from '../setting';
import { LOG_LEVELS, TRACE_SAMPLERS } from '../types';

/** OTEL_EXPORTER_OTLP_ENDPOINT: an http(s) base URL without query or fragment, kept without trailing slashes. */
function parseOtlpEndpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Error(`'${raw}' is not a URL (http://host:4318)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`'${raw}' must be an http(s) URL`);
  if (url.search !== '' || url.hash !== '') throw new Error(`'${raw}' must not have a query or fragment`);
  return url.href.replace(/\/+$/, '');
}

const TRACING = [{ title: 'Tracing', href: 'observability.md#tracing-opentelemetry' }];

/** Logs and tracing. */
export const LOGS: Section = {
  title: 'Logs and tracing',
  lead: 'Behaviour: [Logs](observability.md#logs), [Tracing](observability.md#tracing-opentelemetry).',
  settings: [
    setting({
      key: 'ORCH_LOG_LEVEL',
      at: 'log.level',
      parse: oneOf(LOG_LEVELS),
      default: 'info',
      doc: `${LOG_LEVELS.map((level) => `\`${level}\``).join(', ')}: \`info\` writes one access line per request, \`warn\` only problems`,
    }),
    setting({
      key: 'ORCH_LOG_FULL_IP',
      at: 'log.fullIp',
      parse: parseFlag,
      fallback: false,
      doc: '`1` logs client IPs unmasked',
    }),
    setting({
      key: 'ORCH_LOG_DATA_PLANE_CONTEXT',
      at: 'log.dataPlaneContext',
      parse: parseFlag,
      fallback: false,
      doc:
        '`1` keeps the async request context on for `/route` and `/proxy` too, so that every line a service writes ' +
        "while serving them carries the request's `corrId` (it turns on async_hooks: see `ORCH_LOG_DATA_PLANE_CONTEXT=1` in bench:route)",
    }),
    setting({
      key: 'OTEL_EXPORTER_OTLP_ENDPOINT',
      at: 'tracing.otlpEndpoint',
      parse: parseOtlpEndpoint,
      fallback: undefined,
      shownDefault: 'unset (tracing off)',
      doc: 'the OTLP/HTTP collector, e.g. `http://127.0.0.1:4318`; spans go to `<endpoint>/v1/traces`',
      see: TRACING,
    }),
    setting({
      key: 'OTEL_SERVICE_NAME',
      at: 'tracing.serviceName',
      parse: textMatching(PRINTABLE_NAME, 'must be 1-128 printable characters'),
      default: 'shieldx-orchestrator',
      doc: "the spans' `service.name` (1-128 printable characters, no spaces)",
    }),
    setting({
      key: 'OTEL_TRACES_SAMPLER',
      at: 'tracing.sampler',
      parse: oneOf(TRACE_SAMPLERS),
      default: 'parentbased_always_on',
      doc:
        `which requests are traced: ${TRACE_SAMPLERS.map((name) => `\`${name}\``).join(', ')}; a \`parentbased_\` ` +
        "sampler follows the decision in a trusted caller's `traceparent`",
      see: TRACING,
    }),
    setting({
      key: 'OTEL_TRACES_SAMPLER_ARG',
      at: 'tracing.samplerRatio',
      parse: numberIn(0, 1),
      default: '1',
      doc: 'the share of traces the `traceidratio` samplers keep, 0-1 (ignored by the others)',
      see: TRACING,
    }),
  ],
};
