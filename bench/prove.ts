// faultline prove's cost: per scope the runs with partial-order reduction and without (brute force), the naive
// count, runs and distinct states per second, and whether both reached the same terminal states and verdicts (the
// soundness of the footprints on every scope); and how the explored count grows with operations and actors.
import type { Op } from "../schema/ops.js";
import { SETUP } from "../props/concurrent/harness.js";
import { explore, type Exploration, type Reduction } from "../props/prove/explore.js";
import { PROOF_SCOPES, raceScope } from "../props/prove/scopes.js";
import type { Row } from "./scale.js";

/** Brute force stops here: beyond it the row says ">= cap". */
const BRUTE_CAP = 4000;

type Actors = { name: string; steps: Op[] }[];

async function measure(scopeName: string, actorsOf: (setup: readonly Op[]) => Actors | undefined, reduction: Reduction, cap?: number) {
  const s = raceScope(scopeName);
  const base = s.actors([]);
  const setup = base.find((a) => a.name === SETUP)!.steps;
  const actors = actorsOf(setup) ?? base.filter((a) => a.name !== SETUP);
  const opts = { reduction, terminals: true, ...(cap === undefined ? {} : { maxRuns: cap }), ...(s.check === undefined ? {} : { check: s.check }) };
  return explore(s.config, [{ name: SETUP, steps: setup }, ...actors], opts);
}

/** Whether both reached the same terminal states and verdicts ("-" when brute force was cut short). */
function same(a: Exploration, b: Exploration): string {
  if (!b.exhaustive) return "-";
  const x = [...a.terminals!].sort();
  const y = [...b.terminals!].sort();
  return x.length === y.length && x.every((t, i) => t === y[i]) ? "yes" : "NO";
}

/** Every scope of the library, proved with DPOR and run without reduction (capped). */
export async function proveRows(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const s of PROOF_SCOPES) {
    // The post-copy VMM's event scope has no reduction to compare: `faultline prove` counts it.
    if (s.kind !== "race") continue;
    const dpor = await measure(s.name, () => undefined, "dpor");
    const brute = await measure(s.name, () => undefined, "none", BRUTE_CAP);
    rows.push({
      bench: "prove",
      size: s.name,
      verdict: dpor.shortest !== undefined ? "refuted" : "proved",
      dpor: dpor.runs,
      brute: brute.exhaustive ? brute.runs : `>=${brute.runs}`,
      naive: dpor.naive,
      vsBrute: brute.exhaustive ? +(brute.runs / dpor.runs).toFixed(2) : `>=${(brute.runs / dpor.runs).toFixed(2)}`,
      sameTerminals: same(dpor, brute),
      vsNaive: +(dpor.naive / dpor.runs).toFixed(2),
      states: dpor.states,
      runsPerS: +(dpor.runs / (dpor.ms / 1000)).toFixed(1),
      statesPerS: +(dpor.states / (dpor.ms / 1000)).toFixed(1),
      stepsPerS: Math.round(dpor.steps / (dpor.ms / 1000)),
      s: +(dpor.ms / 1000).toFixed(1),
    });
  }
  return rows;
}

const read = (vcpu: number, gpa: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu, gpa, kind: "read" });
const clear = (gfn: number): Op => ({ op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: gfn, npages: 1 });

/** race-userfault-clear grown one operation or actor at a time: explored runs with and without reduction. */
export async function growthRows(): Promise<Row[]> {
  const shapes: [string, { name: string; steps: Op[] }[]][] = [
    ["vCPU0 1 op, VMM 1 op", [{ name: "vCPU0", steps: [read(0, 4096)] }, { name: "VMM", steps: [clear(1)] }]],
    ["vCPU0 1 op, VMM 2 ops", [{ name: "vCPU0", steps: [read(0, 4096)] }, { name: "VMM", steps: [clear(1), clear(0)] }]],
    ["vCPU0 2 ops, VMM 1 op", [{ name: "vCPU0", steps: [read(0, 4096), read(0, 0)] }, { name: "VMM", steps: [clear(1)] }]],
    ["vCPU0 2 ops, VMM 2 ops", [{ name: "vCPU0", steps: [read(0, 4096), read(0, 0)] }, { name: "VMM", steps: [clear(1), clear(0)] }]],
    [
      "vCPU0, vCPU1, VMM: 1 op each",
      [
        { name: "vCPU0", steps: [read(0, 4096)] },
        { name: "VMM", steps: [clear(1)] },
        { name: "vCPU1", steps: [read(1, 4096)] },
      ],
    ],
  ];
  const rows: Row[] = [];
  for (const [size, actors] of shapes) {
    const dpor = await measure("race-userfault-clear", () => actors, "dpor");
    const brute = await measure("race-userfault-clear", () => actors, "none", BRUTE_CAP);
    rows.push({
      bench: "prove-growth",
      size,
      ops: actors.reduce((n, a) => n + a.steps.length, 0),
      dpor: dpor.runs,
      brute: brute.exhaustive ? brute.runs : `>=${brute.runs}`,
      sameTerminals: same(dpor, brute),
      naive: dpor.naive,
      states: dpor.states,
      verdict: dpor.shortest === undefined ? "proved" : `refuted: ${dpor.shortest.run.failure!.property}`,
      s: +(dpor.ms / 1000).toFixed(1),
    });
  }
  return rows;
}
