// Every interleaving of a scope's actors, up to equivalence: stateless dynamic partial-order reduction (Flanagan &
// Godefroid, POPL 2005) with sleep sets (Godefroid 1996). Each run starts from scratch (the implementation is
// mutable) and follows a forced prefix of picks, so a run is a deterministic function of its picks. After a run,
// every pair of dependent steps not ordered by happens-before is a race, and the state before the first one gets
// a backtrack point for the second's actor; the search goes back to the deepest state with an actor left to try.
// Without reduction ("none") every enabled actor is tried at every state: the brute-force count.
import { canonicalText } from "../../model/index.js";
import type { Config } from "../../schema/config.js";
import type { Checks } from "../checker.js";
import { hash52, Stats } from "../stats.js";
import { runRace, SETUP } from "../concurrent/harness.js";
import type { Pending, RaceActor, RaceDriver, RaceFailure, RaceRun, RaceStep } from "../concurrent/harness.js";
import { dependent, footprintOf, type Footprint } from "./footprint.js";

export type Reduction = "dpor" | "none";

export interface ExploreOptions {
  readonly reduction: Reduction;
  readonly checks?: Checks;
  /** Model steps the linearizability search may try per segment. */
  readonly budget?: number;
  /** Stop after this many runs: the result is then not a proof. */
  readonly maxRuns?: number;
  /** Stop at the first failing run instead of looking on for a shorter one. */
  readonly firstFailure?: boolean;
  /** Keep every run's terminal state and verdict (for comparing reductions; costs memory). */
  readonly terminals?: boolean;
  /** Footprints other than the declared ones (a test shows what an unsound one misses). */
  readonly footprint?: typeof footprintOf;
  /** A check of each finished run on top of the harness's. */
  readonly check?: (run: RaceRun) => RaceFailure | undefined;
}

export interface Exploration {
  /** Runs started: complete, failing, and those ended early because a sleep set showed them redundant. */
  readonly runs: number;
  readonly complete: number;
  readonly failing: number;
  readonly pruned: number;
  /** Schedule steps taken past the setup, over every run. */
  readonly steps: number;
  /** Distinct states met (the abstract state and every actor's position, by fingerprint). */
  readonly states: number;
  /** The naive count: interleavings of the longest complete run's steps per actor, ignoring blocking (a multinomial). */
  readonly naive: number;
  /** Every interleaving was explored (no cap hit). */
  readonly exhaustive: boolean;
  readonly ms: number;
  /** The shortest failing run found: fewest steps, then fewest context switches. */
  readonly shortest?: { readonly run: RaceRun; readonly steps: number; readonly switches: number };
  readonly stats: Stats;
  /** Terminal states ("ok " + state and outcomes) and verdicts ("fail " + property), when asked for. */
  readonly terminals?: ReadonlySet<string>;
}

/** One state of the current run: who could go on, what they would touch, and what was tried from here. */
interface Node {
  readonly pending: readonly Pending[];
  readonly footprints: ReadonlyMap<number, Footprint>;
  /** Actors whose next step need not be tried here: it commutes with everything explored since it was tried. */
  readonly sleep: ReadonlyMap<number, Footprint>;
  readonly backtrack: Set<number>;
  /** Actors tried from here, in order; the last one is the current run's pick. */
  readonly done: number[];
}

const pick = (n: Node): number => n.done[n.done.length - 1]!;

/** (n_1 + ... + n_k)! / (n_1! ... n_k!) */
function multinomial(counts: readonly number[]): number {
  let r = 1;
  let total = 0;
  for (const n of counts) {
    for (let i = 1; i <= n; i++) r = (r * (total + i)) / i;
    total += n;
  }
  return Math.round(r);
}

class Explorer {
  private readonly nodes: Node[] = [];
  private readonly stats = new Stats();
  private readonly seen = new Set<number>();
  private readonly terminalSet = new Set<string>();
  private runs = 0;
  private complete = 0;
  private failing = 0;
  private pruned = 0;
  private steps = 0;
  private naive = 0;
  private shortest: Exploration["shortest"];
  /** The current run ended early (a sleep set showed the rest redundant). */
  private stopped = false;
  /** The current run's final state, when it finished. */
  private final = "";

  constructor(
    private readonly config: Config,
    private readonly actors: readonly RaceActor[],
    private readonly opts: ExploreOptions,
  ) {}

  private get footprintOf(): typeof footprintOf {
    return this.opts.footprint ?? footprintOf;
  }

  private footprint(p: Pending): Footprint {
    return this.footprintOf({ op: this.actors[p.actor]!.steps[p.op]!, label: p.label, entry: p.entry }, this.config);
  }

  /** The sleep set of the state the pick of `parent` leads to (Godefroid): what slept or was tried before, if independent of the pick. */
  private childSleep(parent: Node): Map<number, Footprint> {
    const chosen = pick(parent);
    const t = parent.footprints.get(chosen)!;
    const candidates = new Map(parent.sleep);
    for (const q of parent.done.slice(0, -1)) candidates.set(q, parent.footprints.get(q)!);
    const sleep = new Map<number, Footprint>();
    for (const [q, f] of candidates) if (q !== chosen && !dependent(f, t)) sleep.set(q, f);
    return sleep;
  }

  private driver(depth: { k: number }): RaceDriver {
    return {
      pick: (pending, abstract) => {
        const k = depth.k++;
        this.steps++;
        const at = pending.map((p) => `${p.actor}:${p.op}:${p.entry ? "" : p.label}`).join(",");
        this.seen.add(hash52(`${canonicalText(abstract())}|${at}`));
        if (k < this.nodes.length) {
          const node = this.nodes[k]!;
          const was = node.pending.map((p) => `${p.actor}${p.enabled}`).join();
          const now = pending.map((p) => `${p.actor}${p.enabled}`).join();
          if (was !== now) throw new Error(`the run is not a function of its picks: state ${k} differs`);
          return pick(node);
        }
        const footprints = new Map(pending.map((p) => [p.actor, this.footprint(p)]));
        const sleep = k === 0 || this.opts.reduction === "none" ? new Map<number, Footprint>() : this.childSleep(this.nodes[k - 1]!);
        const enabled = pending.filter((p) => p.enabled).map((p) => p.actor);
        const awake = enabled.filter((a) => !sleep.has(a));
        if (awake.length === 0) {
          this.stopped = true;
          return undefined;
        }
        // Keep the actor that ran last when it can go on: the first run of every branch has the fewest switches.
        const last = k === 0 ? -1 : pick(this.nodes[k - 1]!);
        const first = awake.includes(last) ? last : awake[0]!;
        const backtrack = new Set(this.opts.reduction === "none" ? awake : [first]);
        this.nodes.push({ pending, footprints, sleep, backtrack, done: [first] });
        return first;
      },
      ended: (state) => {
        if (this.opts.terminals) this.final = canonicalText(state);
      },
    };
  }

  /**
   * Flanagan & Godefroid's backtracking, after the run: for each state from `from` on and each actor's next step
   * there, the last earlier step of another actor that is dependent with it and not ordered before it by
   * happens-before races with it, so the state before that step must also try the actor (or, if it could not
   * run there, one whose steps lead to it, or every enabled actor).
   */
  private addBacktracks(executed: readonly { actor: number; fp: Footprint }[], from: number): void {
    const n = executed.length;
    const actors = this.actors.length;
    // Vector clocks: vc[j][a] is the last step of actor a that happens before (or is) step j.
    const vc: Int32Array[] = [];
    const lastOf = new Int32Array(actors).fill(-1);
    for (let j = 0; j < n; j++) {
      const e = executed[j]!;
      const prev = lastOf[e.actor]!;
      const v = prev >= 0 ? Int32Array.from(vc[prev]!) : new Int32Array(actors).fill(-1);
      for (let i = 0; i < j; i++) {
        const d = executed[i]!;
        if (d.actor === e.actor || !dependent(d.fp, e.fp)) continue;
        const w = vc[i]!;
        for (let a = 0; a < actors; a++) if (w[a]! > v[a]!) v[a] = w[a]!;
      }
      v[e.actor] = j;
      vc.push(v);
      lastOf[e.actor] = j;
    }
    const last = new Int32Array(actors).fill(-1);
    for (let k = 0; k < Math.min(n, this.nodes.length); k++) {
      if (k >= from) {
        const node = this.nodes[k]!;
        for (const p of node.pending) {
          const t = node.footprints.get(p.actor)!;
          const lp = last[p.actor]!;
          const before = (i: number): boolean => lp >= 0 && vc[lp]![executed[i]!.actor]! >= i;
          let i = k - 1;
          while (i >= 0 && (executed[i]!.actor === p.actor || !dependent(executed[i]!.fp, t) || before(i))) i--;
          if (i >= 0) this.backtrackAt(i, p.actor, k, executed, vc, lp);
        }
      }
      last[executed[k]!.actor] = k;
    }
  }

  private backtrackAt(i: number, actor: number, k: number, executed: readonly { actor: number }[], vc: readonly Int32Array[], lp: number): void {
    const node = this.nodes[i]!;
    const enabled = node.pending.filter((p) => p.enabled).map((p) => p.actor);
    if (enabled.includes(actor)) {
      node.backtrack.add(actor);
      return;
    }
    // Actors with a step after i that happens before the actor's next step at k.
    for (let j = i + 1; j < k; j++) {
      const q = executed[j]!.actor;
      if (enabled.includes(q) && lp >= 0 && vc[lp]![q]! >= j) {
        node.backtrack.add(q);
        return;
      }
    }
    for (const q of enabled) node.backtrack.add(q);
  }

  private record(run: RaceRun): void {
    const past = run.steps.filter((s) => s.actor !== SETUP);
    if (run.failure !== undefined) {
      this.failing++;
      if (this.opts.terminals) this.terminalSet.add(`fail ${run.failure.property}`);
      const switches = past.filter((s, i) => i > 0 && s.actor !== past[i - 1]!.actor).length;
      const s = this.shortest;
      const shorter = s === undefined || past.length < s.steps || (past.length === s.steps && switches < s.switches);
      if (shorter) this.shortest = { run, steps: past.length, switches };
      return;
    }
    if (this.stopped) {
      this.pruned++;
      return;
    }
    this.complete++;
    if (this.opts.terminals) {
      const outcomes = run.ops.map((o) => `${o.actor}#${o.index}=${JSON.stringify(o.impl)}`).sort();
      this.terminalSet.add(`ok ${this.final} ${outcomes.join(" ")}`);
    }
    const counts = this.actors.filter((a) => a.name !== SETUP).map((a) => past.filter((s) => s.actor === a.name).length);
    this.naive = Math.max(this.naive, multinomial(counts));
  }

  private executed(run: RaceRun): { actor: number; fp: Footprint }[] {
    const index = new Map(this.actors.map((a, i) => [a.name, i]));
    return run.steps
      .filter((s) => s.actor !== SETUP)
      .map((s: RaceStep) => {
        const actor = index.get(s.actor)!;
        const op = this.actors[actor]!.steps[s.op]!;
        return { actor, fp: this.footprintOf({ op, label: s.from, entry: s.invoked }, this.config, s.returned !== undefined) };
      });
  }

  /** The deepest state with an actor left to try: it becomes the pick there, and the nodes below are dropped. Returns its depth. */
  private nextBranch(): number | undefined {
    while (this.nodes.length > 0) {
      const d = this.nodes.length - 1;
      const node = this.nodes[d]!;
      const next = [...node.backtrack].find((a) => !node.done.includes(a) && !node.sleep.has(a));
      if (next !== undefined) {
        node.done.push(next);
        return d;
      }
      this.nodes.pop();
    }
    return undefined;
  }

  async explore(): Promise<Exploration> {
    const started = performance.now();
    let from = 0;
    let exhaustive = true;
    for (;;) {
      if (this.opts.maxRuns !== undefined && this.runs >= this.opts.maxRuns) {
        exhaustive = false;
        break;
      }
      this.runs++;
      this.stopped = false;
      this.stats.recordRun();
      const opts = { driver: this.driver({ k: 0 }), stats: this.stats, ...(this.opts.checks === undefined ? {} : { checks: this.opts.checks }) };
      const budget = this.opts.budget === undefined ? {} : { budget: this.opts.budget };
      const ran = await runRace(this.config, this.actors, { kind: "choices", choices: [] }, { ...opts, ...budget });
      const extra = ran.failure === undefined && !this.stopped ? this.opts.check?.(ran) : undefined;
      const run = extra === undefined ? ran : { ...ran, failure: extra };
      this.record(run);
      if (run.failure !== undefined && this.opts.firstFailure) {
        exhaustive = false;
        break;
      }
      if (this.opts.reduction === "dpor") this.addBacktracks(this.executed(run), from);
      const d = this.nextBranch();
      if (d === undefined) break;
      // States up to the branch have the same past as before: their races were found already.
      from = d + 1;
    }
    return {
      runs: this.runs,
      complete: this.complete,
      failing: this.failing,
      pruned: this.pruned,
      steps: this.steps,
      states: this.seen.size,
      naive: this.naive,
      exhaustive,
      ms: performance.now() - started,
      ...(this.shortest === undefined ? {} : { shortest: this.shortest }),
      stats: this.stats,
      ...(this.opts.terminals ? { terminals: this.terminalSet } : {}),
    };
  }
}

/** Explores every interleaving of `actors` (the first may be the setup) under `config`, as the options say. */
export const explore = (config: Config, actors: readonly RaceActor[], opts: ExploreOptions): Promise<Exploration> =>
  new Explorer(config, actors, opts).explore();
