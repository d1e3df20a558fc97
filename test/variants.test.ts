// The fault-exit designs (config.faultExit, docs/VARIANTS.md): the cost table in the docs is the model's, each
// design's decision is reached, the stored counterexamples of the broken designs replay (and pass under KVM
// Userfault v3, so the design broke the property, not the implementation), and the new invariant and seeded race
// are caught.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenario } from "../cli/files.js";
import { replay } from "../props/replay.js";
import { suiteNamed } from "../props/registry.js";
import { FAULT_EXIT_DESIGNS } from "../schema/config.js";
import { COUNTEREXAMPLES, costs, costTable, DOC } from "../tools/variants-doc.js";
import { expectOneLineError, faultline, scratch } from "./cli-child.js";
import { ONLY } from "./helpers/seeded-bugs.js";

describe("docs/VARIANTS.md", () => {
  it("holds the model's cost table (npm run docs:variants)", () => {
    const doc = readFileSync(DOC, "utf8");
    for (const line of costTable()) expect(doc).toContain(line);
  });

  it("has a column for every design", () => {
    const doc = readFileSync(DOC, "utf8");
    expect(doc).toContain(`| property | ${FAULT_EXIT_DESIGNS.join(" | ")} |`);
  });
});

describe("the cost sequence under each design", () => {
  it("v3 zaps the marked regions and exits on both marked pages; eager-split zaps nothing and never exits", () => {
    const v3 = costs("userfault-v3", "arm64");
    const split = costs("eager-split", "arm64");
    expect(v3.userfaultExits).toBe(2);
    expect(split.userfaultExits).toBe(0);
    expect(split.zappedPages).toBeLessThan(v3.zappedPages);
  });

  it("userfault-v1 zaps again on arm64 when USERFAULT goes off, and not on x86", () => {
    expect(costs("userfault-v1", "arm64").zappedPages).toBeGreaterThan(costs("userfault-v3", "arm64").zappedPages);
    expect(costs("userfault-v1", "x86")).toEqual(costs("userfault-v3", "x86"));
  });

  it("memory-fault-rwx adds READ; arm64-memory-fault-info turns arm64's bare EFAULT into an exit; exit-on-missing reads no bitmap", () => {
    expect(costs("memory-fault-rwx", "x86").flags).toEqual(["READ", "USERFAULT"]);
    const annotated = costs("arm64-memory-fault-info", "arm64");
    expect([annotated.bareEfaults, costs("userfault-v3", "arm64").bareEfaults]).toEqual([0, 1]);
    expect(costs("arm64-memory-fault-info", "x86")).toEqual(costs("userfault-v3", "x86"));
    expect(costs("exit-on-missing", "x86").userfaultExits).toBe(0);
  });
});

describe("the stored counterexamples of the broken designs", () => {
  const files = readdirSync(COUNTEREXAMPLES).filter((f) => f.endsWith(".json"));

  it("exist for eager-split and exit-on-missing only", () => {
    const designs = new Set(files.map((f) => loadScenario(join(COUNTEREXAMPLES, f)).config.faultExit));
    expect([...designs].sort()).toEqual(["eager-split", "exit-on-missing"]);
  });

  it("replay to a failure under their design, and pass under KVM Userfault v3", async () => {
    for (const f of files) {
      const s = loadScenario(join(COUNTEREXAMPLES, f));
      const r = await replay(s);
      expect(r.failure?.property, f).toBeDefined();
      const { faultExit: _design, ...v3 } = s.config;
      expect((await replay({ ...s, config: v3 })).failure, f).toBeUndefined();
    }
  }, 300_000);
});

describe("userfault-enable-unmaps", () => {
  it("fails alone on the seeded userfault-enable-no-zap (enabling USERFAULT keeps old mappings)", async () => {
    const r = await suiteNamed("kvm-hugetlb-x86")!.run({ seed: 1, runs: 300, bugs: ["userfault-enable-no-zap"], checks: ONLY("userfault-enable-unmaps") });
    expect(r.failure?.property).toBe("userfault-enable-unmaps");
  }, 120_000);

  it("fails alone under eager-split, and holds under v3 on the same runs", async () => {
    const suite = suiteNamed("kvm-hugetlb-x86")!;
    const broken = await suite.run({ seed: 1, runs: 100, faultExit: "eager-split", checks: ONLY("userfault-enable-unmaps") });
    expect(broken.failure?.property).toBe("userfault-enable-unmaps");
    expect((await suite.run({ seed: 1, runs: 100, checks: ONLY("userfault-enable-unmaps") })).failure).toBeUndefined();
  }, 120_000);
});

describe("the seeded race userfault-enable-no-sync", () => {
  it("is found by race-userfault-enable-arm64", async () => {
    const r = await suiteNamed("race-userfault-enable-arm64")!.run({ seed: 1, runs: 150, bugs: ["userfault-enable-no-sync"] });
    expect(r.failure?.property).toMatch(/^refinement|^linearizability|^userfault-enable-unmaps/);
  }, 120_000);
});

describe("faultline check --fault-exit", () => {
  it("runs a suite under the design and stores a counterexample that carries it", () => {
    const dir = scratch();
    const r = faultline(["check", "--suite", "kvm-hugetlb-x86", "--runs", "60", "--seed", "1", "--fault-exit", "eager-split", "--workers", "1"], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/kvm-hugetlb-x86: .*FAILED userfault-enable-unmaps/);
    const stored = readdirSync(join(dir, "counterexamples"));
    expect(loadScenario(join(dir, "counterexamples", stored[0]!)).config.faultExit).toBe("eager-split");
  }, 120_000);

  it("refuses an unknown design in one line", () => {
    expectOneLineError(faultline(["check", "--fault-exit", "v4"], scratch()), /--fault-exit: unknown fault-exit design "v4"/);
  });
});
