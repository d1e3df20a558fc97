// The race harness: the scheduler, schedules as data, deterministic replay from the counterexample file
// alone, race diagrams, and the real implementation passing every concurrent suite.
import { describe, expect, it } from "vitest";
import { BUG_IDS } from "../impl/bugs.js";
import { PRESETS, resolveConfig } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { decodeScenario } from "../schema/scenario.js";
import { renderRaceDiagram, renderRaceHtml, renderRaceSvg } from "../props/concurrent/diagram.js";
import { runConcurrentSuite } from "../props/concurrent/explore.js";
import { runRace, SETUP, UNDECIDED } from "../props/concurrent/harness.js";
import { hostWithin, staleSpte } from "../props/concurrent/history.js";
import { Scheduler } from "../props/concurrent/scheduler.js";
import { chooser, rotation } from "../props/concurrent/schedules.js";
import { CONCURRENT_SUITES } from "../props/concurrent/suites.js";
import { SUITES } from "../props/registry.js";
import { replay } from "../props/replay.js";
import { Stats } from "../props/stats.js";
import { ANON, setupOf } from "../props/layouts.js";
import { initial, step, type State } from "../model/index.js";

const suite = (name: string) => CONCURRENT_SUITES.find((s) => s.name === name)!;

describe("scheduler", () => {
  it("runs one actor at a time, to its next yield point, and skips actors whose wait is not enabled", async () => {
    const s = new Scheduler();
    const log: string[] = [];
    let flag = false;
    await s.start(0, async () => {
      log.push("a1");
      await s.yield("a:wait", () => flag);
      log.push("a2");
    });
    await s.start(1, async () => {
      log.push("b1");
      await s.yield("b:set");
      flag = true;
      log.push("b2");
    });
    expect(log).toEqual(["a1", "b1"]);
    expect(s.runnable([0, 1])).toEqual([1]);
    await s.resume(1);
    expect(log).toEqual(["a1", "b1", "b2"]);
    expect(s.isFinished(1)).toBe(true);
    expect(s.runnable([0])).toEqual([0]);
    await s.resume(0);
    expect(s.isFinished(0)).toBe(true);
    expect(log).toEqual(["a1", "b1", "b2", "a2"]);
  });

  it("reports an actor that threw instead of losing it", async () => {
    const s = new Scheduler();
    await s.start(0, async () => {
      await s.yield("x");
      throw new Error("unlock of free mmu_lock");
    });
    await s.resume(0);
    expect(s.isFinished(0)).toBe(true);
    expect(String(s.errorOf(0))).toMatch(/unlock of free/);
  });
});

describe("schedules as data", () => {
  it("decision 0 keeps the actor that ran last; others count on from it, cyclically", () => {
    expect(rotation([0, 1, 2], 1)).toEqual([1, 2, 0]);
    expect(rotation([0, 2], 1)).toEqual([2, 0]);
    expect(rotation([0, 1], 5)).toEqual([0, 1]);
    const c = chooser({ kind: "choices", choices: [0, 1, 5] });
    expect(c.pick([0, 1, 2], 1, 1)).toBe(1);
    expect(c.pick([0, 1, 2], 1, 2)).toBe(2);
    expect(c.pick([0, 1, 2], 2, 3)).toBe(1);
    expect(c.pick([0, 1, 2], 1, 4)).toBe(1);
  });

  it("PCT runs the highest priority; at a change point the actor about to run drops below every other first", () => {
    const c = chooser({ kind: "pct", depth: 3, keys: [1, 5, 3, 0], changePoints: [2, 4] });
    expect(c.pick([0, 1, 2], 0, 1)).toBe(1);
    c.ran(1, 1);
    // Step 2 is a change point: actor 1 would run it, so it is demoted and actor 2 runs instead.
    expect(c.pick([0, 1, 2], 1, 2)).toBe(2);
    c.ran(2, 2);
    expect(c.pick([0, 1, 2], 2, 3)).toBe(2);
    c.ran(2, 3);
    // Step 4 has one runnable actor: nothing is picked, and the change point demotes the actor that runs it.
    c.ran(2, 4);
    expect(c.pick([0, 1, 2], 2, 5)).toBe(0);
    expect(c.pick([1, 2], 2, 5)).toBe(1);
  });

  it("follow replays a step order, and keeps the current actor where the run drifts from it", () => {
    const c = chooser({ kind: "follow", order: [1, 1, 0, 2] });
    expect(c.pick([0, 1, 2], 0, 1)).toBe(1);
    c.ran(1, 1);
    c.ran(1, 2);
    expect(c.pick([0, 2], 1, 3)).toBe(0);
    c.ran(0, 3);
    expect(c.pick([0, 1], 0, 4)).toBe(0);
  });

  it("a run's decisions replay it exactly", async () => {
    const actors = [
      { name: SETUP, steps: setupOf(ANON, 0) },
      { name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "write", byte: 9 } as Op] },
      { name: "VMM", steps: [{ op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 0, userspace: "m0", userspace_offset: 0 } as Op] },
    ];
    for (const choices of [[1, 0, 1, 1, 0, 1, 1], [0, 1, 1, 1, 1, 1, 1, 1, 1], [2, 3, 5, 7, 11]]) {
      const a = await runRace(PRESETS.default, actors, { kind: "choices", choices });
      const b = await runRace(PRESETS.default, actors, { kind: "choices", choices: a.schedule });
      expect(b.schedule).toEqual(a.schedule);
      expect(b.steps.map((s) => [s.actor, s.from, s.label])).toEqual(a.steps.map((s) => [s.actor, s.from, s.label]));
      expect(a.failure).toBeUndefined();
    }
  });
});

describe("the linearizability budget", () => {
  const actors = [
    { name: SETUP, steps: setupOf(ANON, 0) },
    { name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "write", byte: 9 } as Op] },
    { name: "vCPU1", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 1, gpa: 4096, kind: "read" } as Op] },
  ];

  it("a segment past the budget fails the run as undecided and is counted; the run does not go on", async () => {
    const stats = new Stats();
    const r = await runRace(PRESETS.default, actors, { kind: "choices", choices: [1, 1, 1, 1] }, { budget: 1, stats });
    expect(r.failure?.property).toBe(UNDECIDED);
    expect(r.failure?.detail).toMatch(/ran out of its budget \(1 model steps\)/);
    expect(r.undecided).toBe(1);
    expect(stats.undecided).toBe(1);
    const enough = await runRace(PRESETS.default, actors, { kind: "choices", choices: [1, 1, 1, 1] });
    expect(enough.failure).toBeUndefined();
    expect(enough.undecided).toBe(0);
  });

  it("a counterexample that fails at the default budget does not pass with a budget of 2", async () => {
    const r = await runConcurrentSuite(suite("race-userfault-clear"), { seed: 2, runs: 1000, bugs: ["userfault-double-fetch"] });
    const ce = r.counterexample!;
    const config = resolveConfig(ce.config);
    const replayed = (budget?: number) => runRace(config, ce.actors!, { kind: "choices", choices: ce.schedule ?? [] }, budget === undefined ? {} : { budget });
    expect((await replayed())?.failure?.property).toBe(r.failure!.property);
    expect((await replayed(2)).failure?.property).toBe(UNDECIDED);
  });
});

describe("the quiescent state comparison", () => {
  const after = (ops: readonly Op[]): State => ops.reduce((st, op) => step(st, op).state, initial(PRESETS.default));
  const base = setupOf(ANON, 0);
  const read: Op = { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "read" };
  const write: Op = { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "write", byte: 3 };
  const hostRead: Op = { op: "access", map: "m0", offset: 4096, kind: "read" };

  it("allows fewer SPTEs than the model (a later zap), not more or larger", () => {
    const mapped = after([...base, write]);
    const bare = after(base);
    expect(staleSpte(mapped, bare)).toBeUndefined();
    expect(staleSpte(bare, mapped)?.detail).toMatch(/where the model maps nothing/);
    // Writable where the model's is read-only: only over the writable host page a retried fault left (hostFurther).
    const noHostPage: State = { ...mapped, mm: { ...mapped.mm, maps: new Map([...mapped.mm.maps].map(([id, m]) => [id, { ...m, ptes: [] }])) } };
    expect(staleSpte(after([...base, read]), mapped)).toBeUndefined();
    expect(staleSpte(after([...base, read]), noHostPage)?.detail).toMatch(/writable where the model maps level 0$/);
  });

  it("allows host pages a retried fault left behind, not lost or other PTEs", () => {
    const bare = after(base);
    const zero = after([...base, hostRead]);
    const cow = after([...base, hostRead, { ...hostRead, kind: "write", byte: 0 }]);
    expect(hostWithin(bare, zero)).toBeUndefined();
    expect(hostWithin(zero, cow)).toBeUndefined();
    expect(hostWithin(cow, zero)).toMatchObject({ model: { target: "anon", writable: true }, impl: { target: "zero", writable: false } });
    expect(hostWithin(zero, bare)?.detail).toMatch(/lost its host PTE/);
  });
});

describe("counterexamples", () => {
  it("replay deterministically from their JSON alone and render as race diagrams", async () => {
    const r = await runConcurrentSuite(suite("race-memslot-delete-move"), { seed: 11, runs: 1000, bugs: ["memslot-invalidate-no-sync"] });
    expect(r.counterexample).toBeDefined();
    // No seed: the file's provenance (where the seed lives) is dropped before replaying.
    const { provenance: _provenance, ...bare } = r.counterexample!;
    const text = JSON.stringify(bare);
    const file = decodeScenario("ce.json", text, { bugs: BUG_IDS });
    const first = await replay(file);
    const second = await replay(decodeScenario("ce.json", text, { bugs: BUG_IDS }));
    expect(first.failure?.property).toBe(r.failure!.property);
    expect(first.failure).toEqual(second.failure);
    expect(first.race!.steps.map((s) => [s.actor, s.from, s.label, s.effects])).toEqual(second.race!.steps.map((s) => [s.actor, s.from, s.label, s.effects]));
    expect(first.race!.schedule.slice(0, file.schedule!.length)).toEqual(file.schedule);

    const diagram = renderRaceDiagram(file, first);
    const names = file.actors!.map((a) => a.name).filter((n) => n !== SETUP);
    expect(diagram.split("\n").some((l) => names.every((n) => l.includes(n)))).toBe(true);
    expect(diagram).toContain("kvm_vm_ioctl_set_memory_region(");
    expect(diagram).toContain("kvm_arch_vcpu_ioctl_run(");
    expect(diagram).toContain(`${first.failure!.property} violated`);
    expect(diagram).toMatch(/^expected: /m);
    expect(diagram).toMatch(/^actual: {3}/m);
    expect(diagram).toContain("<-- detected");

    const svg = renderRaceSvg(file, first);
    expect(svg.startsWith("<svg xmlns=")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).not.toMatch(/&(?!(amp|lt|gt|quot);)/);
    expect(svg.match(/<text/g)?.length).toBe(svg.match(/<\/text>/g)?.length);
    const html = renderRaceHtml(file, first);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain("<table>");
    expect(html).not.toMatch(/<script|<link|src=/);
  });

  it("a replay without the seeded bug passes: the failure is the bug's", async () => {
    const r = await runConcurrentSuite(suite("race-userfault-clear"), { seed: 2, runs: 1000, bugs: ["userfault-double-fetch"] });
    const ce = r.counterexample!;
    const fixed = await replay({ ...ce, config: { ...ce.config, bugs: [] } });
    expect(fixed.failure).toBeUndefined();
    expect(fixed.trace.length).toBeGreaterThan(0);
  });
});

describe("the real implementation", () => {
  // The default check runs them all in full; here a few runs each, more on the four first races.
  for (const [i, s] of CONCURRENT_SUITES.entries()) {
    it(`passes ${s.name}`, async () => {
      const r = await runConcurrentSuite(s, { seed: 42, runs: i < 4 ? 250 : 40 });
      if (r.failure) console.log(JSON.stringify(r.counterexample, null, 1));
      expect(r.failure).toBeUndefined();
      expect(r.stats.invariants.get("linearizable")?.nonVacuous ?? 0).toBeGreaterThan(0);
    });
  }

  it("faultline check runs the concurrent suites", () => {
    for (const s of CONCURRENT_SUITES) expect(SUITES).toContain(s);
    expect(CONCURRENT_SUITES.every((s) => s.kind === "concurrent")).toBe(true);
  });
});
