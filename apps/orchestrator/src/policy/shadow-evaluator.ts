import { POLICY_ACTIONS, type Decision, type PolicyAction, type PolicyInput } from '@shieldx/policy';

/** A decision as the shadow view shows it. */
export interface ShadowDecisionView {
  readonly action: PolicyAction;
  readonly reason: string | null;
  readonly divertTo?: string;
}

/** A request on which the candidate answered another action than the active policy. */
export interface ShadowSample {
  /** ISO time of the evaluation. */
  readonly at: string;
  /** The policy input, client IP anonymised unless ORCH_LOG_FULL_IP=1. */
  readonly input: PolicyInput;
  readonly active: ShadowDecisionView;
  readonly candidate: ShadowDecisionView;
}

/** One cell of the active × candidate matrix. */
export interface ShadowCell {
  readonly active: PolicyAction;
  readonly shadow: PolicyAction;
  readonly count: number;
}

/** What the evaluator saw since its last reset. */
export interface ShadowView {
  /** ISO time of the last reset (candidate loaded, reloaded or promoted). */
  readonly since: string;
  readonly evaluated: number;
  readonly divergent: number;
  /** Requests not evaluated because the queue was full. */
  readonly shed: number;
  /** Requests waiting for evaluation now. */
  readonly pending: number;
  /** Every non-zero cell, active action then candidate action in {@link POLICY_ACTIONS} order. */
  readonly matrix: readonly ShadowCell[];
  /** The latest divergent requests, newest first. */
  readonly samples: readonly ShadowSample[];
}

/** Options of {@link ShadowEvaluator}. */
export interface ShadowEvaluatorOptions {
  /** Most requests waiting; beyond, new ones are shed (counted, never evaluated). */
  readonly capacity: number;
  /** Divergent requests kept for {@link ShadowEvaluator.view}. */
  readonly samples: number;
  /** Evaluates the candidate; undefined when there is none (the queue is then dropped). */
  readonly evaluate: (input: PolicyInput) => Decision | undefined;
  /** Called once per evaluation (metrics). */
  readonly onEvaluated?: (active: PolicyAction, shadow: PolicyAction) => void;
  /** Called once per shed request (metrics). */
  readonly onShed?: () => void;
  /** How a client IP is shown in samples. */
  readonly showIp: (ip: string) => string;
  /** Runs the drain later, off the request's path. Default `setImmediate`. */
  readonly schedule?: (run: () => void) => void;
  /** Monotonic ms, for the drain's time slice. */
  readonly now?: () => number;
  /** Longest a drain runs before it yields to I/O and continues on the next turn, ms. Default 2. */
  readonly sliceMs?: number;
}

const ACTIONS = POLICY_ACTIONS.length;

/**
 * Evaluates a candidate policy beside the active one without touching the requests it watches: `offer` (on the
 * request's path) only stores the input and the active decision in a fixed-size ring; a drain scheduled with
 * `setImmediate` evaluates them in time slices, counts each (active, candidate) pair and keeps the latest divergent
 * inputs. When the ring is full new requests are shed and counted, so memory and CPU stay bounded under any load.
 */
export class ShadowEvaluator {
  private readonly inputs: (PolicyInput | undefined)[];
  private readonly decisions: (Decision | undefined)[];
  private head = 0;
  private length = 0;
  private scheduled = false;
  private readonly matrix = new Float64Array(ACTIONS * ACTIONS);
  private readonly samples: (ShadowSample | undefined)[];
  private nextSample = 0;
  private evaluated = 0;
  private divergent = 0;
  private shed = 0;
  private since = new Date().toISOString();
  private readonly schedule: (run: () => void) => void;
  private readonly now: () => number;
  private readonly sliceMs: number;
  private readonly drainBound = (): void => this.drain();

  constructor(private readonly options: ShadowEvaluatorOptions) {
    this.inputs = new Array<PolicyInput | undefined>(options.capacity);
    this.decisions = new Array<Decision | undefined>(options.capacity);
    this.samples = new Array<ShadowSample | undefined>(options.samples);
    this.schedule = options.schedule ?? setImmediate;
    this.now = options.now ?? (() => performance.now());
    this.sliceMs = options.sliceMs ?? 2;
  }

  /** Queues one request the active policy decided; sheds it when the queue is full. Never throws. */
  offer(input: PolicyInput, active: Decision): void {
    const capacity = this.options.capacity;
    if (this.length >= capacity) {
      this.shed++;
      this.options.onShed?.();
      return;
    }
    const slot = (this.head + this.length) % capacity;
    this.inputs[slot] = input;
    this.decisions[slot] = active;
    this.length++;
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.drainBound);
    }
  }

  /** Starts counting afresh (a new candidate): matrix, samples and the queue are emptied. */
  reset(): void {
    this.matrix.fill(0);
    this.samples.fill(undefined);
    this.nextSample = 0;
    this.evaluated = 0;
    this.divergent = 0;
    this.shed = 0;
    this.dropQueue();
    this.since = new Date().toISOString();
  }

  /** The matrix and the latest divergent requests. */
  view(): ShadowView {
    const matrix: ShadowCell[] = [];
    for (let a = 0; a < ACTIONS; a++) {
      for (let s = 0; s < ACTIONS; s++) {
        const count = this.matrix[a * ACTIONS + s];
        if (count > 0) matrix.push({ active: POLICY_ACTIONS[a], shadow: POLICY_ACTIONS[s], count });
      }
    }
    const samples: ShadowSample[] = [];
    const size = this.samples.length;
    for (let i = 1; i <= size; i++) {
      const sample = this.samples[(this.nextSample - i + size) % size];
      if (sample !== undefined) samples.push(sample);
    }
    return {
      since: this.since,
      evaluated: this.evaluated,
      divergent: this.divergent,
      shed: this.shed,
      pending: this.length,
      matrix,
      samples,
    };
  }

  private drain(): void {
    this.scheduled = false;
    const deadline = this.now() + this.sliceMs;
    const capacity = this.options.capacity;
    while (this.length > 0) {
      const input = this.inputs[this.head] as PolicyInput;
      const active = this.decisions[this.head] as Decision;
      this.inputs[this.head] = undefined;
      this.decisions[this.head] = undefined;
      this.head = (this.head + 1) % capacity;
      this.length--;
      let shadow: Decision | undefined;
      try {
        shadow = this.options.evaluate(input);
      } catch {
        // The candidate's own failures are answered by its error mode inside the manager; nothing else may escape.
        continue;
      }
      if (shadow === undefined) {
        this.dropQueue();
        return;
      }
      this.count(input, active, shadow);
      if (this.length > 0 && this.now() >= deadline) {
        this.scheduled = true;
        this.schedule(this.drainBound);
        return;
      }
    }
  }

  private count(input: PolicyInput, active: Decision, shadow: Decision): void {
    const a = POLICY_ACTIONS.indexOf(active.action);
    const s = POLICY_ACTIONS.indexOf(shadow.action);
    this.matrix[a * ACTIONS + s]++;
    this.evaluated++;
    this.options.onEvaluated?.(active.action, shadow.action);
    if (a === s) return;
    this.divergent++;
    this.samples[this.nextSample] = {
      at: new Date().toISOString(),
      input: { ...input, ip: this.options.showIp(input.ip) },
      active: decisionView(active),
      candidate: decisionView(shadow),
    };
    this.nextSample = (this.nextSample + 1) % this.samples.length;
  }

  private dropQueue(): void {
    this.inputs.fill(undefined);
    this.decisions.fill(undefined);
    this.head = 0;
    this.length = 0;
  }
}

/** A decision as the admin API shows it. */
function decisionView(decision: Decision): ShadowDecisionView {
  return {
    action: decision.action,
    reason: decision.reason ?? null,
    ...(decision.divertTo !== undefined ? { divertTo: decision.divertTo } : {}),
  };
}
