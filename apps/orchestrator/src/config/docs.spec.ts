import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { describe, expect, it } from 'vitest';
import { DOCS_COMMAND, renderConfigurationPage } from './docs';
import { SECTIONS, SETTINGS } from './settings/table';

const PAGE = new URL('../../../../docs/configuration.md', import.meta.url);
const DOCS = new URL('../../../../docs/', import.meta.url);

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

describe(renderConfigurationPage.name, () => {
  it(`is what docs/configuration.md holds (${DOCS_COMMAND} writes it)`, () => {
    const generated = renderConfigurationPage();
    // The docs:config script sets this to rewrite the page; the assertion below then holds by construction.
    if (process.env['SHIELDX_WRITE_CONFIG_DOCS'] === '1') writeFileSync(PAGE, generated);
    expect(readFileSync(PAGE, 'utf8'), `docs/configuration.md is stale: run \`${DOCS_COMMAND}\``).toBe(generated);
  });

  it('writes the page as Prettier would, so that `prettier --check` passes', async () => {
    const path = fileURLToPath(PAGE);
    const generated = renderConfigurationPage();
    const options = await resolveConfig(path);
    expect(await format(generated, { ...options, filepath: path })).toBe(generated);
  });

  it('names every setting the orchestrator reads, with its default', () => {
    const page = renderConfigurationPage();
    expect(SETTINGS.length).toBeGreaterThan(80);
    for (const row of SETTINGS) {
      expect(page, row.key).toMatch(new RegExp(`^\\| \`${row.key}\` +\\| `, 'm'));
    }
    expect(page).toMatch(/^\| `ORCH_PROXY_QUEUE_TIMEOUT` +\| `5s` +\| .*503 `upstream_busy`/m);
    expect(page).toMatch(/^\| `ORCH_EWMA_DECAY` +\| `0\.3` +\| /m);
  });

  it('escapes pipes in cells, so that a row keeps three columns', () => {
    const row = renderConfigurationPage([
      { title: 'T', lead: 'L', settings: [{ key: 'K', doc: 'a | b', default: 'x|y' }] },
    ]).split('\n');
    expect(row.at(-2)).toBe('| `K`      | `x\\|y`  | a \\| b  |');
  });

  it('links only to pages and headings that exist', () => {
    const page = renderConfigurationPage();
    const links = [...page.matchAll(/\]\(([a-z0-9-]+\.md)(?:#([^)]+))?\)/g)];
    expect(links.length).toBeGreaterThan(SECTIONS.length);
    for (const [, file = '', hash] of links) {
      const target = new URL(file, DOCS);
      expect(existsSync(target), file).toBe(true);
      if (hash === undefined) continue;
      const headings = [...readFileSync(target, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1] ?? ''));
      expect(headings, `${file}#${hash}`).toContain(hash);
    }
  });
});
