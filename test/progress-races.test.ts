// Exit progress under races (props/progress-races.ts): the vCPU that obeys its USERFAULT exit and retries is never
// stuck, whatever the other vCPU and the VMM thread do meanwhile; the seeded stuck exit fails the race suites.
import { describe, expect, it } from "vitest";
import { suiteNamed } from "../props/registry.js";

describe("exit progress under races", () => {
  for (const name of ["race-exit-progress", "race-exit-progress-arm64"]) {
    it(`${name} passes, and finds userfault-exit-cached (the retry exits again)`, async () => {
      const s = suiteNamed(name)!;
      expect((await s.run({ seed: 2, runs: 40 })).failure).toBeUndefined();
      const r = await s.run({ seed: 1, runs: 60, bugs: ["userfault-exit-cached"] });
      expect(r.failure?.property).toMatch(/linearizab/);
    });
  }
});
