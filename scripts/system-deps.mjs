// The system tools the test suite needs besides Node and Go: redis-server (the Redis e2e suites), chromium (the
// admin UI's browser suite) and promtool (the Prometheus alert rules' checks and unit tests). Installed from Debian
// packages when missing and running as root; otherwise one line says exactly what to install.
import { spawnSync } from 'node:child_process';

/** Debian package that provides each command the tests run. */
const PACKAGES = { 'redis-server': 'redis-server', chromium: 'chromium', promtool: 'prometheus' };

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Makes sure every command of {@link PACKAGES} is on PATH, or exits 1 naming what is missing and how to get it. */
export function ensureSystemTools() {
  const missing = Object.keys(PACKAGES).filter((command) => !has(command));
  if (missing.length === 0) return;
  const packages = missing.map((command) => PACKAGES[command]);
  const install = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !has('apt-get')) {
    process.stderr.write(`shieldx: the tests need ${missing.join(' and ')}; install them (Debian: sudo ${install})\n`);
    process.exit(1);
  }
  process.stderr.write(`shieldx: installing ${packages.join(', ')} for the tests: apt-get update && ${install}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  const result =
    update.status === 0
      ? spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env })
      : update;
  const still = missing.filter((command) => !has(command));
  if (result.status !== 0 || still.length > 0) {
    process.stderr.write(
      `shieldx: could not install ${still.join(' and ') || packages.join(' and ')}; run: ${install}\n`,
    );
    process.exit(1);
  }
}
