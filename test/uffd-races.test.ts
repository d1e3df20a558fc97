// The concurrent userfaultfd suite: the implementation passes under the race harness, and the lost wakeup of
// a handle_userfault without its must_wait re-check is found with a short schedule and drawn as a race diagram.
import { describe, expect, it } from "vitest";
import { renderRaceDiagram } from "../props/concurrent/diagram.js";
import { replay } from "../props/replay.js";
import { UFFD_RACE } from "../props/uffd/races.js";

describe("race-uffd-shmem", () => {
  it("the implementation passes", async () => {
    const r = await UFFD_RACE.run({ seed: 5, runs: 200 });
    expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
  });

  it("uffd-no-must-wait is found: the thread sleeps on a page CONTINUE already mapped", async () => {
    const r = await UFFD_RACE.run({ seed: 1, runs: 1000, bugs: ["uffd-no-must-wait"] });
    expect(r.failure, `not found in ${r.stats.runs} runs`).toBeDefined();
    expect(r.failure!.property).toMatch(/^(linearizability|refinement\.state)$/);
    expect(r.shrunkLength).toBeLessThanOrEqual(5);
    const replayed = await replay(r.counterexample!);
    expect(replayed.failure?.property).toBe(r.failure!.property);
    console.log(renderRaceDiagram(r.counterexample!, replayed));
  });
});
