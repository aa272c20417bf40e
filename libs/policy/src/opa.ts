import type { LoadedPolicy, loadPolicy } from '@open-policy-agent/opa-wasm';
import { isCost, isPolicyAction, MAX_COST, type Decision, type PolicyEngine, type PolicyInput } from './decision';
import { readTarGz } from './tar';

/** Thrown when a compiled policy cannot be loaded or answers something that is not a decision. */
export class OpaPolicyError extends Error {
  override readonly name = 'OpaPolicyError';
}

/** A Rego module a bundle carries beside its compiled form. */
export interface RegoSource {
  /** Path inside the bundle, e.g. `policies/shieldx/routing/decision.rego`. */
  readonly path: string;
  readonly text: string;
}

/** Most Rego bytes kept from one bundle for display; larger sources are left out (the wasm still decides). */
const MAX_REGO_BYTES = 256 * 1024;

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];
const GZIP_MAGIC = [0x1f, 0x8b];
const MAX_TARPIT_MS = 60_000;

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((byte, i) => bytes[i] === byte);
}

/**
 * A compiled Rego policy (OPA wasm) evaluated in-process with `@open-policy-agent/opa-wasm`. Evaluation is
 * synchronous. The entrypoint's result may be a string action or an object `{action, divert_to?, tarpit_ms?,
 * reason?}`; anything else is an {@link OpaPolicyError}.
 */
export class OpaPolicy implements PolicyEngine {
  readonly source = 'opa';

  private constructor(
    private readonly policy: LoadedPolicy,
    /** The evaluated entrypoint, e.g. `shieldx/routing/decision`. */
    readonly entrypoint: string,
    /** The Rego modules the bundle carries (none for a bare `policy.wasm`). */
    readonly sources: readonly RegoSource[] = [],
  ) {}

  /**
   * Loads a `policy.wasm` or an `opa build -t wasm` bundle (`.tar.gz`, with its `data.json`), told apart by their
   * magic bytes. `name` is used in error messages (usually the file path).
   */
  static async load(bytes: Uint8Array, entrypoint: string, name: string): Promise<OpaPolicy> {
    if (bytes.length === 0) throw new OpaPolicyError(`${name} is empty`);
    let wasm: Uint8Array;
    let data: unknown = undefined;
    const sources: RegoSource[] = [];
    if (startsWith(bytes, GZIP_MAGIC)) {
      let files: Map<string, Buffer>;
      try {
        files = readTarGz(bytes);
      } catch (error) {
        throw new OpaPolicyError(`${name} is not a readable bundle: ${(error as Error).message}`);
      }
      const module = files.get('policy.wasm');
      if (module === undefined) throw new OpaPolicyError(`${name} has no policy.wasm: build it with opa build -t wasm`);
      wasm = module;
      let kept = 0;
      for (const [path, content] of files) {
        if (!path.endsWith('.rego') || kept + content.length > MAX_REGO_BYTES) continue;
        kept += content.length;
        sources.push({ path, text: content.toString('utf8') });
      }
      const json = files.get('data.json');
      if (json !== undefined) {
        try {
          data = JSON.parse(json.toString('utf8'));
        } catch {
          throw new OpaPolicyError(`${name}: data.json is not valid JSON`);
        }
      }
    } else if (startsWith(bytes, WASM_MAGIC)) {
      wasm = bytes;
    } else {
      throw new OpaPolicyError(`${name} is neither a wasm module nor an opa bundle (.tar.gz)`);
    }
    let policy: LoadedPolicy;
    try {
      // Loaded on first use: a gateway without OPA does not carry the SDK.
      const sdk = await import('@open-policy-agent/opa-wasm');
      policy = await sdk.loadPolicy(wasm as Parameters<typeof loadPolicy>[0]);
    } catch (error) {
      throw new OpaPolicyError(`${name} is not an OPA policy: ${(error as Error).message}`);
    }
    const entrypoints = Object.keys((policy.entrypoints ?? {}) as Record<string, number>);
    if (!entrypoints.includes(entrypoint)) {
      throw new OpaPolicyError(
        `${name} has no entrypoint '${entrypoint}' (it has: ${entrypoints.join(', ') || 'none'})`,
      );
    }
    if (data !== undefined) policy.setData(data as object);
    return new OpaPolicy(policy, entrypoint, sources);
  }

  /** Evaluates the entrypoint. Throws {@link OpaPolicyError} on a trap, an undefined result or a malformed one. */
  decide(input: PolicyInput): Decision {
    let resultSet: unknown;
    try {
      resultSet = this.policy.evaluate(input, this.entrypoint);
    } catch (error) {
      throw new OpaPolicyError(`evaluation failed: ${(error as Error).message}`);
    }
    const first = Array.isArray(resultSet) ? (resultSet[0] as { result?: unknown } | undefined) : undefined;
    if (first === undefined || first.result === undefined)
      throw new OpaPolicyError('the policy gave no decision (undefined)');
    return toDecision(first.result);
  }
}

/** Validates an entrypoint result into a {@link Decision}. */
export function toDecision(result: unknown): Decision {
  if (isPolicyAction(result)) return { action: result };
  if (result === null || typeof result !== 'object')
    throw new OpaPolicyError(`the policy answered ${JSON.stringify(result)}, not a decision`);
  const { action, divert_to: divertTo, tarpit_ms: tarpitMs, reason, cost } = result as Record<string, unknown>;
  if (!isPolicyAction(action)) throw new OpaPolicyError(`the policy answered action ${JSON.stringify(action)}`);
  if (divertTo !== undefined && (typeof divertTo !== 'string' || divertTo === ''))
    throw new OpaPolicyError('divert_to must name a pool');
  if (tarpitMs !== undefined && !(typeof tarpitMs === 'number' && tarpitMs >= 0 && tarpitMs <= MAX_TARPIT_MS)) {
    throw new OpaPolicyError(`tarpit_ms must be a number of ms in [0, ${MAX_TARPIT_MS}]`);
  }
  if (cost !== undefined && !isCost(cost)) throw new OpaPolicyError(`cost must be an integer in [0, ${MAX_COST}]`);
  return {
    action,
    ...(typeof divertTo === 'string' ? { divertTo } : {}),
    ...(typeof tarpitMs === 'number' ? { tarpitMs: Math.round(tarpitMs) } : {}),
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(typeof cost === 'number' && cost > 0 ? { cost } : {}),
  };
}
