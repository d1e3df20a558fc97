// Every suite of the default check passes a short run at a fixed seed: the breadth mutation testing leans on (a
// mutant of model/ or impl/ that any suite notices dies here), scaled by FAULTLINE_RUN_SCALE.
import { describe, expect, it } from "vitest";
import { scaledRuns } from "../props/budget.js";
import { SUITES } from "../props/registry.js";

describe("every suite, briefly", () => {
  for (const suite of SUITES) {
    it(`${suite.name} passes`, async () => {
      const r = await suite.run({ seed: 11, runs: scaledRuns(Math.ceil(suite.runs / 10)) });
      expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
    });
  }
});
