// The post-copy flow end to end, sequentially (the reference VMM's tasks interleaved op by op) and under the race
// harness (interleaved at every kernel yield point): the correct VMM keeps guest memory equal to the source and
// never lets anyone read a page before its fetch; each seeded VMM mistake (and the lost-wakeup kernel race) is
// found with a short counterexample, printed as a race diagram.
import { describe, expect, it } from "vitest";
import { renderRaceDiagram } from "../props/concurrent/diagram.js";
import type { RaceFailure } from "../props/concurrent/harness.js";
import { renderPostcopyDiagram } from "../props/postcopy/diagram.js";
import { POSTCOPY_RACE } from "../props/postcopy/race.js";
import { POSTCOPY_SUITES } from "../props/postcopy/suite.js";
import { Vmm } from "../props/postcopy/vmm.js";
import { replay } from "../props/replay.js";
import { PRESETS } from "../schema/config.js";

const SEQ = POSTCOPY_SUITES[0]!;

describe("post-copy, sequential", () => {
  it("a restore with a VMM thread faulting on a pre-copied page ends with memory equal to the source", async () => {
    const vmm = new Vmm(PRESETS.default, {
      pages: 3,
      source: [0x11, 0x22, 0x33],
      precopied: [null, 0x99, null],
      fetchOrder: [2, 0, 1],
      events: [
        { kind: "vmm", thread: 0, write: false, page: 1, offset: 8, byte: 1 },
        { kind: "guest", write: true, page: 0, offset: 0, byte: 0x44 },
        { kind: "handler" },
        { kind: "fetcher" },
        { kind: "handler" },
        { kind: "handler" },
        { kind: "handler" },
        { kind: "guest", write: false, page: 0, offset: 0, byte: 1 },
      ],
    });
    await vmm.run();
    const ops = vmm.log.filter((e) => e.actor !== "setup").map((e) => `${e.actor} ${e.op.op} ${JSON.stringify(e.outcome)}`);
    expect(ops).toContain('vmm-t0 access {"result":"blocked","fault":{"uffd":"u0","flags":["MINOR"],"address_offset":4096}}');
    expect(ops).toContain('vmm-t0 wake_check {"result":"completed","value":34}');
  });

  it("the correct VMM passes", async () => {
    const r = await SEQ.run({ seed: 7, runs: 80 });
    expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
  });

  const BUGS = [
    { bug: "postcopy-clear-before-write", checks: /^postcopy-(no-early-read|reads-expected|equals-source)$/ },
    { bug: "postcopy-continue-before-write", checks: /^postcopy-(no-early-read|threads-finish)$/ },
    { bug: "postcopy-double-fetch", checks: /^postcopy-(reads-expected|equals-source|fetch-once)$/ },
  ];
  for (const b of BUGS) {
    it(`${b.bug} is found with a short counterexample`, async () => {
      const r = await SEQ.run({ seed: 1, runs: 400, bugs: [b.bug] });
      expect(r.failure, `${b.bug} not found in ${r.stats.runs} runs`).toBeDefined();
      expect(r.failure!.property).toMatch(b.checks);
      expect(r.shrunkLength).toBeLessThanOrEqual(16);
      console.log(`${b.bug}: ${r.failure!.property} after ${r.runsToFailure} runs, ${r.shrunkLength} operations past setup\n${renderPostcopyDiagram(r.log ?? [], r.failure)}`);
    });
  }
});

describe("post-copy, under the race harness", () => {
  it("the correct VMM passes", async () => {
    const r = await POSTCOPY_RACE.run({ seed: 3, runs: 60 });
    expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
  });

  const BUGS = [
    { bug: "postcopy-clear-before-write", property: /^postcopy-no-early-read$/ },
    { bug: "postcopy-continue-before-write", property: /^postcopy-no-early-read$/ },
    { bug: "uffd-no-must-wait", property: /^refinement\.state$|^linearizability$/ },
  ];
  for (const b of BUGS) {
    it(`${b.bug} is found, and its counterexample replays as a race diagram`, async () => {
      const r = await POSTCOPY_RACE.run({ seed: 1, runs: 400, bugs: [b.bug] });
      expect(r.failure, `${b.bug} not found in ${r.stats.runs} runs`).toBeDefined();
      expect(r.failure!.property).toMatch(b.property);
      expect(r.shrunkLength).toBeLessThanOrEqual(12);
      const s = r.counterexample!;
      const replayed = await replay(s);
      // A post-copy check fails after the run: draw the steps up to the read that showed it.
      const f: RaceFailure = replayed.failure ?? r.failure!;
      const read = replayed.race!.ops.find((o) => o.actor === f.actor && o.index === f.step);
      const steps = replayed.race!.steps.filter((st) => replayed.failure !== undefined || read === undefined || st.index <= read.retStep);
      console.log(`${b.bug}: ${f.property} after ${r.runsToFailure} runs (${(r as { foundBy?: string }).foundBy})\n${renderRaceDiagram(s, { ...replayed, failure: f, race: { ...replayed.race!, steps } })}`);
    });
  }
});
