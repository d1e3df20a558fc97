// What a suite run exercised: commands, distinct states, how often each invariant was non-vacuous, rule hits, which
// side of each numeric bound was reached (props/bounds.ts), how often each declared feature held (props/features.ts).
import { COST_NAMES, type CostCounts } from "../impl/costs.js";
import { countIndex, type BoundSample } from "./bounds.js";

export interface InvariantCount {
  checked: number;
  nonVacuous: number;
}

/** 52-bit string hash (two FNV-1a lanes) for counting distinct states without keeping them. */
export function hash52(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return a * 2 ** 20 + (b >>> 12);
}

/** A Stats as plain data, to cross a worker thread boundary (structured clone drops the class). */
export interface StatsData {
  readonly runs: number;
  readonly commands: number;
  readonly undecided: number;
  readonly longestRun: number;
  readonly states: readonly number[];
  readonly invariants: readonly (readonly [string, InvariantCount])[];
  readonly rules: readonly (readonly [string, number])[];
  readonly bounds: readonly (readonly [string, readonly number[]])[];
  readonly features: readonly (readonly [string, number])[];
  readonly costs: readonly (readonly [string, number])[];
}

export class Stats {
  runs = 0;
  commands = 0;
  /** History segments the linearizability search could not decide within its budget (each fails its run). */
  undecided = 0;
  /** The most schedule steps a concurrent run took past its setup: what PCT's k must cover. */
  longestRun = 0;
  /** Once a failure is found, shrinking runs are not counted. */
  frozen = false;
  private readonly states = new Set<number>();
  readonly invariants = new Map<string, InvariantCount>();
  readonly rules = new Map<string, number>();
  /** Per bounded rule: [accepted at bound-1, bound, bound+1, refused at bound-1, bound, bound+1]. */
  readonly bounds = new Map<string, number[]>();
  readonly features = new Map<string, number>();
  /** The cost model's counters summed over every run (impl/costs.ts). */
  readonly costs = new Map<string, number>();

  recordRun(): void {
    if (!this.frozen) this.runs++;
  }

  recordStep(fired: readonly string[]): void {
    if (this.frozen) return;
    this.commands++;
    for (const id of fired) this.rules.set(id, (this.rules.get(id) ?? 0) + 1);
  }

  recordBounds(samples: readonly BoundSample[]): void {
    if (this.frozen) return;
    for (const s of samples) {
      const c = this.bounds.get(s.rule) ?? [0, 0, 0, 0, 0, 0];
      c[countIndex(s)]!++;
      this.bounds.set(s.rule, c);
    }
  }

  recordFeatures(names: readonly string[]): void {
    if (this.frozen) return;
    for (const n of names) this.features.set(n, (this.features.get(n) ?? 0) + 1);
  }

  /** A counter kept outside the kernel (the post-copy VMM's fetches). */
  recordCost(name: string, n: number): void {
    if (!this.frozen && n !== 0) this.costs.set(name, (this.costs.get(name) ?? 0) + n);
  }

  /** Adds a run's costs; with `since`, only what it cost after that reading of the same run. */
  recordCosts(now: CostCounts, since?: CostCounts): void {
    if (this.frozen) return;
    for (const k of COST_NAMES) {
      const d = now[k] - (since?.[k] ?? 0);
      if (d !== 0) this.costs.set(k, (this.costs.get(k) ?? 0) + d);
    }
  }

  recordUndecided(): void {
    if (!this.frozen) this.undecided++;
  }

  recordRunLength(steps: number): void {
    if (!this.frozen) this.longestRun = Math.max(this.longestRun, steps);
  }

  recordInvariant(name: string, nonVacuous: boolean): void {
    if (this.frozen) return;
    const c = this.invariants.get(name) ?? { checked: 0, nonVacuous: 0 };
    c.checked++;
    if (nonVacuous) c.nonVacuous++;
    this.invariants.set(name, c);
  }

  recordState(text: string): void {
    this.recordStateHash(hash52(text));
  }

  /** A state already hashed (props/state-compare.ts stateHash). */
  recordStateHash(h: number): void {
    if (!this.frozen) this.states.add(h);
  }

  get distinctStates(): number {
    return this.states.size;
  }

  /** Adds another run's counts (distinct states add up as an upper bound across shards). */
  merge(o: Stats): void {
    this.runs += o.runs;
    this.commands += o.commands;
    this.undecided += o.undecided;
    this.longestRun = Math.max(this.longestRun, o.longestRun);
    for (const h of o.states) this.states.add(h);
    for (const [k, v] of o.invariants) {
      const c = this.invariants.get(k) ?? { checked: 0, nonVacuous: 0 };
      this.invariants.set(k, { checked: c.checked + v.checked, nonVacuous: c.nonVacuous + v.nonVacuous });
    }
    for (const [k, v] of o.rules) this.rules.set(k, (this.rules.get(k) ?? 0) + v);
    for (const [k, v] of o.bounds) {
      const c = this.bounds.get(k) ?? [0, 0, 0, 0, 0, 0];
      this.bounds.set(k, c.map((n, i) => n + v[i]!));
    }
    for (const [k, v] of o.features) this.features.set(k, (this.features.get(k) ?? 0) + v);
    for (const [k, v] of o.costs) this.costs.set(k, (this.costs.get(k) ?? 0) + v);
  }

  data(): StatsData {
    return {
      runs: this.runs,
      commands: this.commands,
      undecided: this.undecided,
      longestRun: this.longestRun,
      states: [...this.states],
      invariants: [...this.invariants],
      rules: [...this.rules],
      bounds: [...this.bounds],
      features: [...this.features],
      costs: [...this.costs],
    };
  }

  static fromData(d: StatsData): Stats {
    const s = new Stats();
    s.runs = d.runs;
    s.commands = d.commands;
    s.undecided = d.undecided;
    s.longestRun = d.longestRun;
    for (const h of d.states) s.states.add(h);
    for (const [k, v] of d.invariants) s.invariants.set(k, { ...v });
    for (const [k, v] of d.rules) s.rules.set(k, v);
    for (const [k, v] of d.bounds) s.bounds.set(k, [...v]);
    for (const [k, v] of d.features) s.features.set(k, v);
    for (const [k, v] of d.costs) s.costs.set(k, v);
    return s;
  }

  toJSON(): object {
    return {
      runs: this.runs,
      commands: this.commands,
      undecided: this.undecided,
      longestRun: this.longestRun,
      distinctStates: this.distinctStates,
      invariants: Object.fromEntries([...this.invariants].sort(([a], [b]) => a.localeCompare(b))),
      rules: Object.fromEntries([...this.rules].sort(([a], [b]) => a.localeCompare(b))),
      bounds: Object.fromEntries([...this.bounds].sort(([a], [b]) => a.localeCompare(b))),
      features: Object.fromEntries([...this.features].sort(([a], [b]) => a.localeCompare(b))),
      costs: Object.fromEntries([...this.costs].sort(([a], [b]) => a.localeCompare(b))),
    };
  }
}
