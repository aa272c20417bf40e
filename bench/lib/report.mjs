// Writes one benchmark's section of docs/BENCHMARKS.md. Each benchmark owns the text between
// `<!-- bench:<name>:start -->` and `<!-- bench:<name>:end -->`; everything else in the file is left as it is.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BENCHMARKS_FILE = resolve(ROOT, 'docs/BENCHMARKS.md');

const HEADER =
  '# Benchmarks — every figure here is written by a script under bench/; do not edit by hand\n\n' +
  'Run them all with `npm run bench` (or one with `npm run bench:<name>`). Each section below is replaced whole by ' +
  'the script that owns it, between its `<!-- bench:<name>:start/end -->` markers.\n';

/**
 * Replaces (or appends) the section `name` of docs/BENCHMARKS.md with `markdown`. Creates the file with a short
 * header when it does not exist. The write is atomic (temporary file + rename).
 * @param {string} name section name, e.g. `route`
 * @param {string} markdown the section's body (without the markers)
 * @param {{ file?: string }} [options]
 */
export function writeSection(name, markdown, { file = BENCHMARKS_FILE } = {}) {
  if (!/^[a-z0-9_-]+$/i.test(name)) throw new Error(`writeSection: bad section name ${JSON.stringify(name)}`);
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    text = HEADER;
  }
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from !== -1 && to > from) {
    text = text.slice(0, from) + block + text.slice(to + end.length);
  } else if (from !== -1 || to !== -1) {
    throw new Error(`writeSection: ${file} has a broken "${name}" section (one marker without the other)`);
  } else {
    text = `${text.replace(/\s*$/, '')}\n\n${block}\n`;
  }
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
  return file;
}

/**
 * A markdown table. `align` is a string of `l`/`r` per column (default: first column left, the rest right).
 * @param {string[]} headers
 * @param {(string|number)[][]} rows
 * @param {string} [align]
 */
export function markdownTable(headers, rows, align) {
  const alignment = align ?? 'l' + 'r'.repeat(headers.length - 1);
  const line = (cells) => `| ${cells.map((cell) => String(cell).replace(/\|/g, '\\|')).join(' | ')} |`;
  const rule = `|${headers.map((_, i) => (alignment[i] === 'r' ? '---:' : '---')).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** A plain-text table for the terminal. `align` as in markdownTable (default: first column left, the rest right). */
export function textTable(headers, rows, align) {
  const alignment = align ?? 'l' + 'r'.repeat(headers.length - 1);
  const all = [headers, ...rows].map((row) => row.map((cell) => String(cell)));
  const widths = headers.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  const format = (row) =>
    row.map((cell, i) => (alignment[i] === 'r' ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ');
  return [format(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(format)].join('\n');
}

/** The header of a budget table (see budgetRows()). */
export const BUDGET_HEADERS = ['budget', 'measured', 'verdict'];

/** `pass` when a budget is met, else `miss`. */
export const passOrMiss = (ok) => (ok ? 'pass' : 'miss');

/** Rows of a budget table from `[{budget, measured, result}]`. */
export function budgetRows(verdicts) {
  return verdicts.map((v) => [v.budget, v.measured, v.result]);
}

/** The markdown lines of a "### Budgets" subsection: a blank line, the heading, a blank line, the budget table. */
export function budgetsMarkdown(verdicts) {
  return ['', '### Budgets', '', markdownTable(BUDGET_HEADERS, budgetRows(verdicts), 'lll')];
}

/** Prints the problems of a run on the terminal under "Problems seen:" (after a blank line), or nothing. */
export function printProblems(problems) {
  if (problems.length) {
    console.log('');
    console.log('Problems seen:');
    for (const problem of problems) console.log(`- ${problem}`);
  }
}

/**
 * Writes the section `name` of docs/BENCHMARKS.md from the markdown lines `md`, followed by a "### Problems seen in
 * this run" list when `problems` is not empty (each on one line), and prints where it wrote, after a blank line when
 * `gap` is true (default false).
 * @param {string} name section name, e.g. `route`
 * @param {string[]} md the section's lines
 * @param {{ problems?: string[], gap?: boolean }} [options]
 */
export function writeReport(name, md, { problems = [], gap = false } = {}) {
  const lines = [...md];
  if (problems.length) {
    lines.push('', '### Problems seen in this run', '');
    for (const problem of problems) lines.push(`- ${problem.replace(/\n/g, ' ')}`);
  }
  const file = writeSection(name, lines.join('\n'));
  if (gap) console.log('');
  console.log(`wrote the "${name}" section of ${file}`);
  return file;
}

/**
 * The terminal lines of a closed-loop results table: "Closed loop: median of R round(s) of D s, N connections, tool"
 * and the table. `settings`: `{rounds, duration (s), connections, tool}`.
 */
/**
 * @param {{ rounds: number, duration: number, connections: number, tool?: string }} settings
 * @param {string[]} headers
 * @param {string[][]} rows
 */
export function closedLoopText({ rounds, duration, connections, tool }, headers, rows) {
  return [
    `Closed loop: median of ${rounds} round(s) of ${duration} s, ${connections} connections, ${tool}`,
    textTable(headers, rows),
  ].join('\n');
}

/**
 * The markdown lines of a closed-loop results table: a blank line, the heading "### Closed loop (tool, N
 * connections): medians of R round(s) of D s", a blank line, the table and a blank line. `settings` as in
 * closedLoopText().
 */
/**
 * @param {{ rounds: number, duration: number, connections: number, tool?: string }} settings
 * @param {string[]} headers
 * @param {string[][]} rows
 */
export function closedLoopMarkdown({ rounds, duration, connections, tool }, headers, rows) {
  return [
    '',
    `### Closed loop (${tool}, ${connections} connections): medians of ${rounds} round(s) of ${duration} s`,
    '',
    markdownTable(headers, rows),
    '',
  ];
}
