import { describe, expect, it } from "vitest";
import { scaledRuns } from "../props/budget.js";
import { runSequentialSuite } from "../props/run.js";
import { SEQUENTIAL_SUITES } from "../props/suites.js";

describe("sequential refinement", () => {
  for (const suite of SEQUENTIAL_SUITES) {
    it(`${suite.name} passes`, async () => {
      const r = await runSequentialSuite(suite, { seed: 42, runs: scaledRuns(100) });
      if (r.failure) console.log(JSON.stringify(r.failure, null, 1));
      console.log(suite.name, r.stats.commands, "commands", r.stats.distinctStates, "states", Math.round(r.durationMs), "ms");
      expect(r.failure).toBeUndefined();
    });
  }
});
