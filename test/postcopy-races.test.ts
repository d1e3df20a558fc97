// Post-copy on every backing under the race harness (props/postcopy/race-shapes.ts): the correct VMM passes each
// backing's race, each race suite finds in its default runs a mistake only an interleaving at the kernel's yield points
// shows (the sequential suites of the same backing pass with it), its counterexample replays, and the contended-lock
// counters count the waits the kernel's locks held across a sleep really cause.
import { describe, expect, it } from "vitest";
import { POSTCOPY_SHAPE_SUITES } from "../props/postcopy/backings.js";
import { POSTCOPY_SHAPE_RACES } from "../props/postcopy/race.js";
import { replay } from "../props/replay.js";

const race = (name: string) => POSTCOPY_SHAPE_RACES.find((s) => s.name === name)!;
const sequential = (name: string) => POSTCOPY_SHAPE_SUITES.find((s) => s.name === name)!;

describe("post-copy races on every backing, the correct VMM", () => {
  for (const s of POSTCOPY_SHAPE_RACES) {
    const runs = Math.max(2, Math.round(s.runs / 5));
    it(`${s.name} passes ${runs} runs`, async () => {
      const r = await s.run({ seed: 11, runs });
      expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
      expect(r.stats.runs).toBe(runs);
      // Some vCPU faulted (through KVM, and through uffd when the memslot has no KVM Userfault).
      expect(r.stats.costs.get("lock.mmu_lock.acquired") ?? 0).toBeGreaterThan(0);
    });
  }
});

/** Each race suite's race-only mistake, and the sequential suites of its backing that cannot see it. */
const RACE_ONLY = [
  { suite: "postcopy-race-anon", bug: "mfill-copy-eexist-unlocked", property: /^(linearizability|refinement\.state|stage2-maps-current-page|ptes-map-their-page|postcopy-fetch-once)$/, seq: ["postcopy-anon", "postcopy-anon-uffd"] },
  { suite: "postcopy-race-shmem", bug: "uffd-no-must-wait", property: /^(linearizability|refinement\.state|postcopy-threads-finish)$/, seq: ["postcopy-shmem", "postcopy-shmem-uffd"] },
  { suite: "postcopy-race-hugetlb-2m", bug: "postcopy-huge-continue-partial", property: /^postcopy-(no-early-read|equals-source)$/, seq: [] },
  { suite: "postcopy-race-gmem", bug: "uffd-no-must-wait", property: /^(linearizability|refinement\.state|postcopy-threads-finish)$/, seq: ["postcopy-gmem", "postcopy-gmem-uffd"] },
  { suite: "postcopy-race-gmem-1g", bug: "uffd-no-must-wait", property: /^(linearizability|refinement\.state|postcopy-threads-finish)$/, seq: ["postcopy-gmem-1g", "postcopy-gmem-1g-uffd"] },
] as const;

describe("post-copy races on every backing, the race-only mistakes", () => {
  for (const c of RACE_ONLY) {
    it(`${c.bug} is found by ${c.suite} in its default runs, and its counterexample replays`, async () => {
      const s = race(c.suite);
      const r = await s.run({ seed: 1, runs: s.runs, bugs: [c.bug] });
      expect(r.failure, `${c.bug} not found in ${r.stats.runs} runs`).toBeDefined();
      expect(r.failure!.property).toMatch(c.property);
      // A 2 MiB race is found without the linearizability search (props/postcopy/race.ts); replaying it with the
      // search would take minutes, so it replays in `faultline replay` only.
      if (s.checks?.refinement === false) return;
      const again = await replay(r.counterexample!);
      expect(again.failure?.property).toBe(r.failure!.property);
    });
    for (const name of c.seq) {
      it(`${c.bug} leaves ${name} passing (whole operations never split at the yield point)`, async () => {
        const r = await sequential(name).run({ seed: 5, runs: 12, bugs: [c.bug] });
        expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
      });
    }
  }
});

describe("the contended-lock counters under the race harness", () => {
  it("anonymous memory: UFFDIO_UNREGISTER's mmap_lock for write waits for a handler's UFFDIO_COPY holding it for read", async () => {
    // The wait needs the unregister to start inside a COPY's one step under the lock: about one run in a hundred.
    const s = race("postcopy-race-anon");
    let mmap = 0;
    let mmu = 0;
    for (let seed = 1; seed <= 6 && mmap === 0; seed++) {
      const r = await s.run({ seed, runs: s.runs });
      expect(r.failure).toBeUndefined();
      mmap += r.stats.costs.get("lock.mmap_lock.contended") ?? 0;
      mmu += r.stats.costs.get("lock.mmu_lock.contended") ?? 0;
    }
    expect(mmap).toBeGreaterThan(0);
    // mmu_lock is held across no yield point of the model: nothing ever waits for it.
    expect(mmu).toBe(0);
  });
});
