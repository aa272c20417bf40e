// Preloaded (`node --import bench/lib/cpu-profiler.mjs`) into a server under `--profile`, started with an IPC
// channel: the message `{benchProfile: 'start'}` starts V8's sampling CPU profiler (the same one `--cpu-prof` uses),
// `{benchProfile: 'stop'}` writes the profile as JSON to $BENCH_CPU_PROFILE_FILE (then touches `<file>.done`). Only
// the load window is profiled, not start-up. (Not signals: NestJS's enableShutdownHooks() closes the app on SIGUSR2,
// SIGHUP and most others, and Node keeps SIGUSR1 for the inspector.)
//
// Why not `node --cpu-prof`: it writes its profile only when the process exits normally, and NestJS's shutdown hooks
// re-raise SIGTERM after closing (`process.kill(process.pid, signal)`), so a profiled orchestrator never writes one.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const file = process.env.BENCH_CPU_PROFILE_FILE;
const intervalUs = Number(process.env.BENCH_CPU_PROFILE_INTERVAL_US ?? 1000);

if (file && process.send) {
  const session = new Session();
  session.connect();
  const post = (method, params) =>
    new Promise((done, fail) => session.post(method, params, (error, result) => (error ? fail(error) : done(result))));
  process.on('message', (/** @type {{ benchProfile?: string } | undefined} */ message) => void onMessage(message));
  async function onMessage(/** @type {{ benchProfile?: string } | undefined} */ message) {
    try {
      if (message?.benchProfile === 'start') {
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: intervalUs });
        await post('Profiler.start');
      } else if (message?.benchProfile === 'stop') {
        const { profile } = await post('Profiler.stop');
        writeFileSync(file, JSON.stringify(profile));
        writeFileSync(`${file}.done`, '');
      }
    } catch (error) {
      process.stderr.write(`cpu-profiler: ${error?.stack ?? error}\n`);
    }
  }
  // The channel must not keep the server alive on its own.
  process.channel?.unref();
}
