// The progress property for exits (props/progress.ts): a VMM that obeys each USERFAULT or PRIVATE-mismatch exit and
// re-enters the guest gets the access further. The correct kernel passes; a fast path that re-exits a cleared page
// without reading the bitmap is caught by the property alone (refinement off), and by the default checks.
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { EXIT_PROGRESS, obeyExits, PROGRESS_SUITES } from "../props/progress.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { memslot } from "./helpers/ops.js";

const MiB = 1024 * 1024;
const SETUP: Op[] = [
  { op: "create_vm", vm: "v0", type: 1 },
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB },
  memslot({ flags: ["USERFAULT"] }),
  { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 2, npages: 1 },
];
const ONLY_PROGRESS = { refinement: false, invariants: [EXIT_PROGRESS] };

describe("exit-progress", () => {
  it("obeying a USERFAULT exit clears the bit and the retried access completes", async () => {
    const m = new Checker(PRESETS.default);
    await m.applyAll([...SETUP, { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 2 * 4096, kind: "read" }]);
    await obeyExits(m, ONLY_PROGRESS);
    expect(m.trace.slice(-2).map((r) => [r.op.op, r.impl])).toEqual([
      ["userfault_clear", { result: "ok" }],
      ["vcpu_access", { result: "ok", value: 0 }],
    ]);
  });

  it("userfault-exit-cached breaks it: the VMM cleared the bit and the vCPU takes the same exit", async () => {
    const m = new Checker({ ...PRESETS.default, bugs: ["userfault-exit-cached"] }, ONLY_PROGRESS);
    await m.applyAll([...SETUP, { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 2 * 4096, kind: "read" }]);
    await expect(obeyExits(m, ONLY_PROGRESS)).rejects.toThrow(/^exit-progress failed/);
  });

  for (const suite of PROGRESS_SUITES) {
    it(`${suite.name}: the correct kernel passes; the seeded bug fails the property alone and the default checks`, async () => {
      expect((await suite.run({ seed: 3, runs: 40 })).failure).toBeUndefined();
      const alone = await suite.run({ seed: 1, runs: 150, bugs: ["userfault-exit-cached"], checks: ONLY_PROGRESS });
      expect(alone.failure?.property).toBe(EXIT_PROGRESS);
      const all = await suite.run({ seed: 1, runs: 150, bugs: ["userfault-exit-cached"] });
      expect(all.failure).toBeDefined();
    });
  }
});
