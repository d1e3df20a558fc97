// faultline conform --races: every race suite's scenario shape (or a given concurrent scenario) run N times on the
// real kernel by the helper's actors, each history checked (races.ts), overlap and response orders counted, a failing
// history shrunk and written as a counterexample file that keeps the recorded history.
import { createHash } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { step } from "../model/index.js";
import type { ConcurrentSuite } from "../props/concurrent/explore.js";
import { POSTCOPY_KVM_RACE, POSTCOPY_RACE, POSTCOPY_RACE_ARM64, raceActors, type PostcopyRaceSuite } from "../props/postcopy/race.js";
import { SETUP } from "../props/concurrent/harness.js";
import { SUITES } from "../props/registry.js";
import type { Suite } from "../props/suite.js";
import { configToInput, resolveConfig, type Config } from "../schema/config.js";
import { stringifyExact } from "../schema/json.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import type { Scenario } from "../schema/scenario.js";
import type { Host } from "./capabilities.js";
import { runSteps } from "./compare.js";
import { Helper, type Reply } from "./native.js";
import { KERNEL_RACES, type KernelRace } from "./race-shapes.js";
import { checkRecording, observations, overlaps, responseOrder, stateAfter } from "./races.js";
import type { Actor, HistoryVerdict, Observation, RecordedOp, Recording, StepFn } from "./races.js";
import { featuresTouched, planScenario, unmet } from "./requirements.js";

/** One run's layout (run alone, step by step) and its actors (released together). */
export interface Drawn {
  readonly setup: readonly Op[];
  readonly actors: readonly Actor[];
}

/** A race to run on the kernel: the layout and actors of each run. */
export interface RaceShape {
  readonly name: string;
  readonly description: string;
  /** The configuration it was written for (the model runs with the host's). */
  readonly config: Config;
  /** The run with this seed: drawn from a race suite's generator, or a file's own actors. */
  draw(seed: number): Drawn;
}

const sample = <T>(arb: fc.Arbitrary<T>, seed: number): T => fc.sample(arb, { seed, numRuns: 1 })[0]!;

const suiteShape = (s: KernelRace | ConcurrentSuite): RaceShape => ({
  name: s.name,
  description: s.description,
  config: s.config,
  draw: (seed) => ({ setup: s.setup, actors: sample(s.actors, seed).map((a) => ({ name: a.name, steps: a.steps })) }),
});

/** A post-copy race suite draws from its own generator (postcopy-kvm-race's KVM accesses are skipped: KVM_GUEST_UACCESS). */
const postcopyShape = (s: PostcopyRaceSuite): RaceShape => ({
  name: s.name,
  description: s.description,
  config: s.config,
  draw: (seed) => {
    const [setup, ...actors] = raceActors(sample(s.arbitrary, seed), []);
    return { setup: setup!.steps, actors };
  },
});

/** A post-copy race draws whole runs from `arbitrary`, not actors: only the three above reach the kernel so far. */
const isPostcopyRace = (s: Suite): boolean => "arbitrary" in s;

/**
 * Every race suite of `faultline check` but the post-copy ones, the default post-copy shapes, then the races written for
 * the kernel (race-shapes.ts). The post-copy races on every backing (issue 19) are not run on the kernel yet.
 */
export const raceShapes = (): RaceShape[] => [
  ...SUITES.filter((s): s is ConcurrentSuite => s.kind === "concurrent" && !isPostcopyRace(s)).map(suiteShape),
  postcopyShape(POSTCOPY_RACE),
  postcopyShape(POSTCOPY_RACE_ARM64),
  postcopyShape(POSTCOPY_KVM_RACE),
  ...KERNEL_RACES.map(suiteShape),
];

/** A concurrent scenario file: its "setup" actor (if first) builds the layout, the others race, the same each run. */
export function scenarioShape(s: Scenario): RaceShape {
  const actors = s.actors ?? [];
  const setup = actors[0]?.name === SETUP ? actors[0].steps : [];
  const racing = actors.filter((a, i) => !(i === 0 && a.name === SETUP));
  const draw = (): Drawn => ({ setup, actors: racing.map((a) => ({ ...a })) });
  return { name: s.name, description: s.description ?? "", config: resolveConfig(s.config), draw };
}

const DRAWS = 8;

/**
 * A shape as this host can run it: a setup memslot the host cannot create (a second address space) is left out when
 * no actor's operation names that slot, so the race itself still runs; what remains is planned like a scenario file,
 * on the setup and the actors of a few draws.
 */
export function planRace(
  shape: RaceShape,
  host: Host,
  seed: number,
): { readonly plan: ReturnType<typeof planScenario>; readonly shape: RaceShape; readonly dropped: number } {
  const draws = Array.from({ length: DRAWS }, (_, k) => shape.draw(seed + k));
  const named = new Set(draws.flatMap((d) => d.actors.flatMap((a) => a.steps.flatMap((o) => ("slot" in o ? [`${o.vm}:${o.slot}`] : [])))));
  const lacks = (o: Op): boolean => featuresTouched(o).some((c) => unmet(host, { capability: c, present: true }) !== undefined);
  const droppable = (o: Op): boolean => o.op === "set_memory_region" && lacks(o) && !named.has(`${o.vm}:${o.slot}`);
  const dropped = draws[0]!.setup.filter(droppable).length;
  const drawAdapted = (s: number): Drawn => {
    const d = shape.draw(s);
    return { ...d, setup: d.setup.filter((o) => !droppable(o)) };
  };
  const adapted: RaceShape = dropped === 0 ? shape : { ...shape, draw: drawAdapted };
  const steps = draws.flatMap((d) => [...d.setup.filter((o) => !droppable(o)), ...d.actors.flatMap((a) => a.steps)]);
  const plan = planScenario({ version: 1, name: shape.name, config: configToInput(shape.config), steps }, host);
  return { plan, shape: adapted, dropped };
}

export type RunResult =
  | { readonly kind: "ran"; readonly rec: Recording }
  /** The helper cannot run something of it here (a step it answers "unsupported"). */
  | { readonly kind: "unsupported"; readonly why: string }
  | { readonly kind: "error"; readonly why: string };

type Problem = Exclude<RunResult, { kind: "ran" }>;

function problem(r: Reply): Problem | undefined {
  if (typeof r.unsupported === "string") return { kind: "unsupported", why: r.unsupported };
  return typeof r.helper_error === "string" ? { kind: "error", why: r.helper_error } : undefined;
}

interface RawOp {
  readonly call: number | null;
  readonly ret: number | null;
  readonly outcome: Reply | null;
  readonly waits?: string;
}

/** The helper that runs the races; a fresh one after a helper gave up on a run it could not end. */
export class RaceHelper {
  constructor(private current?: Helper) {}
  get helper(): Helper {
    if (this.current === undefined || !this.current.alive) this.current = new Helper();
    return this.current;
  }
  async close(): Promise<void> {
    await this.current?.close();
  }
}

/** One run: the setup step by step (each outcome checked), the actors released together, then the observations. */
export async function runOnce(
  h: RaceHelper,
  config: Config,
  setup: readonly Op[],
  actors: readonly Actor[],
  seed: number,
  watchdogMs: number,
): Promise<RunResult> {
  const reports = await runSteps(h.helper, config, setup);
  const bad = reports.find((r) => r.verdict !== "agree" && r.verdict !== "deviation");
  if (bad !== undefined) {
    const both = `model ${JSON.stringify(bad.model)}, kernel ${JSON.stringify(bad.kernel)}`;
    const what = `setup step ${bad.index} (${bad.op.op}): ${bad.verdict}, ${both}`;
    return { kind: bad.verdict === "model only" ? "unsupported" : "error", why: what };
  }
  const line = { op: "__race", seed, watchdog_ms: watchdogMs, pin: true, actors: actors.map((a) => ({ name: a.name, steps: a.steps })) };
  const reply = await h.helper.send(line);
  const p = problem(reply);
  if (p !== undefined) return p;
  if (reply.result !== "race") return { kind: "error", why: `not a race answer: ${JSON.stringify(reply)}` };
  const ops: RecordedOp[] = [];
  for (const a of reply.actors as { name: string; ops: RawOp[] }[]) {
    for (const [index, o] of a.ops.entries()) {
      if (o.call === null) continue;
      if (o.outcome !== null) {
        const q = problem(o.outcome);
        if (q !== undefined) return { kind: q.kind, why: `${a.name} step ${index}: ${q.why}` };
      }
      const waits = o.waits === undefined ? {} : { waits: o.waits };
      ops.push({ actor: a.name, index, call: o.call, ret: o.ret, outcome: o.outcome as Outcome | null, ...waits });
    }
  }
  const watchdog = reply.watchdog === true;
  const after: Observation[] = [];
  // After a watchdog every userfaultfd is closed: the state is no longer the race's, so nothing is read.
  for (const op of watchdog ? [] : observations(setup, actors)) {
    const r = await h.helper.send(op);
    if (typeof r.unsupported === "string") continue;
    if (typeof r.helper_error === "string") return { kind: "error", why: `observation ${op.op}: ${r.helper_error}` };
    after.push({ op, outcome: r as Outcome });
  }
  return { kind: "ran", rec: { seed, watchdog, ops, after } };
}

export interface RaceOptions {
  readonly runs: number;
  readonly seed: number;
  /** How long the actors may run before the watchdog ends the run (ms). */
  readonly watchdogMs?: number;
  /** The model's step (a test gives a deliberately wrong one). */
  readonly stepFn?: StepFn;
  /** Check wakeups as the model has them, atomic with the retries (races.ts deferWake): a model the kernel refutes. */
  readonly atomicWake?: boolean;
  /** Runs of each smaller candidate while shrinking (each with another jitter seed). */
  readonly shrinkTries?: number;
  /** Where a failing history is written (default conformance/found); undefined with `write: false`. */
  readonly foundDir?: string;
  readonly write?: boolean;
  readonly onRun?: (done: number, total: number) => void;
}

export interface RaceReport {
  readonly shape: string;
  /** Setup memslots left out because the host cannot create them and no actor names them (planRace). */
  readonly dropped: number;
  readonly skipped?: string;
  readonly runs: number;
  /** Histories checked (runs that were neither unsupported nor a helper error). */
  readonly checked: number;
  readonly overlapping: number;
  /** Distinct orders in which the actors' operations answered. */
  readonly orders: number;
  /** Runs the watchdog ended with operations blocked where the model lets them block. */
  readonly blocked: number;
  /** Histories explained only with a documented deviation of this kernel, and which. */
  readonly deviations: number;
  readonly deviationIds: readonly string[];
  readonly unsupported: number;
  readonly errors: readonly string[];
  readonly undecided: number;
  readonly durationMs: number;
  /** The first failing history: at which run it was recorded, shrunk, and where it was written. */
  readonly failure?: Found & { readonly run: number; readonly file?: string };
}

const failed = (v: HistoryVerdict): boolean => v.kind === "illegal" || v.kind === "blocked";

/** A race's report before any run (also a skipped one's). */
export const emptyReport = (shape: string): Omit<RaceReport, "durationMs"> => ({
  shape,
  dropped: 0,
  runs: 0,
  checked: 0,
  overlapping: 0,
  orders: 0,
  blocked: 0,
  deviations: 0,
  deviationIds: [],
  unsupported: 0,
  errors: [],
  undecided: 0,
});

const without = (a: Actor, k: number): Actor => ({ ...a, steps: a.steps.filter((_, m) => m !== k) });

/** Runs a shape `opts.runs` times (or until a history fails), shrinks the failure, writes it. */
export async function runRaceShape(h: RaceHelper, host: Host, written: RaceShape, opts: RaceOptions): Promise<RaceReport> {
  const started = performance.now();
  const { plan, shape, dropped } = planRace(written, host, opts.seed);
  const base = { ...emptyReport(shape.name), dropped };
  if (!plan.run) return { ...base, skipped: plan.skip, durationMs: 0 };
  const config = plan.config;
  const stepFn = opts.stepFn ?? step;
  const watchdogMs = opts.watchdogMs ?? 1000;
  const orders = new Set<string>();
  const deviationIds = new Set<string>();
  const errors: string[] = [];
  let checked = 0;
  let overlapping = 0;
  let blocked = 0;
  let deviations = 0;
  let unsupported = 0;
  let undecided = 0;
  let runs = 0;
  let failure: RaceReport["failure"];
  const check = (setup: readonly Op[], actors: readonly Actor[], rec: Recording): HistoryVerdict =>
    checkRecording(stateAfter(config, setup, stepFn), actors, rec, { stepFn, ...(opts.atomicWake ? { atomicWake: true } : {}) });
  for (let i = 0; i < opts.runs && failure === undefined; i++) {
    const seed = opts.seed + i;
    const { setup, actors } = shape.draw(seed);
    const r = await runOnce(h, config, setup, actors, seed, watchdogMs);
    runs++;
    opts.onRun?.(runs, opts.runs);
    if (r.kind === "unsupported") {
      unsupported++;
      continue;
    }
    if (r.kind === "error") {
      errors.push(`run ${i}: ${r.why}`);
      if (errors.length >= 3) break;
      continue;
    }
    checked++;
    if (overlaps(r.rec)) overlapping++;
    orders.add(responseOrder(r.rec));
    const v = check(setup, actors, r.rec);
    if (v.kind === "undecided") undecided++;
    if (v.kind === "ok") {
      deviations += v.deviations.length > 0 ? 1 : 0;
      for (const d of v.deviations) deviationIds.add(d);
      if (v.blocked.length > 0) blocked++;
    }
    if (failed(v)) {
      const small = await shrink(h, config, setup, actors, r.rec, v, watchdogMs, opts.shrinkTries ?? 10, check);
      const dir = opts.foundDir ?? join("conformance", "found");
      const file = opts.write === false ? undefined : writeCounterexample(dir, shape, config, setup, small);
      failure = { run: i + 1, ...small, ...(file === undefined ? {} : { file }) };
    }
  }
  const ids = [...deviationIds];
  const counts = { runs, checked, overlapping, orders: orders.size, blocked, deviations, deviationIds: ids, unsupported, undecided };
  return { ...base, ...counts, errors, durationMs: performance.now() - started, ...(failure === undefined ? {} : { failure }) };
}

interface Found {
  readonly actors: readonly Actor[];
  readonly rec: Recording;
  readonly verdict: HistoryVerdict;
}

/** Smaller actor sets (one actor, or one operation, fewer) that still fail in one of `tries` runs, each with its own jitter seed. */
async function shrink(
  h: RaceHelper,
  config: Config,
  setup: readonly Op[],
  actors: readonly Actor[],
  rec: Recording,
  verdict: HistoryVerdict,
  watchdogMs: number,
  tries: number,
  check: (setup: readonly Op[], actors: readonly Actor[], rec: Recording) => HistoryVerdict,
): Promise<Found> {
  let best: Found = { actors, rec, verdict };
  const candidates = (as: readonly Actor[]): Actor[][] => [
    ...(as.length > 1 ? as.map((_, i) => as.filter((__, j) => j !== i)) : []),
    ...as.flatMap((a, i) => (a.steps.length > 1 ? a.steps.map((_, k) => as.map((b, j) => (j === i ? without(b, k) : b))) : [])),
  ];
  for (let progress = true; progress; ) {
    progress = false;
    for (const c of candidates(best.actors)) {
      for (let t = 0; t < tries && !progress; t++) {
        const r = await runOnce(h, config, setup, c, best.rec.seed + t, watchdogMs);
        if (r.kind !== "ran") continue;
        const v = check(setup, c, r.rec);
        if (failed(v)) {
          best = { actors: c, rec: r.rec, verdict: v };
          progress = true;
        }
      }
      if (progress) break;
    }
  }
  return best;
}

/** The failure of a history as a scenario file's `failure`. */
function failureOf(f: Found): NonNullable<Scenario["failure"]> {
  const v = f.verdict;
  const [actor, index] = v.kind === "illegal" || v.kind === "blocked" ? v.stuck.split("#") : ["after", "0"];
  // An observation after the run is no actor's step: the failure then names the first step and its detail says which.
  const base = actor === "after" ? { step: 0 } : { step: Number(index), actor: actor! };
  if (v.kind === "blocked") {
    const detail = `${v.stuck} stayed blocked where the model says it cannot block`;
    return { ...base, property: "blocked", expected: "an answer", actual: `blocked in ${v.waits}`, detail };
  }
  if (v.kind === "illegal") {
    const after = v.prefix.join(", ") || "nothing";
    const answered = `${v.stuck} answered ${JSON.stringify(v.actual)} where the model says ${JSON.stringify(v.expected)}`;
    const detail = `no order of the model's steps explains the recorded outcomes: after ${after}, ${answered}`;
    return { ...base, property: "linearizability", expected: v.expected, actual: v.actual, detail };
  }
  return { ...base, property: v.kind, expected: null, actual: null };
}

/** The scenario file of a failing recorded race: its actors (setup first), the history and what was read after. */
export function recordedScenario(shape: RaceShape, config: Config, host: string, setup: readonly Op[], f: Found): Scenario {
  const failure = failureOf(f);
  return {
    version: 1,
    name: `${shape.name} on the real kernel`,
    description: `${shape.description}; recorded on ${host}`,
    config: configToInput(config),
    actors: [...(setup.length > 0 ? [{ name: SETUP, steps: [...setup] }] : []), ...f.actors.map((a) => ({ ...a, steps: [...a.steps] }))],
    failure,
    recorded: { seed: f.rec.seed, watchdog: f.rec.watchdog, ops: f.rec.ops.map((r) => ({ ...r })), after: [...f.rec.after], host },
    provenance: { seed: f.rec.seed, suite: shape.name, found: "faultline conform --races" },
  };
}

function writeCounterexample(dir: string, shape: RaceShape, config: Config, setup: readonly Op[], f: Found): string {
  const scenario = recordedScenario(shape, config, `Linux ${release()}`, setup, f);
  mkdirSync(dir, { recursive: true });
  const hash = createHash("sha256").update(JSON.stringify(scenario.actors)).digest("hex").slice(0, 10);
  const file = join(dir, `race-kernel-${shape.name}--${hash}.json`);
  // Atomically: a reader (or a second run) sees no file or the whole one.
  writeFileSync(`${file}.${process.pid}.tmp`, `${stringifyExact(scenario)}\n`);
  renameSync(`${file}.${process.pid}.tmp`, file);
  return file;
}
