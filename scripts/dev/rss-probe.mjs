// Loaded with `node --import` into a process that scripts/dev/rss-breakdown.mjs measures: on SIGUSR2 it appends one
// JSON line to the file named by RSS_BREAKDOWN_OUT with V8's heap figures and where the process's anonymous memory
// lies (see that script, which reads the resident set itself); when the file `<RSS_BREAKDOWN_OUT>.collect` exists, it
// runs a full collection first and removes the file.
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import v8 from 'node:v8';

const OUT = process.env.RSS_BREAKDOWN_OUT;
/** glibc aligns the heaps of its non-main malloc arenas to HEAP_MAX_SIZE: 64 MiB on 64-bit Linux. */
const ARENA_ALIGN = 64n * 1024n * 1024n;

/**
 * Resident MB of the process's mappings, by kind. A thread arena is a read-write anonymous mapping that starts on a
 * 64 MiB boundary and runs on, as the reserved rest of its heap, into an inaccessible mapping that ends 64 MiB later.
 */
function mappings() {
  /** @type {{ start: bigint, end: bigint, perms: string, inode: string, name: string, rssKb: number }[]} */
  const areas = [];
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head !== null) {
      const [, start, end, perms, inode, name] = head;
      areas.push({ start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), perms, inode, name, rssKb: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss !== null && areas.length > 0) areas[areas.length - 1].rssKb = Number(rss[1]);
  }
  const kinds = { files: 0, mainArena: 0, threadArenas: 0, otherAnonymous: 0, otherAnonymousLarge: 0 };
  areas.forEach((area, i) => {
    const next = areas[i + 1];
    const arena =
      area.name === '' &&
      area.perms.startsWith('rw') &&
      area.start % ARENA_ALIGN === 0n &&
      (area.end - area.start === ARENA_ALIGN ||
        (next !== undefined &&
          next.start === area.end &&
          next.perms.startsWith('---') &&
          next.end === area.start + ARENA_ALIGN));
    const kind =
      area.name.startsWith('/') || area.inode !== '0'
        ? 'files'
        : area.name === '[heap]'
          ? 'mainArena'
          : arena
            ? 'threadArenas'
            : 'otherAnonymous';
    kinds[kind] += area.rssKb / 1024;
    if (kind === 'otherAnonymous' && area.rssKb >= 1024) kinds.otherAnonymousLarge += area.rssKb / 1024;
  });
  return kinds;
}

/** The built gateway's start-up compaction (apps/orchestrator/src/startup-heap.ts), loaded when first asked for. */
const STARTUP_HEAP = new URL('../../dist/orchestrator/apps/orchestrator/src/startup-heap.js', import.meta.url).href;

/** Appends one reading to OUT, after a full collection when asked for one. */
async function read() {
  if (OUT === undefined) return;
  // Asked for a reading of what is live: one full, compacting collection first (the gateway's own start-up one).
  if (existsSync(`${OUT}.collect`)) {
    rmSync(`${OUT}.collect`);
    /** @type {{ compactHeapAfterStartup: () => void }} */
    const { compactHeapAfterStartup } = await import(STARTUP_HEAP);
    compactHeapAfterStartup();
  }
  const heap = v8.getHeapStatistics();
  const mb = (bytes) => bytes / 1048576;
  appendFileSync(
    OUT,
    JSON.stringify({
      heapCommitted: mb(heap.total_physical_size),
      heapUsed: mb(heap.used_heap_size),
      external: mb(heap.external_memory),
      arrayBuffers: mb(process.memoryUsage().arrayBuffers),
      mallocedNow: mb(heap.malloced_memory),
      mallocedPeak: mb(heap.peak_malloced_memory),
      spaces: Object.fromEntries(
        v8.getHeapSpaceStatistics().map((space) => [space.space_name, mb(space.physical_space_size)]),
      ),
      mappings: mappings(),
    }) + '\n',
  );
}

process.on('SIGUSR2', () => void read());
