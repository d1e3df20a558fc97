// Dirty logging (model/kvm/dirty-log.ts, impl/kvm/dirty-log.ts): every rule through model and impl, both sides of
// CLEAR's bounds, where it meets USERFAULT and huge-page recovery, and each seeded bug found by its suite.
import { describe, expect, it } from "vitest";
import type { BugId } from "../impl/bugs.js";
import { DIRTY_STATE_INVARIANTS } from "../model/kvm/dirty-invariants.js";
import { initial, step } from "../model/index.js";
import { Checker } from "../props/checker.js";
import { suiteNamed } from "../props/registry.js";
import type { Op, OpOf } from "../schema/ops.js";
import { bits, cap, clear, DIRTY_LOG_CASES, get, MiB, VM, write, X86 } from "./helpers/dirty-log-cases.js";
import { memslot } from "./helpers/ops.js";
import { ruleCaseTests } from "./helpers/rule-cases.js";

describe("dirty logging: model and implementation agree, rule by rule", () => {
  ruleCaseTests(DIRTY_LOG_CASES, X86);
});

/** The model's state after ops, and the rules each step fired. */
function modelRun(config: typeof X86, ops: readonly Op[]): { state: ReturnType<typeof initial>; fired: (readonly string[])[] } {
  let s = initial(config);
  const fired: (readonly string[])[] = [];
  for (const op of ops) {
    const r = step(s, op);
    s = r.state;
    fired.push(r.fired);
  }
  return { state: s, fired };
}

const HUGETLB: Op[] = [VM, { op: "memfd", file: "f0", size: 8 * MiB, hugetlb: true }, { op: "mmap", map: "m1", file: "f0", offset: 0, length: 8 * MiB, shared: true }];
const hslot = (flags: OpOf<"set_memory_region">["flags"]): Op => memslot({ userspace: "m1", memory_size: 4 * MiB, flags });
const level = (s: ReturnType<typeof initial>, gfn: number): number | undefined => s.kvm.vms[0]!.stage2[0]!.find((sp) => sp.start <= gfn && gfn < sp.end)?.value.level;

describe("where dirty logging meets huge mappings and KVM Userfault", () => {
  it("turning logging on write-protects the huge mapping; the first write shatters it to 4 KiB and marks the page", async () => {
    const checker = new Checker(X86);
    await checker.applyAll([...HUGETLB, hslot([]), write(0), hslot(["LOG_DIRTY_PAGES"]), write(5), get()]);
    expect(checker.trace.at(-1)!.model).toEqual({ result: "ok", dirty_bitmap: bits(1024, [5]) });
  });

  it("INITIALLY_SET leaves the huge mapping writable until CLEAR protects it lazily", () => {
    const ops = [...HUGETLB.slice(0, 1), cap(["ENABLE", "INITIALLY_SET"]), ...HUGETLB.slice(1), hslot([]), write(0), hslot(["LOG_DIRTY_PAGES"])];
    const before = modelRun(X86, ops);
    expect(before.fired.at(-1)).toContain("dirtylog.init-set-no-wp");
    expect(before.state.kvm.vms[0]!.stage2[0]![0]!.value).toMatchObject({ level: 1, writable: true });
    const after = modelRun(X86, [...ops, clear(0, 64)]);
    expect(after.state.kvm.vms[0]!.stage2[0]![0]!.value).toMatchObject({ level: 1, writable: false });
  });

  it("x86: USERFAULT off while logging stays on recovers nothing; logging off then recovers 2 MiB", () => {
    const ops = [...HUGETLB, hslot([]), write(0), hslot(["LOG_DIRTY_PAGES", "USERFAULT"]), write(1)];
    const r = modelRun(X86, [...ops, hslot(["LOG_DIRTY_PAGES"])]);
    expect(r.fired.at(-1)).toContain("dirtylog.userfault-off-logging");
    expect(level(r.state, 1)).toBe(0);
    expect(level(modelRun(X86, [...ops, hslot(["LOG_DIRTY_PAGES"]), hslot([])]).state, 1)).toBe(1);
  });

  it("x86: logging off while USERFAULT stays on recovers nothing (faultline's reading of v3 05/15)", () => {
    const r = modelRun(X86, [...HUGETLB, hslot(["LOG_DIRTY_PAGES", "USERFAULT"]), write(1), hslot(["USERFAULT"])]);
    expect(r.fired.at(-1)).toContain("faultline.dirtylog-off-userfault");
    expect(level(r.state, 1)).toBe(0);
  });

  it("the model's claim: manual protect switched off after INITIALLY_SET leaves a writable huge mapping GET cannot protect", () => {
    const ops = [VM, cap(["ENABLE", "INITIALLY_SET"]), ...HUGETLB.slice(1), hslot([]), write(0), hslot(["LOG_DIRTY_PAGES"]), cap([]), get()];
    const [inv] = DIRTY_STATE_INVARIANTS;
    expect(inv!.check(modelRun(X86, ops).state)).toMatchObject({ holds: false });
    expect(inv!.check(modelRun(X86, ops.slice(0, -2)).state)).toMatchObject({ holds: true, nonVacuous: true });
  });
});

describe("each seeded dirty-logging bug is found by its suite of the default check", () => {
  // Each within the runs its suite has in the default check.
  const CAUGHT: readonly { bug: BugId; suite: string; property: RegExp }[] = [
    { bug: "dirty-log-clear-no-wp", suite: "dirty-log-manual-x86", property: /^dirty-log-writable-marked$|^refinement/ },
    { bug: "dirty-log-huge-writable", suite: "dirty-log-manual-x86", property: /^dirty-log-writable-marked$|^refinement/ },
    { bug: "dirty-log-uaccess-unmarked", suite: "dirty-log-x86", property: /^dirty-log-write-marked$|^refinement/ },
    { bug: "dirty-log-off-recover-userfault", suite: "dirty-log-x86", property: /^userfault-4k$|^refinement/ },
    { bug: "dirty-log-get-nonatomic", suite: "race-dirty-log", property: /./ },
    { bug: "dirty-log-mark-early", suite: "race-dirty-log", property: /./ },
    // The relaxation for writes in the window of a logging enable (dirtylog.enable-stale-slot) still sees a lost mark.
    { bug: "dirty-log-enable-wp-early", suite: "race-memslot-changes-arm64", property: /^dirty-log-writable-marked$|^refinement/ },
  ];
  for (const c of CAUGHT) {
    it(`${c.bug}: ${c.suite} fails`, async () => {
      const s = suiteNamed(c.suite)!;
      const r = await s.run({ seed: 1, runs: s.runs, bugs: [c.bug] });
      expect(r.failure, `${c.bug} in ${c.suite}`).toBeDefined();
      expect(r.failure!.property).toMatch(c.property);
    });
  }

  it("the invariants alone catch the bugs that leave a page writable or a write unmarked", async () => {
    for (const [bug, suite, inv] of [
      ["dirty-log-clear-no-wp", "dirty-log-manual-x86", "dirty-log-writable-marked"],
      ["dirty-log-huge-writable", "dirty-log-manual-x86", "dirty-log-writable-marked"],
      ["dirty-log-uaccess-unmarked", "dirty-log-x86", "dirty-log-write-marked"],
    ] as const) {
      const r = await suiteNamed(suite)!.run({ seed: 1, runs: 200, bugs: [bug], checks: { refinement: false, invariants: [inv] } });
      expect(r.failure?.property, bug).toBe(inv);
    }
  });
});
