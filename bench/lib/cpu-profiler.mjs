// Preloaded (`node --import bench/lib/cpu-profiler.mjs`) into a server under `--profile`: the first SIGUSR2 starts
// V8's sampling CPU profiler (the same one `--cpu-prof` uses), the second writes the profile as JSON to
// $BENCH_CPU_PROFILE_FILE (then touches `<file>.done`). Only the load window is profiled, not start-up.
//
// Why not `node --cpu-prof`: it writes its profile only when the process exits normally, and NestJS's shutdown hooks
// re-raise SIGTERM after closing (`process.kill(process.pid, signal)`), so a profiled orchestrator never writes one.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const file = process.env.BENCH_CPU_PROFILE_FILE;
const intervalUs = Number(process.env.BENCH_CPU_PROFILE_INTERVAL_US ?? 1000);

if (file) {
  const session = new Session();
  session.connect();
  const post = (method, params) =>
    new Promise((done, fail) => session.post(method, params, (error, result) => (error ? fail(error) : done(result))));
  let running = false;
  process.on('SIGUSR2', async () => {
    try {
      if (!running) {
        running = true;
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: intervalUs });
        await post('Profiler.start');
      } else {
        running = false;
        const { profile } = await post('Profiler.stop');
        writeFileSync(file, JSON.stringify(profile));
        writeFileSync(`${file}.done`, '');
      }
    } catch (error) {
      process.stderr.write(`cpu-profiler: ${error?.stack ?? error}\n`);
    }
  });
}
