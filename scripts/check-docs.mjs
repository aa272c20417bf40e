#!/usr/bin/env node
// Checks the documentation's links: every relative link in README.md, the root pages and docs/ names a file of the
// repository (never one outside it), and every `#anchor` names a heading of its page (GitHub's slugs). Backticked
// paths under apps/ and libs/ must exist too, so a moved source file cannot leave a page pointing at nothing.
// Exits 1 with one line per problem.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pages = [
  ...readdirSync(ROOT).filter((name) => name.endsWith('.md')),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/**
 * GitHub's heading anchor: lower case, punctuation other than `-` and `_` dropped, spaces to `-`.
 * @param {string} heading
 */
function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** @type {Map<string, Set<string>>} */
const anchorCache = new Map();
/** @param {string} file absolute path of a markdown page */
function anchorsOf(file) {
  let anchors = anchorCache.get(file);
  if (anchors === undefined) {
    anchors = new Set();
    /** @type {Map<string, number>} */
    const seen = new Map();
    let fenced = false;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.startsWith('```')) fenced = !fenced;
      const match = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line);
      if (match === null) continue;
      const base = slug(match[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    anchorCache.set(file, anchors);
  }
  return anchors;
}

const problems = [];
for (const page of pages) {
  const file = join(ROOT, page);
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target)) continue;
    const [path, anchor] = target.split('#');
    const linked = path === '' ? file : resolve(dirname(file), decodeURI(path));
    const inside = relative(ROOT, linked);
    if (inside.startsWith('..')) problems.push(`${page}: ${target} points outside the repository`);
    else if (!existsSync(linked)) problems.push(`${page}: ${target} names no file`);
    else if (anchor !== undefined && linked.endsWith('.md') && !anchorsOf(linked).has(anchor)) {
      problems.push(`${page}: ${target} names no heading of ${relative(ROOT, linked)}`);
    }
  }
  for (const [, path] of text.matchAll(/`((?:apps|libs)\/[\w./-]+\.(?:ts|tsx|mjs|json))`/g)) {
    if (!existsSync(join(ROOT, path))) problems.push(`${page}: \`${path}\` does not exist`);
  }
}
for (const problem of problems) process.stderr.write(`${problem}\n`);
if (problems.length > 0) process.exit(1);
process.stdout.write(`docs: ${pages.length} pages, links and source paths resolve\n`);
