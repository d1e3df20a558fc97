// The guest_memfd races: the 2024 RFC's unlocked host fault path is a stored, documented flaw; the v7 seeded
// race is found with a short counterexample and a diagram; the real implementation survives every race.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BUG_IDS, type BugId } from "../impl/bugs.js";
import { renderRaceDiagram, renderRaceSvg } from "../props/concurrent/diagram.js";
import { runRace, SETUP, type RaceActor } from "../props/concurrent/harness.js";
import { GMEM_RACES, RFC_FOLIO_LOCK_VCPU_RACE, RFC_NO_FAULT_LOCK, RFC_NO_LOCK_RACE } from "../props/gmem/races.js";
import { replay } from "../props/replay.js";
import { resolveConfig } from "../schema/config.js";
import { decodeScenario } from "../schema/scenario.js";

const DIR = "counterexamples";
const stored = (): string => {
  const file = readdirSync(DIR).find((f) => f.startsWith(`${RFC_NO_LOCK_RACE.name}--`));
  expect(file, "counterexamples/ keeps the 2024 RFC's unlocked-fault race").toBeDefined();
  return `${DIR}/${file}`;
};

describe("the 2024 RFC without its fault-path lock", () => {
  it("is found with a two-operation counterexample", async () => {
    const r = await RFC_NO_LOCK_RACE.run({ seed: 1, runs: 1000 });
    expect(r.failure?.property).toBe("gmem-private-not-host-mapped");
    expect(r.shrunkLength).toBeLessThanOrEqual(3);
  });

  it("keeps its counterexample: it replays as a documented flaw and draws as a race", async () => {
    const path = stored();
    const s = decodeScenario(path, readFileSync(path, "utf8"), { bugs: BUG_IDS });
    expect(s.expectedToFail).toMatch(/RFC PATCH 39\/39/);
    expect(s.config.gmemFaultLock).toBe(false);
    const r = await replay(s);
    expect(r.failure).toMatchObject({ property: s.failure!.property, actor: s.failure!.actor, step: s.failure!.step });
    const diagram = renderRaceDiagram(s, r);
    expect(diagram).toMatch(/kvm_gmem_fault:kvm_gmem_get_folio/);
    expect(diagram).toMatch(/finish_fault {2}<-- detected/);
    expect(renderRaceSvg(s, r)).toMatch(/^<svg/);
  });

  it("with the lock of its last patch, or the folio lock Peter Xu proposed, no schedule of the same actors fails", async () => {
    const s = decodeScenario(stored(), readFileSync(stored(), "utf8"), { bugs: BUG_IDS });
    const actors = s.actors as RaceActor[];
    expect(actors[0]!.name).toBe(SETUP);
    let unlockedFailures = 0;
    for (let mask = 0; mask < 1 << 8; mask++) {
      const choices = Array.from({ length: 8 }, (_, i) => (mask >> i) & 1);
      const unlocked = await runRace(RFC_NO_FAULT_LOCK, actors, { kind: "choices", choices });
      if (unlocked.failure !== undefined) unlockedFailures++;
      const locked = await runRace({ ...RFC_NO_FAULT_LOCK, gmemFaultLock: true }, actors, { kind: "choices", choices });
      expect(locked.failure, `schedule ${choices.join("")}`).toBeUndefined();
      // Peter Xu's alternative: the check under the folio lock instead of the invalidate lock.
      const folio = await runRace({ ...RFC_NO_FAULT_LOCK, gmemFaultLock: "folio" }, actors, { kind: "choices", choices });
      expect(folio.failure, `schedule ${choices.join("")} with the folio lock`).toBeUndefined();
    }
    expect(unlockedFailures, "the same schedules do find the race without the lock").toBeGreaterThan(0);
  });
});

describe("the 2024 RFC with Peter Xu's folio lock", () => {
  it("keeps its counterexample: the host's SIGBUS and the vCPU's shared exit have no common order; the invalidate lock orders them", async () => {
    const file = readdirSync(DIR).find((f) => f.startsWith(`${RFC_FOLIO_LOCK_VCPU_RACE.name}--`));
    expect(file, "counterexamples/ keeps the folio lock's flaw").toBeDefined();
    const s = decodeScenario(`${DIR}/${file}`, readFileSync(`${DIR}/${file}`, "utf8"), { bugs: BUG_IDS });
    expect(s.config.gmemFaultLock).toBe("folio");
    const r = await replay(s);
    expect(r.failure?.property).toBe("linearizability");
    expect(renderRaceDiagram(s, r)).toMatch(/folio_lock\n\s+= SIGBUS/);
    const locked = await runRace(resolveConfig({ ...s.config, gmemFaultLock: true }), s.actors as RaceActor[], { kind: "choices", choices: [...s.schedule!] });
    expect(locked.failure).toBeUndefined();
  });
});

/** The seeded bugs the issue names, each with the race that finds it and the property that fails. */
const SEEDED: readonly { bug: BugId; suite: string; property: string | RegExp }[] = [
  { bug: "gmem-host-fault-unlocked", suite: "race-gmem-convert-host", property: "gmem-private-not-host-mapped" },
  { bug: "gmem-convert-check-before-unmap", suite: "race-gmem-convert-vcpu", property: "linearizability" },
  // The private page is pinned or host-mapped, whichever the schedule shows first.
  { bug: "gmem-convert-commit-before-check", suite: "race-gmem-convert-host", property: /^(gmem-pinned-shared|gmem-private-not-host-mapped)$/ },
  { bug: "gmem-punch-no-zap", suite: "race-gmem-punch", property: "gmem-stage2-backed" },
  { bug: "gmem-merge-mapped", suite: "race-gmem-convert-vcpu", property: "gmem-host-map-split" },
  { bug: "gmem-rfc-folio-check-unlocked", suite: "race-gmem-rfc-2024-folio-lock", property: "gmem-private-not-host-mapped" },
];

describe("guest_memfd races", () => {
  for (const c of SEEDED) {
    it(`${c.bug} is found by ${c.suite} with a short counterexample and a race diagram`, async () => {
      const suite = GMEM_RACES.find((s) => s.name === c.suite)!;
      const r = await suite.run({ seed: 1, runs: 1000, bugs: [c.bug] });
      expect(r.failure?.property).toMatch(c.property);
      expect(r.shrunkLength).toBeLessThanOrEqual(3);
      const replayed = await replay(r.counterexample!);
      expect(replayed.failure?.property).toBe(r.failure?.property);
      expect(renderRaceDiagram(r.counterexample!, replayed)).toMatch(/<-- detected/);
    });
  }

  for (const suite of GMEM_RACES) {
    it(`the implementation survives ${suite.name}`, async () => {
      const r = await suite.run({ seed: 3, runs: 60 });
      expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
    });
  }
});
