// Post-copy on every backing (props/postcopy/backings.ts): the correct VMM passes each shape, each seeded VMM mistake
// of a new shape is found by its suite, the fetch-at-most-once bound fails on the VMM that fetches twice, and the cost
// model's counters are deterministic, in the suite's stats and in a replay.
import { describe, expect, it } from "vitest";
import { POSTCOPY_SHAPE_SUITES } from "../props/postcopy/backings.js";
import { renderPostcopyDiagram } from "../props/postcopy/diagram.js";
import { Vmm } from "../props/postcopy/vmm.js";
import { replay } from "../props/replay.js";
import { PRESETS } from "../schema/config.js";

const suite = (name: string) => POSTCOPY_SHAPE_SUITES.find((s) => s.name === name)!;

describe("post-copy on every backing, the correct VMM", () => {
  for (const s of POSTCOPY_SHAPE_SUITES) {
    // A 2 MiB page costs seconds a run here (the abstraction rebuilt every step): one run; faultline check runs more.
    const runs = s.runs > 10 ? 25 : 1;
    it(`${s.name} passes ${runs} runs`, async () => {
      const r = await s.run({ seed: 11, runs });
      expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
      expect(r.stats.costs.get("postcopy.fetches")).toBeGreaterThan(0);
    });
  }
});

describe("post-copy on every backing, the seeded VMM mistakes", () => {
  const BUGS = [
    { suite: "postcopy-anon", bug: "postcopy-eexist-no-wake", property: /^postcopy-threads-finish$/ },
    { suite: "postcopy-anon", bug: "postcopy-discard-missed", property: /^postcopy-(reads-expected|equals-source)$/ },
    { suite: "postcopy-anon", bug: "postcopy-remove-ignored", property: /^postcopy-(reads-expected|equals-source|fetch-once)$/ },
    { suite: "postcopy-shmem", bug: "postcopy-resend-overwrites", property: /^postcopy-(reads-expected|equals-source|fetch-once)$/ },
    { suite: "postcopy-shmem", bug: "postcopy-current-no-continue", property: /^postcopy-threads-finish$/ },
    { suite: "postcopy-snapshot-shared-uffd", bug: "postcopy-current-no-continue", property: /^postcopy-threads-finish$/ },
    { suite: "postcopy-snapshot-private", bug: "postcopy-snapshot-hole-zero", property: /^postcopy-(reads-expected|equals-source)$/ },
    // The bound alone: a second fetch of a page in flight writes the same bytes, so only the count shows it.
    { suite: "postcopy-shmem", bug: "postcopy-fetch-twice-on-exit", property: /^postcopy-fetch-once$/ },
  ];
  for (const b of BUGS) {
    it(`${b.bug} is found by ${b.suite} in its default runs`, async () => {
      const s = suite(b.suite);
      const r = await s.run({ seed: 1, runs: s.runs, bugs: [b.bug] });
      expect(r.failure, `${b.bug} not found in ${r.stats.runs} runs`).toBeDefined();
      expect(r.failure!.property).toMatch(b.property);
      expect(r.shrunkLength).toBeLessThanOrEqual(16);
      console.log(`${b.bug}: ${r.failure!.property} after ${r.runsToFailure} runs\n${renderPostcopyDiagram(r.log ?? [], r.failure)}`);
    });
  }
});

describe("post-copy on 2 MiB pages, the seeded VMM mistake", () => {
  // Shrinking a 2 MiB run takes minutes under the per-step rebuild of the tests: the mistake on a scenario of its
  // shape (faultline check --suite postcopy-hugetlb-2m --bugs postcopy-huge-clear-one-gfn finds it on its first run).
  const sc = {
    pages: 2,
    source: [0x11, 0x22],
    precopied: [null, null],
    fetchOrder: [0, 1],
    events: [{ kind: "guest", vcpu: 2, write: false, page: 1, offset: 4096 + 8, byte: 1 }] as const,
    backing: "hugetlb-2m",
    vcpus: 4,
  } as const;
  it("the correct VMM clears every gfn of the huge page: the vCPU reads the source", async () => {
    const vmm = new Vmm(PRESETS.default, { ...sc, events: [...sc.events] });
    await vmm.run();
    expect(vmm.log.filter((e) => e.actor === "vcpu2").map((e) => e.outcome)).toContainEqual({ result: "ok", value: 0x22 });
  });
  it("postcopy-huge-clear-one-gfn leaves the vCPU exiting on the huge page's second gfn", async () => {
    const vmm = new Vmm({ ...PRESETS.default, bugs: ["postcopy-huge-clear-one-gfn"] }, { ...sc, events: [...sc.events] });
    await expect(vmm.run()).rejects.toThrow(/postcopy-threads-finish/);
  });
});

describe("the cost model", () => {
  it("counts the same for the same seed, whatever else ran before", async () => {
    const s = suite("postcopy-anon-uffd");
    const a = await s.run({ seed: 5, runs: 10 });
    await suite("postcopy-shmem").run({ seed: 9, runs: 5 });
    const b = await s.run({ seed: 5, runs: 10 });
    expect(JSON.stringify(b.stats.toJSON())).toBe(JSON.stringify(a.stats.toJSON()));
    const costs = (a.stats.toJSON() as { costs: Record<string, number> }).costs;
    expect(costs["uffd.messages"]).toBeGreaterThan(0);
    expect(costs["uffd.wakeups"]).toBeGreaterThan(0);
    expect(costs["lock.mmap_lock.acquired"]).toBeGreaterThan(0);
  });

  it("a vCPU's USERFAULT exit is one memory-fault exit and no uffd message; without KVM Userfault it is a message and a wakeup", async () => {
    const run = async (userfault: boolean) => {
      const vmm = new Vmm(PRESETS.default, {
        pages: 2,
        source: [0x11, 0x22],
        precopied: [null, null],
        fetchOrder: [1, 0],
        events: [{ kind: "guest", vcpu: 1, write: false, page: 0, offset: 8, byte: 1 }, { kind: "handler", thread: 1 }],
        backing: "shmem",
        userfault,
        vcpus: 4,
        handlers: "per-vcpu",
      });
      await vmm.run();
      const costs: Record<string, number> = { ...vmm.checker.costs()!, ...vmm.costs() };
      return costs;
    };
    const ku = await run(true);
    const uffd = await run(false);
    expect([ku["kvm.memory_fault_exits"], ku["uffd.messages"], ku["postcopy.fetches"]]).toEqual([1, 0, 2]);
    expect([uffd["kvm.memory_fault_exits"], uffd["uffd.messages"], uffd["uffd.wakeups"], uffd["postcopy.fetches"]]).toEqual([0, 1, 1, 2]);
  });

  it("a replay reports what the run cost", async () => {
    const r = await suite("postcopy-shmem").run({ seed: 1, runs: 60, bugs: ["postcopy-fetch-twice-on-exit"] });
    const replayed = await replay(r.counterexample!);
    expect(replayed.failure?.property).toBe("postcopy-fetch-once");
    expect(replayed.costs?.["postcopy.pages_fetched_twice"]).toBe(1);
    expect(replayed.costs?.["kvm.memslot_updates"]).toBe(1);
  });
});
