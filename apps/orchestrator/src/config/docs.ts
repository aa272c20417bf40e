/**
 * docs/configuration.md, generated from the settings table: the intro below, then one table per section. The output
 * is already in Prettier's form (padded columns), so `prettier --check` passes on the written page.
 */
import type { Section, Setting } from './setting';
import { SECTIONS } from './settings/table';

/** The command that rewrites the page; named by the test that fails while the page is stale. */
export const DOCS_COMMAND = 'npm run docs:config';

const INTRO = [
  '# Configuration',
  '',
  `<!-- Generated from apps/orchestrator/src/config/settings/ by \`${DOCS_COMMAND}\`: edit the table there, not this page. -->`,
  '',
  'Everything comes from the environment, or from a YAML/JSON file named by `ORCH_CONFIG` holding the same keys (the',
  'environment wins over the file). It is validated at boot (`apps/orchestrator/src/config/`) and on every',
  '[reload](#reloading-the-configuration); invalid values at boot',
  'stop start-up with **one** message naming every bad key, and unknown `ORCH_*` names are reported as warnings.',
  'Start-up failures an operator can fix end the same way, exit code 2 and one line naming the setting: a listener that',
  'cannot open (`cannot listen on 127.0.0.1:8080 (ORCH_HOST/ORCH_PORT): the address is already in use`, the ops port',
  'likewise), TLS files, the audit ledger. Nothing else reads `process.env`. Durations need a unit: `1500ms`, `5s`, `2m`,',
  '`1h`. Flags are `1` or `0` (also `true`/`false`, `yes`/`no`, `on`/`off`).',
  '',
  '## Reloading the configuration',
  '',
  'SIGHUP or [`POST /admin/config/reload`](admin-api.md) reads the configuration again (the `ORCH_CONFIG` file, under',
  'the environment the process started with) and validates it whole (`admin/config-reload.service.ts`). An invalid',
  'file changes nothing: the running configuration stays and the answer, **422 `config_invalid`**, lists every problem',
  'in `details.problems`. A valid one applies at once the pools of the configuration (`ORCH_POOL_*`,',
  '`ORCH_BACKENDS_JSON`: backends, weights, zones, regions, costs and per-pool algorithms; a configured pool the file',
  'no longer has is removed; a pool whose definition in the file changed is redefined from it, admin edits included;',
  'demo pools and pools created through the admin API alone are left as they are), the rate limits',
  '`ORCH_IP_BURST`, `ORCH_IP_BURST_DEGRADED`, `ORCH_TENANT_BURST` and `ORCH_TENANT_LIMITS`, and the rollouts of',
  '`ORCH_ROLLOUTS` (those not running or done already are started, see [Rollouts](rollouts.md); a pool under a live',
  'rollout is left as it is and named in `pools.held`), `ORCH_DIVERT_POOL` and `ORCH_TARPIT_MAX`, and the policy',
  'settings: `ORCH_POLICY_PATH`, `ORCH_OPA_POLICY_PATH`, `ORCH_OPA_ENTRYPOINT`, `ORCH_OPA_ENFORCE`, the decision cache',
  '(`ORCH_OPA_CACHE_TTL`, `ORCH_OPA_CACHE_MAX`), `ORCH_POLICY_ON_ERROR`, `ORCH_OPA_EVAL_BUDGET` and',
  '`ORCH_SHADOW_POLICY_PATH`. The policy they name is loaded and self-checked beside the running one before anything',
  'else is applied, then swapped in as one step (its version +1, the decision cache emptied, the files watched',
  'follow); a policy file that does not load refuses the whole reload (422, `policy: …` in `details.problems`), and',
  'the running policy keeps deciding. Every other setting that changed takes effect after a restart and is named in',
  'the answer: `{ok, applied, pools: {defined, removed, held?}, restartRequired, rollouts?}`. Each reload, valid or',
  'not, is audited (`admin.action` `config.reload`, actor `signal` for SIGHUP). With `ORCH_WORKERS`, a SIGHUP to the process started',
  'is passed to every worker (`POST /admin/config/reload` reaches the one worker that answers); with several',
  'instances, reload each one.',
  '',
  '## Settings',
  '',
  'Every setting is listed below, grouped by what it configures; each section links to the page that describes the',
  'behaviour. Limits that are not settings (header and request deadlines, connection count) are under',
  '[Server limits](http-api.md#server-limits).',
];

const HEADER = ['variable', 'default', 'meaning'] as const;

/** The whole page, ending with a newline. */
export function renderConfigurationPage(sections: readonly Section[] = SECTIONS): string {
  const parts = [INTRO.join('\n')];
  for (const section of sections) {
    parts.push(`## ${section.title}\n\n${section.lead}\n\n${renderTable(section.settings.map(cells))}`);
  }
  return `${parts.join('\n\n')}\n`;
}

/** The default column: the default as written, or what the row says instead, or `unset`. */
export function shownDefault(row: Setting): string {
  if (row.shownDefault !== undefined) return row.shownDefault;
  return row.default === undefined ? 'unset' : `\`${row.default}\``;
}

function cells(row: Setting): readonly string[] {
  const see = row.see?.map((link) => `[${link.title}](${link.href})`).join(', ');
  return [`\`${row.key}\``, shownDefault(row), see === undefined ? row.doc : `${row.doc}; see ${see}`];
}

/** A markdown table as Prettier prints it: every column padded to its widest cell, `|` in cells escaped. */
function renderTable(rows: readonly (readonly string[])[]): string {
  const table = [HEADER, ...rows].map((row) => row.map((cell) => cell.replace(/\|/g, '\\|')));
  const widths = HEADER.map((_, column) => Math.max(3, ...table.map((row) => width(row[column] ?? ''))));
  const line = (row: readonly string[]) =>
    `| ${row.map((cell, column) => cell + ' '.repeat((widths[column] ?? 0) - width(cell))).join(' | ')} |`;
  const [header, ...body] = table;
  return [line(header ?? []), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Display width as Prettier counts it for the characters the page uses: one column per code point. */
function width(text: string): number {
  return [...text].length;
}
