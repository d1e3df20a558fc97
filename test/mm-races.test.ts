// The host fault path re-checks its PTE under the page table lock before it installs one (vmf_pte_changed,
// pte_same): the race the harness found, a read fault mapping the zero page over the private page a concurrent
// write fault installed, replayed on its schedule, and the race-host-fault suite with and without the seeded bug.
import { describe, expect, it } from "vitest";
import { runConcurrentSuite } from "../props/concurrent/explore.js";
import { runRace, SETUP } from "../props/concurrent/harness.js";
import { ANON, setupOf } from "../props/layouts.js";
import { HOST_FAULT_RACE } from "../props/uffd/races.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";

const actors = [
  { name: SETUP, steps: setupOf(ANON, 0) },
  { name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "read" } as Op] },
  { name: "vCPU1", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 1, gpa: 4096, kind: "write", byte: 1 } as Op] },
];
/** vCPU0's read fault yields in handle_mm_fault, vCPU1's write fault installs its page, then vCPU0 goes on. */
const SCHEDULE = [0, 1, 1, 0, 1, 1, 1];

describe("two vCPUs faulting the same absent anonymous page", () => {
  it("the read fault backs off when the write fault installed its page first, and reads it", async () => {
    const r = await runRace(PRESETS.default, actors, { kind: "choices", choices: SCHEDULE });
    expect(r.failure).toBeUndefined();
    const read = r.steps.find((s) => s.actor === "vCPU0" && s.returned !== undefined);
    expect(read?.returned).toEqual({ result: "ok", value: 1 });
  });

  it("with fault-no-pte-recheck the read maps the zero page over it: the write is lost", async () => {
    const config = { ...PRESETS.default, bugs: ["fault-no-pte-recheck" as const] };
    // vCPU1's SPTE still points at the private page the zero page replaced: the pointer invariant sees it first.
    const r = await runRace(config, actors, { kind: "choices", choices: SCHEDULE });
    expect(r.failure?.property).toBe("stage2-maps-current-page");
    const refinementOnly = await runRace(config, actors, { kind: "choices", choices: SCHEDULE }, { checks: { refinement: true, invariants: false } });
    expect(refinementOnly.failure?.property).toBe("refinement.state");
    expect(refinementOnly.failure?.detail).toMatch(/another host PTE/);
  });
});

describe("race-host-fault", () => {
  it("the implementation passes", async () => {
    const r = await runConcurrentSuite(HOST_FAULT_RACE, { seed: 42, runs: 300 });
    expect(r.failure).toBeUndefined();
    expect(r.stats.invariants.get("linearizable")?.nonVacuous ?? 0).toBeGreaterThan(0);
  });

  it("finds the missing PTE re-check", async () => {
    const r = await runConcurrentSuite(HOST_FAULT_RACE, { seed: 42, runs: 1000, bugs: ["fault-no-pte-recheck"] });
    expect(r.failure?.property).toMatch(/^refinement|linearizab/);
  });
});
