// Facts about the machine and its processes: hardware, commit, free ports, memory, and the CPU other processes use.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { ROOT } from './report.mjs';
import { sum } from './util.mjs';

/** Machine facts for a report. */
export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadavg: os.loadavg().map((v) => v.toFixed(2)),
  };
}

/**
 * The repository's commit and whether the working tree differs from it (read-only git commands). The records the
 * benchmarks write (docs/BENCHMARKS.md) do not count: a run after another one that has not been committed yet is
 * still a run of the committed code.
 */
export function gitInfo() {
  const run = (args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
  const head = run(['rev-parse', '--short', 'HEAD']);
  const status = run(['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)docs/BENCHMARKS.md']);
  return {
    commit: head.status === 0 ? head.stdout.trim() : 'unknown',
    dirty: status.status === 0 ? status.stdout.trim().length > 0 : null,
  };
}

/** A free TCP port on 127.0.0.1 (asks the kernel, then releases it). */
export function freePort() {
  return new Promise((done, fail) => {
    const server = net.createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => done(port));
    });
  });
}

function procStatusKB(pid, field) {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Resident set size of a process in MB (VmRSS), or null when it is gone. */
export const rssMB = (pid) => {
  const kb = procStatusKB(pid, 'VmRSS');
  return kb === null ? null : kb / 1024;
};

/**
 * The resident set of a process in MB split by kind, or null when it is gone: `file`, pages mapped from files (the
 * Node binary's code and data, shared libraries: what the runtime costs before any JavaScript runs, and shared with
 * other processes running the same binary), and `anon`, anonymous memory (the V8 heap, malloc, stacks).
 */
export const rssPartsMB = (pid) => {
  const file = procStatusKB(pid, 'RssFile');
  const anon = procStatusKB(pid, 'RssAnon');
  return file === null || anon === null ? null : { file: file / 1024, anon: anon / 1024 };
};

/** Peak resident set size of a process in MB (VmHWM), or null. */
export const peakRssMB = (pid) => {
  const kb = procStatusKB(pid, 'VmHWM');
  return kb === null ? null : kb / 1024;
};

// ---------------------------------------------------------------------------------------------------------------
// CPU used by other processes: the machine is shared, so every measurement says how busy the rest of it was.

const CLK_TCK = 100; // Linux USER_HZ (`getconf CLK_TCK`)

function processTicks(pid, withReapedChildren) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based, proc(5)).
    const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
    return utime + stime + (withReapedChildren ? cutime + cstime : 0);
  } catch {
    return 0;
  }
}

/**
 * CPU seconds (user + system, all threads) process `pid` has used so far, from /proc/<pid>/stat. `clockTicks`: clock
 * ticks per second (default 100, Linux USER_HZ); `unreadable`: what to return when the file cannot be read (default
 * NaN, e.g. when the process is gone).
 */
export function cpuSeconds(pid, { clockTicks = CLK_TCK, unreadable = NaN } = {}) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return unreadable;
  }
}

/** The machine's CPU ticks so far from /proc/stat: busy (user + nice + system) and idle (idle + iowait). */
function machineTicks() {
  const [user, nice, system, idle, iowait] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { busy: user + nice + system, idle: idle + iowait };
}

/**
 * Starts measuring CPU time; the returned function gives the average number of cores used since, by the whole machine
 * (user+nice+system), by this benchmark (this process, its finished children such as wrk, and the live `pids`), by
 * the live `pids` alone (`pidsCores`), and by everything else (`othersCores`, approximate: kernel network work done
 * in softirq is left out on both sides); and the machine's idle time (`idleCores`: idle + iowait; a machine whose busy
 * time is below its cores while its idle time is near zero spent the rest in interrupts, e.g. loopback networking).
 */
export function cpuMeter(pids = []) {
  const take = () => {
    const servers = sum(pids.map((pid) => processTicks(pid, false)));
    const { busy, idle } = machineTicks();
    return { at: performance.now(), busy, idle, servers, ours: processTicks(process.pid, true) + servers };
  };
  const first = take();
  return () => {
    const last = take();
    const seconds = (last.at - first.at) / 1000;
    /** @param {'busy' | 'idle' | 'servers' | 'ours'} key */
    const cores = (key) => (last[key] - first[key]) / CLK_TCK / seconds;
    const busyCores = cores('busy');
    const oursCores = cores('ours');
    return {
      busyCores,
      oursCores,
      pidsCores: cores('servers'),
      idleCores: cores('idle'),
      othersCores: Math.max(0, busyCores - oursCores),
    };
  };
}
