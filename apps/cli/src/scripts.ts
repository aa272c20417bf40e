import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The helpers under scripts/ that `npm start`, `npm test` and the CLI share (building the orchestrator, finding opa,
 * making certificates, serving the UI). They are plain ES modules run without a build, so the compiled CLI loads
 * them from the repository root at run time; these are the parts it uses.
 */
export interface SharedScripts {
  'build.mjs': {
    /** Runs `nx run orchestrator:build`; true when it succeeded, after printing why when it did not. */
    buildOrchestrator: (reason: string) => boolean;
  };
  'gateway-process.mjs': {
    /** The environment of the gateway's process: its V8 flags in front of NODE_OPTIONS, its malloc settings. */
    gatewayEnv: (env: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
  };
  'opa.mjs': {
    /** A working `opa`, installed with `go install` when missing; exits 2 with a message when that fails. */
    ensureOpa: () => string;
  };
  'certs.mjs': {
    readonly CERTS_USAGE: string;
    /** `shieldx certs …` with its arguments as given; returns the exit code. */
    certsCommand: (args: string[]) => number;
  };
  'ui.mjs': {
    readonly UI_USAGE: string;
    /** `shieldx ui …` with its arguments as given; resolves the exit code when the UI server exits. */
    uiCommand: (args: string[]) => Promise<number>;
  };
}

/** Loads `scripts/<name>` of the repository at `root`. */
export async function loadScript<K extends keyof SharedScripts>(root: string, name: K): Promise<SharedScripts[K]> {
  return (await import(pathToFileURL(join(root, 'scripts', name)).href)) as SharedScripts[K];
}
