// One concurrent run: actors execute their operations on the implementation under the Scheduler, the
// schedule decides every interleaving, and the checks run as the run goes: "always" invariants at every
// yield point, and at every quiescent point the "quiescent" invariants plus linearization of the history
// since the previous one against the model, ending in the implementation's abstract state.
import { canonicalText, initial, relaxedBy, STATE_INVARIANTS, STEP_INVARIANTS, step as modelStep } from "../../model/index.js";
import type { State, StateInvariant, StepInvariant } from "../../model/index.js";
import type { CostCounts } from "../../impl/costs.js";
import { createSystem, type Kernel } from "../../impl/system.js";
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { ALL_CHECKS, checksInvariant, type Checks, type Failure } from "../checker.js";
import { stableStringify } from "../outcomes.js";
import type { Stats } from "../stats.js";
import { diffFacts, kvmFacts } from "./effects.js";
import { concurrentWith, explainTaken, History, type RaceOp, type SegmentVerdict } from "./history.js";
import { Judge } from "./judge.js";
import { Scheduler } from "./scheduler.js";
import { chooser, rotation, type ScheduleSpec } from "./schedules.js";

/** The property a run fails with when the linearizability search runs out of budget: not a pass, not a bug found. */
export const UNDECIDED = "undecided";

/** The actor that builds the layout: it runs alone, to the end, before any other actor starts. */
export const SETUP = "setup";

/** The actor that looks at what the run left behind: it runs alone, to the end, once every other actor finished. */
export const TEARDOWN = "teardown";

export interface RaceActor {
  readonly name: string;
  readonly steps: readonly Op[];
}

export interface RaceFailure extends Failure {
  /** The actor whose step or operation showed the failure. */
  readonly actor?: string;
}

export interface RaceStep {
  readonly index: number;
  readonly actor: string;
  /** The operation (index in the actor's steps) this step ran in. */
  op: number;
  /** This step began the operation. */
  invoked: boolean;
  /** The yield point the actor went on from (a kernel function; the entry point for a new operation). */
  readonly from: string;
  /** The yield point it reached, or "return" when its operation ended. */
  label: string;
  /** This step ended the operation with this outcome. */
  returned?: Outcome;
  /** What the step changed in KVM (recorded when asked for). */
  effects: readonly string[];
}

export interface RaceRun {
  readonly steps: readonly RaceStep[];
  readonly ops: readonly RaceOp[];
  /** The decisions taken: a schedule that replays this run exactly. */
  readonly schedule: readonly number[];
  readonly failure?: RaceFailure;
  /** Segments whose linearization ran out of budget (the first one fails the run as "undecided"). */
  readonly undecided: number;
  /** What the run cost the kernel, setup included (impl/costs.ts). */
  readonly costs: CostCounts;
}

/** A property of a whole run, judged once every actor but the teardown has finished (props/progress-races.ts). */
export interface RunProperty {
  readonly name: string;
  /** The failure, or whether the run made the property non-vacuous. */
  judge(ops: readonly RaceOp[]): RaceFailure | boolean;
}

export interface RaceOptions {
  readonly checks?: Checks;
  /** Judged at the end of the run when the checks include its name. */
  readonly property?: RunProperty;
  readonly stats?: Stats;
  /** Record each step's effects (for diagrams; slower). */
  readonly effects?: boolean;
  /** More steps than this is reported as a livelock. */
  readonly maxSteps?: number;
  /** Model steps the linearizability search may try per segment (DEFAULT_BUDGET); past it the run fails as "undecided". */
  readonly budget?: number;
  /** Takes every step's pick instead of the schedule (faultline prove); the schedule is still recorded. */
  readonly driver?: RaceDriver;
}

/** Where a live actor waits: the yield point and the operation its next step runs in. */
export interface Pending {
  readonly actor: number;
  readonly label: string;
  /** Index of the operation in the actor's steps. */
  readonly op: number;
  /** The next step begins the operation (it is parked at the entry point). */
  readonly entry: boolean;
  readonly enabled: boolean;
}

/** Drives a run step by step from outside, as a model checker does: it sees every actor's next step and picks. */
export interface RaceDriver {
  /**
   * Before every step past the setup (with one runnable actor too): the actor to run, one of the enabled ones, or
   * undefined to end the run here, unjudged (what follows is known to repeat a run already explored).
   */
  pick(pending: readonly Pending[], abstract: () => State): number | undefined;
  /** Every actor finished and every check passed: the implementation's final state. */
  ended?(abstract: State): void;
}

/** The kernel entry point an operation stands for: the first line of each operation in a diagram. */
const ENTRY: Partial<Record<Op["op"], string>> = {
  create_vm: "kvm_dev_ioctl_create_vm",
  set_memory_region: "kvm_vm_ioctl_set_memory_region",
  set_memory_attributes: "kvm_vm_ioctl_set_mem_attributes",
  vcpu_access: "kvm_arch_vcpu_ioctl_run",
  kvm_access: "kvm_vcpu_read_guest",
  create_gmem: "kvm_gmem_create",
  mmap: "do_mmap",
  munmap: "do_vmi_munmap",
  madvise: "do_madvise",
  userfault_set: "userfault_bitmap:set_bit",
  userfault_clear: "userfault_bitmap:clear_bit",
  userfault_rescan: "kvm_vm_ioctl (the proposed re-scan)",
};
export const entryLabel = (op: Op): string => ENTRY[op.op] ?? op.op;

class Stop extends Error {
  constructor(readonly failure: RaceFailure) {
    super(failure.property);
  }
}

/**
 * One run of actors under a schedule, shaped like the sequential Checker: the actors' operations run on the
 * implementation under the Scheduler, and each check runs where it can (see the file comment). A failure
 * stops the run by throwing Stop, which run() turns into the run's result.
 */
class RaceRunner {
  private readonly always: readonly StateInvariant[];
  private readonly quiescent: readonly StateInvariant[];
  private readonly stepInvariants: readonly StepInvariant[];
  private readonly scheduler = new Scheduler();
  private readonly system: Kernel;
  private readonly history = new History();
  private readonly judge: Judge;
  private readonly steps: RaceStep[] = [];
  private readonly decisions: number[] = [];
  /** The operation each actor is in (or last finished). */
  private readonly inOp: number[] = [];
  /** The operation each actor's next step runs in, and whether it begins it. */
  private readonly next: { op: number; entry: boolean }[] = [];
  private running: RaceStep | undefined;
  private facts: Map<string, string> | undefined;
  private undecided = 0;

  constructor(
    config: Config,
    private readonly actors: readonly RaceActor[],
    private readonly opts: RaceOptions,
  ) {
    const checks = opts.checks ?? ALL_CHECKS;
    const chosen = <I extends { readonly name: string }>(list: readonly I[]): I[] => list.filter((i) => checksInvariant(checks, i.name));
    this.always = chosen(STATE_INVARIANTS.filter((i) => i.when === "always"));
    this.quiescent = chosen(STATE_INVARIANTS.filter((i) => i.when === "quiescent"));
    this.stepInvariants = chosen(STEP_INVARIANTS);
    this.system = createSystem(config, this.scheduler) as Kernel;
    this.judge = new Judge(initial(config), opts.budget);
    this.facts = opts.effects ? kvmFacts(this.system) : undefined;
  }

  private get stats(): Stats | undefined {
    return this.opts.stats;
  }

  private get checks(): Checks {
    return this.opts.checks ?? ALL_CHECKS;
  }

  /** Actor a's operations, each from its kernel entry point on. */
  private async body(a: number): Promise<void> {
    const actor = this.actors[a]!;
    for (const [i, op] of actor.steps.entries()) {
      this.next[a] = { op: i, entry: true };
      await this.scheduler.yield(entryLabel(op));
      this.next[a] = { op: i, entry: false };
      const running = this.running!;
      this.inOp[a] = i;
      running.op = i;
      running.invoked = true;
      const rec = this.history.invoke(actor.name, i, op, running.index);
      const outcome = await this.system.exec(op);
      this.history.respond(rec, outcome, this.running!.index);
      this.running!.returned = outcome;
    }
  }

  /** Stops the run. The failure names an actor and the operation (index in its steps) that showed it; by
   * default the one whose schedule step just ran, which is the run's last. */
  private fail(property: string, expected: unknown, actual: unknown, detail: string, at?: RaceOp): never {
    const last = this.steps[this.steps.length - 1];
    const lastOp = last === undefined ? { step: 0 } : { actor: last.actor, step: last.op };
    const who = at === undefined ? lastOp : { actor: at.actor, step: at.index };
    throw new Stop({ property, expected, actual, detail, ...who });
  }

  private checkState(invariants: readonly StateInvariant[], impl: State): void {
    for (const inv of invariants) {
      const v = inv.check(impl);
      this.stats?.recordInvariant(inv.name, v.nonVacuous);
      if (!v.holds) this.fail(inv.name, "holds", "violated", v.detail ?? inv.description);
    }
  }

  private checkAlways(): void {
    if (this.always.length > 0) this.checkState(this.always, this.system.abstract());
  }

  /** Runs actor a to its next yield point, then (unless told not to) checks what must hold there. */
  private async runStep(a: number, check = true): Promise<void> {
    const name = this.actors[a]!.name;
    const from = this.scheduler.parkedAt(a) ?? "";
    const s: RaceStep = { index: this.steps.length, actor: name, op: this.inOp[a] ?? 0, invoked: false, from, label: "", effects: [] };
    this.running = s;
    this.steps.push(s);
    await this.scheduler.resume(a);
    s.label = s.returned !== undefined ? "return" : (this.scheduler.parkedAt(a) ?? "return");
    const err = this.scheduler.errorOf(a);
    if (err !== undefined) {
      this.fail("exception", "no exception", String(err), `${name} threw: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (this.facts !== undefined) {
      const now = kvmFacts(this.system);
      s.effects = diffFacts(this.facts, now);
      this.facts = now;
    }
    if (!check) return;
    this.checkAlways();
    if (this.history.quiescent) this.atQuiescence();
  }

  /** Steps the model along a (partial) linearization from `start` through the states `path` it took, recording its outcomes. */
  private annotate(start: State, order: readonly RaceOp[], path: readonly State[]): { r: RaceOp; pre: State; post: State }[] {
    let pre = start;
    return order.map((r, i) => {
      const taken = r.impl === undefined ? undefined : explainTaken(pre, r.op, r.impl, concurrentWith(order, r), start, path[i]!);
      const res = taken ?? modelStep(pre, r.op);
      r.model = res.outcome;
      r.fired = res.fired;
      this.stats?.recordStep(res.fired);
      const step = { r, pre, post: res.state };
      pre = res.state;
      return step;
    });
  }

  private atQuiescence(): void {
    const impl = this.system.abstract();
    this.checkState(this.quiescent, impl);
    const seg = this.history.takeSegment();
    if (!this.checks.refinement) return;
    const start = this.judge.state;
    const v = this.judge.segment(seg, impl);
    if (v.kind === "undecided") {
      this.undecided++;
      this.stats?.recordUndecided();
      const overlapping = seg.filter((r) => concurrentWith(seg, r).length > 0).length;
      const what = `${seg.length} operations, ${overlapping} of them overlapping`;
      this.fail(
        UNDECIDED,
        `a verdict within ${this.judge.budget} model steps`,
        "undecided",
        `the linearizability search ran out of its budget (${this.judge.budget} model steps) on a segment of ${what}: ` +
          "nothing was checked past it; a larger --search-budget may decide it",
      );
    }
    if (v.kind === "state") {
      this.annotate(start, v.order, v.path);
      const why = `no order of the model's steps that explains the outcomes ends in the implementation's state: ${v.detail}`;
      this.fail("refinement.state", v.model, v.impl, why);
    }
    if (v.kind === "outcome") this.outcomeFailure(start, v);
    if (v.kind !== "ok") return;
    for (const { r, pre, post } of this.annotate(start, v.order, v.path)) {
      const relaxed = relaxedBy(r.fired ?? []);
      for (const inv of this.stepInvariants) {
        if (relaxed.has(inv.name)) continue;
        const iv = inv.check(pre, r.op, r.impl!, post);
        this.stats?.recordInvariant(inv.name, iv.nonVacuous);
        if (!iv.holds) this.fail(inv.name, "holds", "violated", iv.detail ?? inv.description, r);
      }
    }
    this.stats?.recordInvariant("linearizable", v.overlapping);
    this.stats?.recordState(canonicalText(v.final));
  }

  /** No order explains the outcomes: names the operation the longest explanation got stuck on, and the step invariant it breaks. */
  private outcomeFailure(start: State, v: Extract<SegmentVerdict, { kind: "outcome" }>): never {
    this.annotate(start, v.prefix, v.path);
    const s = v.stuck;
    s.model = v.expected;
    const post = modelStep(v.pre, s.op).state;
    const why = this.stepInvariants.map((inv) => ({ inv, v: inv.check(v.pre, s.op, s.impl!, post) })).find((x) => !x.v.holds);
    const explained = v.prefix.map((r) => `${r.actor}#${r.index} ${r.op.op}`).join(", ") || "nothing";
    return this.fail(
      "linearizability",
      v.expected,
      s.impl,
      `no order of the model's steps explains the outcomes: after ${explained}, ${s.actor}'s ${s.op.op} (#${s.index}) ` +
        `returned ${stableStringify(s.impl)} where the model says ${stableStringify(v.expected)}` +
        (why === undefined ? "" : ` (${why.inv.name}: ${why.v.detail})`),
      s,
    );
  }

  /** Drives the actors: the setup alone first, then the others as the schedule decides, then the teardown alone. */
  private async drive(schedule: ScheduleSpec): Promise<void> {
    const pick = chooser(schedule);
    const all = this.actors.map((_, i) => i);
    const setup = this.actors[0]?.name === SETUP ? [0] : [];
    const teardown = all.filter((a) => this.actors[a]!.name === TEARDOWN);
    const others = all.filter((a) => !setup.includes(a) && !teardown.includes(a));
    const maxSteps = this.opts.maxSteps ?? 5000;
    for (const a of all) await this.scheduler.start(a, () => this.body(a));
    // The setup is the same sequential run every time (the sequential suites check its steps): one segment.
    for (const a of setup) while (!this.scheduler.isFinished(a)) await this.runStep(a, false);
    this.checkAlways();
    if (this.history.quiescent) this.atQuiescence();
    let current = others[0] ?? 0;
    for (let n = 1; ; n++) {
      const live = others.filter((a) => !this.scheduler.isFinished(a));
      if (live.length === 0) {
        this.judgeRun();
        for (const a of teardown) while (!this.scheduler.isFinished(a)) await this.runStep(a);
        return this.opts.driver?.ended?.(this.system.abstract());
      }
      const runnable = this.scheduler.runnable(live);
      if (runnable.length === 0) {
        const waits = live.map((a) => `${this.actors[a]!.name} at ${this.scheduler.parkedAt(a)}`).join(", ");
        this.fail("deadlock", "a runnable actor", waits, `no actor can run: ${waits}`);
      }
      if (n > maxSteps) this.fail("livelock", `at most ${maxSteps} steps`, n, `the actors ran ${maxSteps} steps without finishing`);
      let a: number | undefined = runnable[0]!;
      if (this.opts.driver !== undefined) a = this.opts.driver.pick(this.pending(live, runnable), () => this.system.abstract());
      else if (runnable.length > 1) a = pick.pick(runnable, current, n);
      if (a === undefined) return;
      if (runnable.length > 1) this.decisions.push(rotation(runnable, current).indexOf(a));
      await this.runStep(a);
      pick.ran(a, n);
      current = a;
    }
  }

  private judgeRun(): void {
    const p = this.opts.property;
    if (p === undefined || !checksInvariant(this.checks, p.name)) return;
    const v = p.judge(this.history.ops);
    if (typeof v !== "boolean") throw new Stop(v);
    this.stats?.recordInvariant(p.name, v);
  }

  private pending(live: readonly number[], runnable: readonly number[]): Pending[] {
    return live.map((a) => ({ actor: a, label: this.scheduler.parkedAt(a) ?? "", ...this.next[a]!, enabled: runnable.includes(a) }));
  }

  async run(schedule: ScheduleSpec): Promise<RaceRun> {
    let failure: RaceFailure | undefined;
    try {
      await this.drive(schedule);
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      failure = e.failure;
    }
    this.stats?.recordRunLength(this.steps.filter((s) => s.actor !== SETUP).length);
    const costs = this.system.costs();
    this.stats?.recordCosts(costs);
    const run = { steps: this.steps, ops: this.history.ops, schedule: this.decisions, undecided: this.undecided, costs };
    return failure === undefined ? run : { ...run, failure };
  }
}

export const runRace = (config: Config, actors: readonly RaceActor[], schedule: ScheduleSpec, opts: RaceOptions = {}): Promise<RaceRun> =>
  new RaceRunner(config, actors, opts).run(schedule);
