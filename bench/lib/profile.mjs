// CPU profiles of a server under load (the server loads cpu-profiler.mjs and is driven over its IPC channel).
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './report.mjs';
import { sleep } from './util.mjs';

export const CPU_PROFILER = fileURLToPath(new URL('./cpu-profiler.mjs', import.meta.url));

// ---------------------------------------------------------------------------------------------------------------
// CPU profiles

/**
 * Profiles `during()` with the in-process profiler loaded by `--import bench/lib/cpu-profiler.mjs` into a server
 * started with `ipc: true` and BENCH_CPU_PROFILE_FILE=`file` (see that file). Returns the parsed .cpuprofile.
 */
export async function captureProfile(handle, file, during) {
  handle.child.send({ benchProfile: 'start' });
  await sleep(100);
  await during();
  handle.child.send({ benchProfile: 'stop' });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (existsSync(file) && existsSync(`${file}.done`)) return JSON.parse(readFileSync(file, 'utf8'));
    if (!handle.alive()) throw new Error(`${handle.name} exited before writing its profile:\n${handle.stderrTail()}`);
    await sleep(100);
  }
  throw new Error(`no CPU profile written to ${file}:\n${handle.stderrTail()}`);
}

/** Shortens a profile URL: repository files relative to the repo, packages as `pkg/path`. */
function shortUrl(url) {
  if (!url) return '';
  let path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm !== -1) return path.slice(nm + '/node_modules/'.length);
  const dist = path.indexOf('/dist/orchestrator/');
  if (dist !== -1) return path.slice(dist + 1);
  if (path.startsWith(ROOT)) return relative(ROOT, path);
  return path;
}

/** Which bucket a frame belongs to: a package name, `node:internal`, the app, or a V8 pseudo-frame. */
function frameGroup(url, name) {
  if (!url) return name.startsWith('(') ? name : `(native) ${name}`;
  const short = shortUrl(url);
  if (url.startsWith('node:')) return 'node: core';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (short.startsWith('dist/orchestrator/')) {
    const [, , area, project] = short.split('/');
    return `${area}/${project}`;
  }
  return short;
}

/**
 * Self time per function (name + url:line) from a .cpuprofile, plus self time per package/area.
 * @returns {{ totalMs: number, functions: {name, where, selfMs, pct}[], groups: {group, selfMs, pct}[] }}
 */
export function summarizeProfile(profile, { top = 15 } = {}) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time between sample i-1 and sample i; attribute the interval after a sample to it.
    const dt = (i + 1 < timeDeltas.length ? timeDeltas[i + 1] : timeDeltas[i]) ?? 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const functions = new Map();
  const groups = new Map();
  let totalUs = 0;
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    const where = callFrame.url ? `${shortUrl(callFrame.url)}:${callFrame.lineNumber + 1}` : '';
    const key = `${name}\u0000${where}`;
    const entry = functions.get(key) ?? { name, where, selfUs: 0 };
    entry.selfUs += us;
    functions.set(key, entry);
    const group = frameGroup(callFrame.url, name);
    groups.set(group, (groups.get(group) ?? 0) + us);
    totalUs += us;
  }
  const pct = (us) => (totalUs ? (100 * us) / totalUs : 0);
  return {
    totalMs: totalUs / 1000,
    functions: [...functions.values()]
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, selfMs: f.selfUs / 1000, pct: pct(f.selfUs) })),
    groups: [...groups.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([group, us]) => ({ group, selfMs: us / 1000, pct: pct(us) })),
  };
}
