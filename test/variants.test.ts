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
import { FAULT_EXIT_DESIGNS, PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { COUNTEREXAMPLES, costs, costTable, DOC } from "../tools/variants-doc.js";
import { expectOneLineError, faultline, scratch } from "./cli-child.js";
import { memslot } from "./helpers/ops.js";
import { ruleCaseTests, type RuleCase } from "./helpers/rule-cases.js";
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

/**
 * exit-on-missing runs only hva_to_pfn_fast, which pins with FOLL_WRITE for a read too (x86 and arm64 pass `writable`;
 * v7 dropped its "fast GUP on read faults" patch): a present but read-only host PTE is an exit, as a missing one is.
 */
describe("exit-on-missing: the fast GUP wants a writable host PTE, for a read too", () => {
  const MiB = 1024 * 1024;
  const setup = (touch: "read" | "write"): Op[] => [
    { op: "create_vm", vm: "v0" },
    { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB },
    memslot({ flags: ["USERFAULT"] }),
    { op: "access", map: "m0", offset: 0, kind: touch, byte: 3 },
  ];
  const read: Op = { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" };
  const design = (faultExit: Config["faultExit"], arch: "x86" | "arm64"): Config => ({ ...PRESETS[arch === "x86" ? "default" : "arm64"], faultExit });
  const cases: RuleCase[] = (["x86", "arm64"] as const).flatMap((arch) => [
    {
      name: `${arch}: the VMM only read the page (the zero page, read-only): the guest's read exits`,
      config: design("exit-on-missing", arch),
      setup: setup("read"),
      op: read,
      outcome: { result: "exit", exit: "memory_fault", gpa: 0 },
      rule: "variant.exit-on-missing",
    },
    {
      name: `${arch}: the VMM wrote the page (a writable PTE): the guest's read maps it`,
      config: design("exit-on-missing", arch),
      setup: setup("write"),
      op: read,
      outcome: { result: "ok", value: 3 },
      rule: "fault.hva-map",
    },
    {
      name: `${arch}: under KVM Userfault v3 (no bit set) the read-only page maps`,
      config: design("userfault-v3", arch),
      setup: setup("read"),
      op: read,
      outcome: { result: "ok", value: 0 },
      rule: "fault.hva-map",
    },
  ]);
  ruleCaseTests(cases, PRESETS.default);
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
