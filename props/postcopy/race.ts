// The post-copy flow under the race harness: the VMM's fetcher, a vCPU and a VMM thread run as actors whose
// kernel calls interleave at every yield point (alias write vs CONTINUE vs fault vs the userfault bit), on the
// default guest_memfd shape here and on every backing in props/postcopy/race-shapes.ts. The harness checks the
// kernel side (invariants, linearizability against the model); on top, every read anyone completes must return the
// source snapshot (the guest only reads in this family), no page's contents go in twice, and a teardown, where there
// is one, finds every thread finished.
import fc from "fast-check";
import { PAGE_SIZE } from "../../model/consts.js";
import { PRESETS, configToInput, type Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Scenario } from "../../schema/scenario.js";
import { ALL_CHECKS, type Checks } from "../checker.js";
import { runRace, SETUP, TEARDOWN, type RaceActor, type RaceFailure, type RaceRun } from "../concurrent/harness.js";
import { pctSteps } from "../concurrent/run-lengths.js";
import { describeSchedule, scheduleArbitrary, type ScheduleSpec } from "../concurrent/schedules.js";
import { Stats } from "../stats.js";
import { runConfig, type Suite, type SuiteResult, type SuiteRunOptions } from "../suite.js";
import { bugsOf, type Bugs } from "../../impl/bugs.js";
import { backingOf } from "./backing.js";
import { balloonedPage, shapeActors, shapeRaceArbitrary, type ShapeRace } from "./race-shapes.js";
import { postcopyInput, setupOps, type BackingName, type PostcopyScenario } from "./scenario.js";
import { POSTCOPY_CHECKS } from "./vmm.js";

/** The default shape's race: one vCPU's reads, a VMM thread, and KVM's own access for vCPU 1. */
export interface DefaultRace {
  readonly sc: PostcopyScenario;
  /** Guest reads (page, offset) by the vCPU, and the pages the VMM thread reads. */
  readonly vcpu: readonly { page: number; offset: number }[];
  readonly vmm: readonly number[];
  /** KVM's own access for vCPU 1 (postcopy-kvm-race): a copy through the hva, an emulated load, or a fetch. */
  readonly kvm?: { readonly page: number; readonly offset: number; readonly how: "copy" | "emulate" | "fetch" };
  /** The fetcher fills pages nobody pre-copied with UFFDIO_COPY (else alias write and CONTINUE). */
  readonly copyMissing?: boolean;
  /** The fetcher turns KVM_MEM_USERFAULT off once every page is fetched (the end of post-copy). */
  readonly toggle?: boolean;
}

/** A race on one of issue 19's backings (props/postcopy/race-shapes.ts). */
export interface ShapedRace {
  readonly sc: PostcopyScenario;
  readonly shape: ShapeRace;
}

export type RacePostcopy = DefaultRace | ShapedRace;

const kvmRead = (k: NonNullable<DefaultRace["kvm"]>): Op => ({
  op: "kvm_access",
  vm: "v0",
  vcpu: 1,
  gpa: k.page * PAGE_SIZE + k.offset,
  kind: k.how === "fetch" ? "exec" : "read",
  ...(k.how === "emulate" ? { emulate: true } : {}),
});
const read = (p: number, o: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: p * PAGE_SIZE + o, kind: "read" });

/** KVM_MEM_USERFAULT turned off on the post-copy slot (a FLAGS_ONLY change). */
const userfaultOff = (sc: PostcopyScenario): Op => ({
  op: "set_memory_region",
  vm: "v0",
  slot: 0,
  flags: ["GUEST_MEMFD"],
  guest_phys_addr: 0,
  memory_size: sc.pages * PAGE_SIZE,
  userspace: "m0",
  guest_memfd: "g0",
  guest_memfd_offset: 0,
});

/**
 * The fetcher's program: per page the fetch (alias write, bit clear) and CONTINUE for its waiters, or UFFDIO_COPY and the
 * bit clear for a page nobody pre-copied (copyMissing); KVM_MEM_USERFAULT off at the end (toggle); then it reads
 * everything back. The seeded `postcopy-userfault-off-early` turns USERFAULT off before the last page's fetch.
 */
export function fetcherSteps(sc: PostcopyScenario, bugs: Bugs, opts: { copyMissing?: boolean; toggle?: boolean } = {}): Op[] {
  const out: Op[] = [];
  for (const [i, p] of sc.fetchOrder.entries()) {
    const write: Op = { op: "write_alias", map: "m0", offset: p * PAGE_SIZE, byte: sc.source[p]!, len: PAGE_SIZE };
    const clear: Op = { op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: p, npages: 1 };
    const cont: Op = { op: "uffdio_continue", uffd: "u0", map: "m0", offset: p * PAGE_SIZE, len: PAGE_SIZE };
    const copy: Op = { op: "uffdio_copy", uffd: "u0", map: "m0", offset: p * PAGE_SIZE, len: PAGE_SIZE, byte: sc.source[p]! };
    if (opts.toggle === true && i === sc.fetchOrder.length - 1 && bugs.has("postcopy-userfault-off-early")) out.push(userfaultOff(sc));
    if (opts.copyMissing === true && sc.precopied[p] === null) out.push(...(bugs.has("postcopy-clear-before-write") ? [clear, copy] : [copy, clear]));
    else if (bugs.has("postcopy-continue-before-write")) out.push(cont, write, clear);
    else if (bugs.has("postcopy-clear-before-write")) out.push(clear, write, cont);
    else out.push(write, clear, cont);
  }
  if (opts.toggle === true && !bugs.has("postcopy-userfault-off-early")) out.push(userfaultOff(sc));
  for (let p = 0; p < sc.pages; p++) out.push({ op: "read_alias", map: "m0", offset: p * PAGE_SIZE });
  return out;
}

export function raceActors(r: RacePostcopy, bugs: readonly string[]): RaceActor[] {
  if ("shape" in r) return shapeActors(r.sc, r.shape, bugs);
  return [
    { name: SETUP, steps: setupOps(r.sc, bugsOf(bugs)) },
    { name: "fetcher", steps: fetcherSteps(r.sc, bugsOf(bugs), r) },
    { name: "vcpu0", steps: r.vcpu.map((a) => read(a.page, a.offset)) },
    { name: "vmm", steps: [...r.vmm.map((p, i): Op => ({ op: "access", map: "m0", offset: p * PAGE_SIZE, kind: "read", id: `t${i}` })), ...r.vmm.map((_, i): Op => ({ op: "wake_check", id: `t${i}` }))] },
    ...(r.kvm === undefined ? [] : [{ name: "kvm", steps: [kvmRead(r.kvm), { op: "wake_check", id: "v0.vcpu1" } satisfies Op] }]),
  ];
}

/** The thread an access runs as (its wake_check names it): a VMM thread's id, or the vCPU's for KVM's and the guest's. */
const threadOf = (op: Op): string | undefined =>
  op.op === "access" ? op.id : op.op === "vcpu_access" || op.op === "kvm_access" ? `${op.vm}.vcpu${op.vcpu}` : undefined;

type RaceScenario = Pick<PostcopyScenario, "source" | "events" | "backing">;

/**
 * Every completed read of guest memory returned the source byte of its page (`step` is the read's index in its
 * actor), but on the page the balloon took back. A wake_check reads the page of its thread's latest access before it.
 * Reads by the teardown, or back through the alias, are the end of the migration.
 */
export function checkReads(sc: RaceScenario, run: RaceRun): RaceFailure | undefined {
  const unit = backingOf({ ...sc, pages: 0, precopied: [], fetchOrder: [] }).unit;
  const ballooned = balloonedPage({ ...sc, pages: 0, precopied: [], fetchOrder: [] });
  const pageOf = (op: Op, at: number): number | undefined => {
    if (op.op === "vcpu_access" || op.op === "kvm_access") return Math.floor(op.gpa / unit);
    if (op.op === "access" || op.op === "read_alias") return Math.floor(op.offset / unit);
    if (op.op !== "wake_check") return undefined;
    for (let j = at - 1; j >= 0; j--) if (threadOf(run.ops[j]!.op) === op.id) return pageOf(run.ops[j]!.op, j);
    return undefined;
  };
  for (const [i, o] of run.ops.entries()) {
    const p = pageOf(o.op, i);
    const out = o.impl as (Outcome & { value?: unknown }) | undefined;
    if (p === undefined || p === ballooned || out === undefined || !("result" in out) || (out.result !== "ok" && out.result !== "completed") || typeof out.value !== "number") continue;
    const want = sc.source[p]!;
    if (out.value !== want) {
      const property = o.op.op === "read_alias" || o.actor === TEARDOWN ? POSTCOPY_CHECKS.final : POSTCOPY_CHECKS.earlyRead;
      const detail = `${o.actor}'s ${o.op.op} read ${out.value} from page ${p}, whose source byte is ${want}`;
      return { property, step: o.index, expected: want, actual: out.value, detail, actor: o.actor };
    }
  }
  return undefined;
}

/** Once every other actor finished, the teardown's re-entries and wake_checks find no thread asleep or exiting. */
function checkFinished(run: RaceRun): RaceFailure | undefined {
  for (const o of run.ops) {
    if (o.actor !== TEARDOWN || o.impl === undefined || !("result" in o.impl)) continue;
    const r = o.impl.result;
    const stuck = o.op.op === "wake_check" ? r === "blocked" : (o.op.op === "vcpu_access" || o.op.op === "access") && r !== "ok";
    if (!stuck) continue;
    const who = o.op.op === "wake_check" ? o.op.id : threadOf(o.op);
    const detail = `${who} ${r === "blocked" ? "still sleeps" : `still gets ${r}`} after every page was fetched (${o.op.op})`;
    return { property: POSTCOPY_CHECKS.finish, step: o.index, expected: "every thread ran", actual: r, detail, actor: o.actor };
  }
  return undefined;
}

/** A bound of the cost model: no page's contents go in twice (a UFFDIO_COPY that placed it, or a write through the alias). */
function checkFetchOnce(sc: RaceScenario, run: RaceRun): RaceFailure | undefined {
  const unit = backingOf({ ...sc, pages: 0, precopied: [], fetchOrder: [] }).unit;
  const installs = new Map<number, number>();
  for (const o of run.ops) {
    const op = o.op;
    if (o.actor === SETUP || (op.op !== "uffdio_copy" && op.op !== "write_alias") || o.impl === undefined || !("result" in o.impl) || o.impl.result !== "ok") continue;
    const p = Math.floor(op.offset / unit);
    const n = (installs.get(p) ?? 0) + 1;
    installs.set(p, n);
    if (n > 1) return { property: POSTCOPY_CHECKS.fetchOnce, step: o.index, expected: 1, actual: n, detail: `page ${p}'s contents went in ${n} times (${o.actor}'s ${op.op})`, actor: o.actor };
  }
  return undefined;
}

/** The post-copy checks of a run, after the harness's own. */
export const checkPostcopyRun = (sc: RaceScenario, run: RaceRun): RaceFailure | undefined => checkReads(sc, run) ?? checkFinished(run) ?? checkFetchOnce(sc, run);

const arbitrary: fc.Arbitrary<DefaultRace> = fc.integer({ min: 1, max: 3 }).chain((pages) =>
  fc.record({
    sc: fc.record({
      pages: fc.constant(pages),
      source: fc.uniqueArray(fc.integer({ min: 1, max: 255 }), { minLength: pages, maxLength: pages }),
      precopied: fc.array(fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 255 })), { minLength: pages, maxLength: pages }),
      fetchOrder: fc.shuffledSubarray([...Array(pages).keys()], { minLength: pages, maxLength: pages }),
      events: fc.constant([]),
    }).map((sc) => ({ ...sc, precopied: sc.precopied.map((b, p) => (b === sc.source[p] ? null : b)) })),
    vcpu: fc.array(fc.record({ page: fc.nat({ max: pages - 1 }), offset: fc.constantFrom(0, PAGE_SIZE - 1) }), { minLength: 1, maxLength: 2 }),
    vmm: fc.array(fc.nat({ max: pages - 1 }), { minLength: 1, maxLength: 2 }),
  }),
);

/** postcopy-kvm-race: one KVM access for vCPU 1 besides, COPY for missing pages in some runs, and USERFAULT off at the end. */
const kvmArbitrary: fc.Arbitrary<DefaultRace> = fc
  .tuple(arbitrary, fc.record({ slot: fc.nat({ max: 2 }), offset: fc.constantFrom(0, PAGE_SIZE - 1), how: fc.constantFrom("copy", "emulate", "fetch") as fc.Arbitrary<"copy" | "emulate" | "fetch"> }), fc.boolean())
  .map(([r, k, copyMissing]) => ({ ...r, vmm: r.vmm.slice(0, 1), kvm: { page: k.slot % r.sc.pages, offset: k.offset, how: k.how }, copyMissing, toggle: true }));

export interface PostcopyRaceResult extends SuiteResult {
  readonly msToFailure?: number;
  readonly foundBy?: string;
}

class Found extends Error {
  constructor(readonly failure: RaceFailure) {
    super(failure.property);
  }
}

/** The post-copy race as a suite: its configuration, and PCT's bug depth d and k (the longest run, in schedule steps). */
export interface PostcopyRaceSuite extends Suite {
  readonly config: Config;
  readonly arbitrary: fc.Arbitrary<RacePostcopy>;
  readonly steps: number;
  readonly depth: number;
  /** What the harness checks unless the run asks otherwise (every check when absent). */
  readonly checks?: Checks;
  /** false: the first failing run is the counterexample (a run costs seconds, shrinking re-runs it many times). */
  readonly shrink?: boolean;
}

export async function runPostcopyRace(suite: PostcopyRaceSuite, opts: SuiteRunOptions): Promise<PostcopyRaceResult> {
  const config = runConfig(suite.config, opts);
  const checks = opts.checks ?? suite.checks ?? ALL_CHECKS;
  const stats = new Stats();
  let found: { r: RacePostcopy; run: RaceRun; spec: ScheduleSpec; runs: number; ms: number } | undefined;
  const started = performance.now();
  const property = fc.asyncProperty(suite.arbitrary, scheduleArbitrary("mixed", suite.depth, suite.steps), async (r, spec) => {
    stats.recordRun();
    opts.onRun?.(stats.runs);
    const budget = opts.searchBudget === undefined ? {} : { budget: opts.searchBudget };
    const run = await runRace(config, raceActors(r, config.bugs), spec, { checks, stats, ...budget });
    const failure = run.failure ?? checkPostcopyRun(r.sc, run);
    if (failure === undefined) return;
    found = { r, run, spec, runs: found?.runs ?? stats.runs, ms: found?.ms ?? performance.now() - started };
    stats.frozen = true;
    throw new Found(failure);
  });
  const details = await fc.check(property, {
    seed: opts.seed,
    numRuns: opts.runs,
    ...(opts.timeBudgetMs === undefined ? {} : { interruptAfterTimeLimit: opts.timeBudgetMs }),
    ...(suite.shrink === false ? { endOnFailure: true } : {}),
  });
  const base = { suite: suite.name, stats, interrupted: details.interrupted, durationMs: performance.now() - started };
  if (!details.failed) return base;
  if (!(details.errorInstance instanceof Found) || found === undefined) throw details.errorInstance instanceof Error ? details.errorInstance : new Error(String(details.errorInstance));
  const f = details.errorInstance.failure;
  const actors = raceActors(found.r, config.bugs);
  const counterexample: Scenario = {
    version: 1,
    name: `${suite.name}: ${f.property}`,
    description: f.detail,
    config: configToInput(config),
    actors: actors.map((a) => ({ name: a.name, steps: [...a.steps] })),
    schedule: [...found.run.schedule],
    postcopy: postcopyInput(found.r.sc),
    failure: { property: f.property, step: f.step, expected: f.expected, actual: f.actual, detail: f.detail, ...(f.actor === undefined ? {} : { actor: f.actor }) },
    provenance: { suite: suite.name, seed: details.seed, bugs: [...config.bugs], found: describeSchedule(found.spec), fastCheck: fc.__version },
  };
  return {
    ...base,
    failure: f,
    counterexample,
    runsToFailure: found.runs,
    msToFailure: found.ms,
    foundBy: describeSchedule(found.spec),
    shrunkLength: actors.filter((a) => a.name !== SETUP).reduce((n, a) => n + a.steps.length, 0),
  };
}

function postcopyRace(name: string, description: string, config: Config, runs: number, arb: fc.Arbitrary<RacePostcopy> = arbitrary, checks?: Checks): PostcopyRaceSuite {
  const s: PostcopyRaceSuite = {
    name,
    description,
    kind: "concurrent",
    area: "postcopy",
    config,
    arbitrary: arb,
    runs,
    steps: pctSteps(name),
    depth: 3,
    ...(checks === undefined ? {} : { checks, shrink: false }),
    run: (opts) => runPostcopyRace(s, opts),
  };
  return s;
}

export const POSTCOPY_RACE = postcopyRace(
  "postcopy-race",
  "the post-copy fetch (alias write, userfault bit, CONTINUE) racing a vCPU's guest reads and a VMM thread's uffd faults, at every kernel yield point",
  PRESETS.default,
  400,
);

/** The same on arm64, whose fault path reads the userfault bitmap in user_mem_abort after its VMA lookup. */
export const POSTCOPY_RACE_ARM64 = postcopyRace("postcopy-race-arm64", "the post-copy race on arm64", PRESETS.arm64, 200);

/**
 * KVM's own access (kvm_vcpu_read_guest through the hva, an emulated load, an instruction fetch) for vCPU 1 racing
 * the fetcher's alias writes, bit clears, CONTINUE or COPY, and its final KVM_MEM_USERFAULT toggle, next to guest
 * reads and a VMM thread: no read by anyone returns a page before the VMM filled it.
 */
export const POSTCOPY_KVM_RACE = postcopyRace(
  "postcopy-kvm-race",
  "KVM's own guest-memory accesses (uaccess through the hva, emulation) racing the post-copy fetch (alias write or UFFDIO_COPY, bit clear, CONTINUE) and the USERFAULT toggle at its end",
  PRESETS.default,
  150,
  kvmArbitrary,
);

/**
 * A race suite on one of issue 19's backings: 4 vCPUs and one more for KVM's own accesses, the backing's folios. On
 * 2 MiB pages (`huge`) the linearizability search goes: each model step it tries copies 2 MiB of page data, and a run
 * took minutes. The invariants at every yield point and the post-copy checks stay.
 */
function shapeRace(backing: BackingName, maxPages: number, runs: number, what: string, huge = false): PostcopyRaceSuite {
  const config = backingOf({ pages: 1, source: [], precopied: [], fetchOrder: [], events: [], backing }).config({ ...PRESETS.default, vcpus: 5 });
  const arb = shapeRaceArbitrary(backing, maxPages, !huge).map((r): RacePostcopy => r);
  return postcopyRace(
    `postcopy-race-${backing}`,
    `post-copy on ${what}, with and without KVM Userfault, at every kernel yield point: 4 vCPUs (several on one page), KVM's own access and a VMM thread, ` +
      "the background fetcher racing one handler or one per vCPU, a re-sent page; a teardown re-enters every thread",
    config,
    runs,
    arb,
    huge ? { ...ALL_CHECKS, refinement: false } : undefined,
  );
}

/** A suite whose runs cost seconds: its first failing run is its counterexample, unshrunk. */
const unshrunk = (s: PostcopyRaceSuite): PostcopyRaceSuite => {
  const u: PostcopyRaceSuite = { ...s, shrink: false, run: (opts) => runPostcopyRace(u, opts) };
  return u;
};

/** Issue 19's backings under the race harness (props/postcopy/race-shapes.ts). */
export const POSTCOPY_SHAPE_RACES: readonly PostcopyRaceSuite[] = [
  shapeRace("anon", 3, 60, "anonymous memory (MISSING + UFFDIO_COPY with DONTWAKE or a wakeup, EEXIST between handlers, the balloon's MADV_DONTNEED, UFFDIO_UNREGISTER at the end)"),
  shapeRace("shmem", 3, 60, "shmem (MINOR + CONTINUE, the second mapping written first, the balloon's MADV_REMOVE)"),
  shapeRace("hugetlb-2m", 1, 3, "hugetlbfs 2 MiB pages (MINOR + CONTINUE, the 2 MiB copy through the second mapping preemptible page by page)", true),
  shapeRace("gmem", 3, 40, "guest_memfd 4 KiB (its memslot with KVM Userfault, or its mmap behind a userspace memslot)"),
  shapeRace("gmem-2m", 1, 2, "guest_memfd with 2 MiB folios", true),
  // A run on a 1 GiB file costs about a second when a vCPU maps from it: few runs, no shrinking.
  unshrunk(shapeRace("gmem-1g", 3, 6, "guest_memfd with 1 GiB folios, fetched 4 KiB at a time")),
];
