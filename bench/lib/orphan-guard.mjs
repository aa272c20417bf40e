// Preloaded (`node --import`) into every server a benchmark starts: if the benchmark process dies without stopping
// its children (SIGKILL, crash), the child notices that its parent changed and exits, so nothing keeps running on the
// shared machine. One unref'd timer per second; no other effect on the process.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
