// Harness overhead: commands per second of a sequential refinement suite (model + impl + every check) next to
// a bare fast-check fc.commands run over a trivial counter, in the same process, at several command-list
// lengths; then where a command's time goes, phase by phase, as props/checker.ts runs them.
import fc from "fast-check";
import { createSystem } from "../impl/system.js";
import { canonicalText, INVARIANTS, initial, step } from "../model/index.js";
import { opArbitrary } from "../props/generators.js";
import { sameOutcome } from "../props/outcomes.js";
import { runSequentialSuite } from "../props/run.js";
import { sameState, stateHash } from "../props/state-compare.js";
import { Stats } from "../props/stats.js";
import { SEQUENTIAL_SUITES, type SequentialSuite } from "../props/suites.js";
import { SUITES } from "../props/registry.js";
import type { Op } from "../schema/ops.js";
import { interleaved, ratios, show, spread, type Spread } from "./ratio.js";
import type { Row } from "./scale.js";

class Counter {
  n = 0;
}

function inc(m: Counter, r: Counter): void {
  m.n++;
  r.n++;
  if (m.n !== r.n) throw new Error("counter diverged");
}

class Inc implements fc.Command<Counter, Counter> {
  check = (): boolean => true;
  run = inc;
  toString = (): string => "inc";
}

class AsyncInc implements fc.AsyncCommand<Counter, Counter> {
  check = (): boolean => true;
  run = async (m: Counter, r: Counter): Promise<void> => inc(m, r);
  toString = (): string => "inc";
}

/** µs per command of fc.commands over the counter: fc.modelRun (sync) or fc.asyncModelRun, as our suites use. */
async function bareUsPerCommand(mode: "sync" | "async", runs: number, maxCommands: number): Promise<number> {
  let commands = 0;
  const t0 = performance.now();
  if (mode === "sync") {
    fc.assert(
      fc.property(fc.commands([fc.constant(new Inc())], { maxCommands, size: "max" }), (cmds) => {
        const model = new Counter();
        fc.modelRun(() => ({ model, real: new Counter() }), cmds);
        commands += model.n;
      }),
      { numRuns: runs, seed: 1 },
    );
  } else {
    await fc.assert(
      fc.asyncProperty(fc.commands([fc.constant(new AsyncInc())], { maxCommands, size: "max" }), async (cmds) => {
        const model = new Counter();
        await fc.asyncModelRun(() => ({ model, real: new Counter() }), cmds);
        commands += model.n;
      }),
      { numRuns: runs, seed: 1 },
    );
  }
  return ((performance.now() - t0) * 1000) / commands;
}

/** The suite's own fc.commands (same arbitrary, lengths and seed, so the same lists) with commands that do nothing. */
async function generationUsPerCommand(s: SequentialSuite, runs: number, maxCommands: number): Promise<number> {
  let commands = 0;
  const noop = (s.arbitrary ?? opArbitrary)(s.layout, s.config).map((op): fc.AsyncCommand<object, object> => ({ check: () => true, run: async () => void commands++, toString: () => op.op }));
  const t0 = performance.now();
  await fc.assert(
    fc.asyncProperty(fc.commands([noop], { maxCommands, size: "max" }), async (cmds) => {
      await fc.asyncModelRun(() => ({ model: {}, real: {} }), cmds);
    }),
    { numRuns: runs, seed: 1 },
  );
  return ((performance.now() - t0) * 1000) / commands;
}

const withLength = (s: SequentialSuite, maxCommands: number): SequentialSuite => {
  const v: SequentialSuite = { ...s, maxCommands, run: (opts) => runSequentialSuite(v, opts) };
  return v;
};

async function suiteUsPerCommand(s: { run: SequentialSuite["run"] }, runs: number, seed = 1): Promise<{ us: number; commands: number }> {
  const r = await s.run({ seed, runs });
  return { us: (r.durationMs * 1000) / r.stats.commands, commands: r.stats.commands };
}

/**
 * Time per phase of props/checker.ts apply(), summed over the commands of `lists` (not the suite's setup).
 * `detail` times each invariant on its own and the texts the checker compared before, in a second pass, so that
 * their timers and garbage do not weigh on the first.
 */
async function phases(s: SequentialSuite, lists: readonly Op[][], detail: boolean): Promise<{ commands: number; ms: Map<string, number> }> {
  const ms = new Map<string, number>();
  const stats = new Stats();
  let commands = 0;
  for (const list of lists) {
    let model = initial(s.config);
    const system = createSystem(s.config);
    let pre = system.abstract();
    for (const [i, op] of [...s.setup, ...list].entries()) {
      const timed = i >= s.setup.length;
      const time = <T>(k: string, f: () => T): T => {
        const t0 = performance.now();
        const v = f();
        if (timed) ms.set(k, (ms.get(k) ?? 0) + performance.now() - t0);
        return v;
      };
      const r = time("model step", () => step(model, op));
      const t0 = performance.now();
      const outcome = await system.exec(op);
      if (timed) ms.set("impl exec", (ms.get("impl exec") ?? 0) + performance.now() - t0);
      const post = time("abstraction (impl state -> model state)", () => system.abstract());
      const check = (inv: (typeof INVARIANTS)[number]): unknown => (inv.kind === "state" ? inv.check(post) : inv.check(pre, op, outcome, post));
      if (detail) {
        for (const inv of INVARIANTS) time(`invariant ${inv.name}`, () => check(inv));
        time("(before: state comparison of canonical texts)", () => canonicalText(post) === canonicalText(r.state));
        time("(before: distinct-state hash of the text)", () => stats.recordState(canonicalText(r.state)));
      } else {
        time(`invariants (${INVARIANTS.length})`, () => INVARIANTS.forEach(check));
        time("outcome comparison", () => sameOutcome(r.outcome, outcome));
        time("state comparison", () => sameState(r.state, post));
        time("distinct-state hash", () => stats.recordStateHash(stateHash(r.state)));
      }
      if (timed) commands++;
      model = r.state;
      pre = post;
    }
  }
  return { commands, ms };
}

/** Command lists as the suite's fc.commands draws them (same arbitrary, same lengths), as plain ops. */
function sample(s: SequentialSuite, maxCommands: number, n: number): Op[][] {
  const record = (s.arbitrary ?? opArbitrary)(s.layout, s.config).map((op): fc.Command<Op[], object> => ({ check: () => true, run: (m) => void m.push(op), toString: () => op.op }));
  return fc.sample(fc.commands([record], { maxCommands, size: "max" }), { seed: 7, numRuns: n }).map((cmds) => {
    const ops: Op[] = [];
    fc.modelRun(() => ({ model: ops, real: {} }), cmds);
    return ops;
  });
}

/** Best (least disturbed) of n measurements. */
async function best(n: number, f: () => Promise<number>): Promise<number> {
  let m = Infinity;
  for (let i = 0; i < n; i++) m = Math.min(m, await f());
  return m;
}

const LENGTHS = [15, 30, 60, 120];
const RUNS = 300;

export async function harnessBench(): Promise<{ overhead: Row[]; breakdown: Row[]; suites: Row[] }> {
  const subject = SEQUENTIAL_SUITES[0]!;
  await suiteUsPerCommand(subject, 100, 99); // warm-up
  const overhead: Row[] = [];
  let breakdown: Row[] = [];
  for (const n of LENGTHS) {
    const sync = await best(3, () => bareUsPerCommand("sync", RUNS, n));
    const async_ = await best(3, () => bareUsPerCommand("async", RUNS, n));
    const generation = await best(3, () => generationUsPerCommand(subject, RUNS, n));
    let commands = 0;
    const ours = await best(2, async () => {
      const r = await suiteUsPerCommand(withLength(subject, n), RUNS);
      commands = r.commands;
      return r.us;
    });
    overhead.push({
      bench: "harness overhead",
      size: `${RUNS} runs of <= ${n} commands`,
      commands,
      bareSyncUs: +sync.toFixed(2),
      bareAsyncUs: +async_.toFixed(2),
      ourGenerationUs: +generation.toFixed(2),
      suiteUs: +ours.toFixed(1),
      suiteCmdPerSec: Math.round(1e6 / ours),
      suiteToBareSync: Math.round(ours / sync),
      suiteToBareAsync: Math.round(ours / async_),
      generationToBareAsync: +(generation / async_).toFixed(1),
    });
    if (n !== 60) continue;
    // Phase by phase, on lists drawn as the suite draws them; measured apart from the suite run above.
    const lists = sample(subject, n, RUNS);
    const p = await phases(subject, lists, false);
    const d = await phases(subject, lists, true);
    const per = (m: Map<string, number>, k: string, c: number): number => ((m.get(k) ?? 0) * 1000) / c;
    const row = (k: string, us: number): Row => ({ bench: "time per command", size: k, usPerCmd: +us.toFixed(2), share: k.startsWith("(") ? "" : `${((100 * us) / ours).toFixed(1)}%` });
    const byCost = (m: Map<string, number>, c: number): Row[] =>
      [...m.keys()]
        .map((k) => ({ k, us: per(m, k, c) }))
        .sort((a, b) => b.us - a.us)
        .map(({ k, us }) => row(k, us));
    const detail = byCost(d.ms, d.commands);
    breakdown = [
      row(`suite total (${subject.name}, fc.asyncModelRun)`, ours),
      row("fast-check: generating the commands and running them (no checks)", generation),
      ...byCost(p.ms, p.commands),
      ...detail.filter((r) => String(r.size).startsWith("invariant ")).slice(0, 4).map((r) => ({ ...r, size: `  of which ${r.size}` })),
      ...detail.filter((r) => String(r.size).startsWith("(")),
    ];
  }
  // Every sequential suite of the default check at its own settings.
  const suites: Row[] = [];
  for (const s of SUITES.filter((x) => x.kind === "sequential")) {
    const r = await s.run({ seed: 1, runs: 150 });
    suites.push({ bench: "sequential suite throughput", size: s.name, runs: r.stats.runs, commands: r.stats.commands, usPerCmd: +((r.durationMs * 1000) / r.stats.commands).toFixed(1), cmdPerSec: Math.round((r.stats.commands * 1000) / r.durationMs) });
  }
  return { overhead, breakdown, suites };
}

/**
 * Item 1's two ratios, interleaved: per repetition, µs per command of bare fc.asyncModelRun over a counter, of
 * the first sequential suite (kvm-anon-x86, lists of <= 60 commands) as built here, and of the same suite as built at
 * the baseline revision (bench/baseline.ts) if given; 300 runs, seed 1.
 */
export async function suiteAgainstBare(reps: number, baseline?: SequentialSuite): Promise<{ rows: Row[]; overBare: Spread; baselineOverNew?: Spread }> {
  const subject = SEQUENTIAL_SUITES[0]!;
  if (baseline !== undefined && baseline.name !== subject.name) throw new Error(`the baseline's first suite is ${baseline.name}, not ${subject.name}`);
  const cases: Record<string, () => Promise<number>> = {
    bare: () => bareUsPerCommand("async", RUNS, 60),
    suite: async () => (await suiteUsPerCommand(subject, RUNS)).us,
  };
  if (baseline !== undefined) cases.baseline = async () => (await suiteUsPerCommand(baseline, RUNS)).us;
  await interleaved(1, cases); // warm-up
  const m = await interleaved(reps, cases);
  const overBare = ratios(m.suite!, m.bare!);
  const rows: Row[] = [
    { bench: "item 1", size: "bare fc.asyncModelRun, counter", usPerCmd: show(spread(m.bare!)) },
    { bench: "item 1", size: `${subject.name}, this tree`, usPerCmd: show(spread(m.suite!)), overBare: show(overBare, 1) },
  ];
  if (m.baseline === undefined) return { rows, overBare };
  const baselineOverNew = ratios(m.baseline, m.suite!);
  rows.push({ bench: "item 1", size: `${subject.name}, baseline`, usPerCmd: show(spread(m.baseline)), overBare: show(ratios(m.baseline, m.bare!), 1), baselineOverNew: show(baselineOverNew) });
  return { rows, overBare, baselineOverNew };
}
