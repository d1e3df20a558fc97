// Exit progress under races (props/progress-races.ts), one race per fault-exit design: the vCPU that does what its
// exit asks and retries is never stuck, whatever the other vCPU and the VMM thread do meanwhile; each race's seeded
// stuck exit fails it, under every check and under the exit-progress property alone.
import { describe, expect, it } from "vitest";
import { EXIT_PROGRESS } from "../props/progress.js";
import { replay } from "../props/replay.js";
import { PROGRESS_BUGS, PROGRESS_RACES } from "../props/progress-races.js";
import { FAULT_EXIT_DESIGNS } from "../schema/config.js";

describe("exit progress under races", () => {
  it("has a race for every fault-exit design, each with its seeded bug", () => {
    expect(new Set(PROGRESS_RACES.map((s) => s.config.faultExit))).toEqual(new Set(FAULT_EXIT_DESIGNS));
    expect(Object.keys(PROGRESS_BUGS).sort()).toEqual(PROGRESS_RACES.map((s) => s.name).sort());
  });

  for (const s of PROGRESS_RACES) {
    const bug = PROGRESS_BUGS[s.name]!;
    it(`${s.name} passes with its exits obeyed, and finds ${bug} (the retry exits again)`, async () => {
      const clean = await s.run({ seed: 2, runs: 30 });
      expect(clean.failure, JSON.stringify(clean.failure)).toBeUndefined();
      expect(clean.stats.invariants.get(EXIT_PROGRESS)?.nonVacuous ?? 0, "runs whose first access exited").toBeGreaterThan(0);
      const r = await s.run({ seed: 1, runs: s.runs, bugs: [bug] });
      expect(r.failure?.property).toMatch(/linearizab|exit-progress/);
      const alone = await s.run({ seed: 1, runs: s.runs, bugs: [bug], checks: { refinement: false, invariants: [EXIT_PROGRESS] } });
      expect(alone.failure?.property).toBe(EXIT_PROGRESS);
      expect(alone.failure?.detail).toMatch(/did what its exit asked .* and the retried access did not complete/);
      // Replay runs every check, so the file fails again: on the stuck retry (linearizability sees it first), or for
      // eager-split on what the design breaks on purpose before it (userfault-enable-unmaps).
      expect((await replay(alone.counterexample!)).failure?.property).toMatch(/linearizab|exit-progress|userfault-enable-unmaps/);
    });
  }
});
