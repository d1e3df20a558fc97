// One concurrent run: actors execute their operations on the implementation under the Scheduler, the
// schedule decides every interleaving, and the checks run as the run goes: "always" invariants at every
// yield point, and at every quiescent point the "quiescent" invariants plus linearization of the history
// since the previous one against the model, ending in the implementation's abstract state.
import { canonicalText, initial, STATE_INVARIANTS, STEP_INVARIANTS, step as modelStep, type State } from "../../model/index.js";
import { createSystem, type Kernel } from "../../impl/system.js";
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { ALL_CHECKS, type Checks, type Failure } from "../checker.js";
import { stableStringify } from "../outcomes.js";
import type { Stats } from "../stats.js";
import { diffFacts, kvmFacts } from "./effects.js";
import { checkSegment, concurrentWith, explain, History, type RaceOp } from "./history.js";
import { DEFAULT_BUDGET } from "./linearizability.js";
import { Scheduler } from "./scheduler.js";
import { chooser, rotation, type ScheduleSpec } from "./schedules.js";

/** The actor that builds the layout: it runs alone, to the end, before any other actor starts. */
export const SETUP = "setup";

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
  /** Segments whose linearization ran out of budget. */
  readonly undecided: number;
}

export interface RaceOptions {
  readonly checks?: Checks;
  readonly stats?: Stats;
  /** Record each step's effects (for diagrams; slower). */
  readonly effects?: boolean;
  /** More steps than this is reported as a livelock. */
  readonly maxSteps?: number;
  /** Model steps the linearizability search may try per segment. */
  readonly budget?: number;
}

/** The kernel entry point an operation stands for: the first line of each operation in a diagram. */
const ENTRY: Partial<Record<Op["op"], string>> = {
  create_vm: "kvm_dev_ioctl_create_vm",
  set_memory_region: "kvm_vm_ioctl_set_memory_region",
  set_memory_attributes: "kvm_vm_ioctl_set_mem_attributes",
  vcpu_access: "kvm_arch_vcpu_ioctl_run",
  create_gmem: "kvm_gmem_create",
  mmap: "do_mmap",
  munmap: "do_vmi_munmap",
  madvise: "do_madvise",
  userfault_set: "userfault_bitmap:set_bit",
  userfault_clear: "userfault_bitmap:clear_bit",
};
export const entryLabel = (op: Op): string => ENTRY[op.op] ?? op.op;

class Stop extends Error {
  constructor(readonly failure: RaceFailure) {
    super(failure.property);
  }
}

export async function runRace(config: Config, actors: readonly RaceActor[], schedule: ScheduleSpec, opts: RaceOptions = {}): Promise<RaceRun> {
  const checks = opts.checks ?? ALL_CHECKS;
  const enabled = (name: string): boolean => checks.invariants === true || (Array.isArray(checks.invariants) && checks.invariants.includes(name));
  const always = STATE_INVARIANTS.filter((i) => i.when === "always" && enabled(i.name));
  const quiescent = STATE_INVARIANTS.filter((i) => i.when === "quiescent" && enabled(i.name));
  const stepInvariants = STEP_INVARIANTS.filter((i) => enabled(i.name));
  const stats = opts.stats;
  const scheduler = new Scheduler();
  const system = createSystem(config, scheduler) as Kernel;
  const history = new History();
  const steps: RaceStep[] = [];
  const decisions: number[] = [];
  const pick = chooser(schedule);
  let undecided = 0;
  let model: State = initial(config);
  let facts = opts.effects ? kvmFacts(system) : undefined;
  let running: RaceStep | undefined;
  /** The operation each actor is in (or last finished). */
  const inOp: number[] = [];

  const body = (a: number) => async (): Promise<void> => {
    const actor = actors[a]!;
    for (const [i, op] of actor.steps.entries()) {
      await scheduler.yield(entryLabel(op));
      inOp[a] = i;
      running!.op = i;
      running!.invoked = true;
      const rec = history.invoke(actor.name, i, op, running!.index);
      const outcome = await system.exec(op);
      history.respond(rec, outcome, running!.index);
      running!.returned = outcome;
    }
  };

  /** Stops the run. The failure names an actor and the operation (index in its steps) that showed it; by
   * default the one whose schedule step just ran, which is the run's last. */
  const fail = (property: string, expected: unknown, actual: unknown, detail: string, at?: RaceOp): never => {
    const last = steps[steps.length - 1];
    const who = at !== undefined ? { actor: at.actor, step: at.index } : last !== undefined ? { actor: last.actor, step: last.op } : { step: 0 };
    throw new Stop({ property, expected, actual, detail, ...who });
  };

  const checkAlways = (): void => {
    if (always.length === 0) return;
    const impl = system.abstract();
    for (const inv of always) {
      const v = inv.check(impl);
      stats?.recordInvariant(inv.name, v.nonVacuous);
      if (!v.holds) fail(inv.name, "holds", "violated", v.detail ?? inv.description);
    }
  };

  /** Runs actor a to its next yield point, then (unless told not to) checks what must hold there. */
  const runStep = async (a: number, check = true): Promise<void> => {
    const name = actors[a]!.name;
    const s: RaceStep = { index: steps.length, actor: name, op: inOp[a] ?? 0, invoked: false, from: scheduler.parkedAt(a) ?? "", label: "", effects: [] };
    running = s;
    steps.push(s);
    await scheduler.resume(a);
    s.label = s.returned !== undefined ? "return" : (scheduler.parkedAt(a) ?? "return");
    const err = scheduler.errorOf(a);
    if (err !== undefined) fail("exception", "no exception", String(err), `${name} threw: ${err instanceof Error ? err.message : String(err)}`);
    if (facts !== undefined) {
      const now = kvmFacts(system);
      s.effects = diffFacts(facts, now);
      facts = now;
    }
    if (!check) return;
    checkAlways();
    if (history.quiescent) atQuiescence();
  };

  /** Steps the model along a (partial) linearization from the segment's start, recording its outcomes. */
  const annotate = (order: readonly RaceOp[]): { r: RaceOp; pre: State; post: State }[] => {
    let pre = model;
    return order.map((r) => {
      const res = (r.impl === undefined ? undefined : explain(pre, r.op, r.impl, concurrentWith(order, r))) ?? modelStep(pre, r.op);
      r.model = res.outcome;
      r.fired = res.fired;
      stats?.recordStep(res.fired);
      const step = { r, pre, post: res.state };
      pre = res.state;
      return step;
    });
  };

  const atQuiescence = (): void => {
    const impl = system.abstract();
    for (const inv of quiescent) {
      const v = inv.check(impl);
      stats?.recordInvariant(inv.name, v.nonVacuous);
      if (!v.holds) fail(inv.name, "holds", "violated", v.detail ?? inv.description);
    }
    const seg = history.takeSegment();
    if (!checks.refinement) return;
    const v = checkSegment(model, seg, impl, opts.budget ?? DEFAULT_BUDGET);
    if (v.kind === "undecided") {
      undecided++;
      model = impl;
      return;
    }
    if (v.kind === "state") {
      annotate(v.order);
      fail("refinement.state", v.model, v.impl, `no order of the model's steps that explains the outcomes ends in the implementation's state: ${v.detail}`);
    }
    if (v.kind === "outcome") {
      annotate(v.prefix);
      const s = v.stuck;
      s.model = v.expected;
      const why = stepInvariants.map((inv) => ({ inv, v: inv.check(v.pre, s.op, s.impl!, modelStep(v.pre, s.op).state) })).find((x) => !x.v.holds);
      const explained = v.prefix.map((r) => `${r.actor}#${r.index} ${r.op.op}`).join(", ") || "nothing";
      fail(
        "linearizability",
        v.expected,
        s.impl,
        `no order of the model's steps explains the outcomes: after ${explained}, ${s.actor}'s ${s.op.op} (#${s.index}) returned ${stableStringify(s.impl)} where the model says ${stableStringify(v.expected)}` +
          (why === undefined ? "" : ` (${why.inv.name}: ${why.v.detail})`),
        s,
      );
    }
    if (v.kind !== "ok") return;
    for (const { r, pre, post } of annotate(v.order)) {
      for (const inv of stepInvariants) {
        const iv = inv.check(pre, r.op, r.impl!, post);
        stats?.recordInvariant(inv.name, iv.nonVacuous);
        if (!iv.holds) fail(inv.name, "holds", "violated", iv.detail ?? inv.description, r);
      }
    }
    stats?.recordInvariant("linearizable", v.overlapping);
    stats?.recordState(canonicalText(v.final));
    // Go on from the implementation's state: it agrees with the model's, with possibly fewer SPTEs.
    model = impl;
  };

  const all = actors.map((_, i) => i);
  const setup = actors[0]?.name === SETUP ? [0] : [];
  const others = all.filter((a) => !setup.includes(a));
  const maxSteps = opts.maxSteps ?? 5000;
  try {
    for (const a of all) await scheduler.start(a, body(a));
    // The setup is the same sequential run every time (the sequential suites check its steps): one segment.
    for (const a of setup) while (!scheduler.isFinished(a)) await runStep(a, false);
    checkAlways();
    if (history.quiescent) atQuiescence();
    let current = others[0] ?? 0;
    for (let n = 1; ; n++) {
      const live = others.filter((a) => !scheduler.isFinished(a));
      if (live.length === 0) break;
      const runnable = scheduler.runnable(live);
      if (runnable.length === 0) {
        const waits = live.map((a) => `${actors[a]!.name} at ${scheduler.parkedAt(a)}`).join(", ");
        fail("deadlock", "a runnable actor", waits, `no actor can run: ${waits}`);
      }
      if (n > maxSteps) fail("livelock", `at most ${maxSteps} steps`, n, `the actors ran ${maxSteps} steps without finishing`);
      let a = runnable[0]!;
      if (runnable.length > 1) {
        a = pick.pick(runnable, current, n);
        decisions.push(rotation(runnable, current).indexOf(a));
      }
      await runStep(a);
      pick.ran(a, n);
      current = a;
    }
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    return { steps, ops: history.ops, schedule: decisions, failure: e.failure, undecided };
  }
  return { steps, ops: history.ops, schedule: decisions, undecided };
}
