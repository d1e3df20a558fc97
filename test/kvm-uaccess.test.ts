// KVM's own accesses to guest memory (kvm_access): one case per rule of model/kvm/uaccess.ts through model and impl,
// the post-copy answer to "can KVM itself read a page the VMM has not fetched yet?", and the seeded bugs that break it.
import { describe, expect, it } from "vitest";
import { Checker, PropertyFailure } from "../props/checker.js";
import { Vmm } from "../props/postcopy/vmm.js";
import { POSTCOPY_KVM_RACE } from "../props/postcopy/race.js";
import { POSTCOPY_SUITES } from "../props/postcopy/suite.js";
import { PRESETS } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import { memslot } from "./helpers/ops.js";
import { ruleCaseTests, type RuleCase } from "./helpers/rule-cases.js";

const MiB = 1024 * 1024;
const X86 = PRESETS.default;
const ARM = PRESETS.arm64;
const BASE: Op[] = [{ op: "create_vm", vm: "v0" }, { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB }, memslot()];
const kvm = (gpa: number, kind: "read" | "write" | "exec" = "read", extra: Partial<OpOf<"kvm_access">> = {}): Op => ({ op: "kvm_access", vm: "v0", vcpu: 0, gpa, kind, ...extra });

const CASES: readonly RuleCase[] = [
  { name: "a read through the slot's hva returns the byte stored there", setup: [...BASE, { op: "access", map: "m0", offset: 8, kind: "write", byte: 7 }], op: kvm(8), outcome: { result: "ok", value: 7 }, rule: "uaccess.copy" },
  { name: "a write lands in the host page the guest then reads", setup: BASE, op: kvm(16, "write", { byte: 9 }), outcome: { result: "ok" }, rule: "uaccess.copy" },
  { name: "no memslot: -EFAULT", setup: BASE, op: kvm(4 * MiB), outcome: { errno: "EFAULT" }, rule: "uaccess.no-hva" },
  { name: "no memslot, emulated load: MMIO", setup: BASE, op: kvm(4 * MiB, "read", { emulate: true }), outcome: { result: "exit", exit: "mmio", gpa: 4 * MiB, write: false }, rule: "uaccess.emulate-mmio" },
  { name: "no memslot, instruction fetch: internal error", setup: BASE, op: kvm(4 * MiB, "exec"), outcome: { result: "exit", exit: "internal_error", gpa: 4 * MiB }, rule: "uaccess.emulate-fetch" },
  { name: "a write into a READONLY slot: -EFAULT", setup: [BASE[0]!, BASE[1]!, memslot({ flags: ["READONLY"] })], op: kvm(0, "write"), outcome: { errno: "EFAULT" }, rule: "uaccess.readonly" },
  { name: "an emulated store into a READONLY slot: MMIO write", setup: [BASE[0]!, BASE[1]!, memslot({ flags: ["READONLY"] })], op: kvm(0, "write", { emulate: true }), outcome: { result: "exit", exit: "mmio", write: true }, rule: "uaccess.emulate-mmio" },
  { name: "the hva is not mapped: the copy faults, -EFAULT", setup: [BASE[0]!, BASE[1]!, memslot({ userspace_offset: 4 * MiB })], op: kvm(0), outcome: { errno: "EFAULT" }, rule: "uaccess.copy-efault" },
  {
    name: "the USERFAULT bit is not consulted: KVM reads the page",
    setup: [...BASE.slice(0, 2), memslot({ flags: ["USERFAULT"] }), { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: 1 }, { op: "access", map: "m0", offset: 0, kind: "write", byte: 5 }],
    op: kvm(0),
    outcome: { result: "ok", value: 5 },
    rule: "uaccess.userfault-not-checked",
  },
  {
    name: "a MISSING-registered hva: vCPU 0 sleeps in the VMM's userfaultfd",
    setup: [...BASE, { op: "uffd_open", uffd: "u0", features: [] }, { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 2 * MiB, mode: ["MISSING"] }],
    op: kvm(8),
    outcome: { result: "blocked", fault: { uffd: "u0", flags: [], address_offset: 0 } },
    rule: "uaccess.userfault-sleep",
  },
  { name: "arm64 has no instruction emulator", config: ARM, setup: BASE, op: kvm(0, "read", { emulate: true }), outcome: { errno: "ENOTTY" }, rule: "uaccess.no-emulator-arm64" },
  { name: "a vCPU past config.vcpus: EBADF", setup: BASE, op: { op: "kvm_access", vm: "v0", vcpu: 2, gpa: 0, kind: "read" }, outcome: { errno: "EBADF" }, rule: "vcpu.ebadf" },
];

describe("kvm_access: model and implementation agree, rule by rule", () => {
  ruleCaseTests(CASES, X86);

  it("the sleeping copy is retried by UFFDIO_COPY and completes with the copied byte", async () => {
    const checker = new Checker(X86);
    await checker.applyAll([
      ...CASES[9]!.setup,
      CASES[9]!.op,
      { op: "uffdio_copy", uffd: "u0", map: "m0", offset: 0, len: 4096, byte: 0x42 },
      { op: "wake_check", id: "v0.vcpu0" },
    ]);
    expect(checker.trace.at(-1)!.model).toEqual({ result: "completed", value: 0x42 });
  });
});

/** A post-copy scenario where KVM reads page 0 for vCPU 1 before the VMM fetched it, then the VMM serves it. */
const KVM_FIRST = {
  pages: 2,
  source: [0x11, 0x22],
  precopied: [0x99, null],
  fetchOrder: [1, 0],
  events: [{ kind: "kvm", how: "copy", write: false, page: 0, offset: 8, byte: 1 } as const, { kind: "handler" } as const, { kind: "handler" } as const, { kind: "handler" } as const],
};

describe("post-copy: can KVM itself read a page the VMM has not fetched yet?", () => {
  it("not with userfaultfd on the memslot's mapping: KVM's copy sleeps until the VMM fetched the page and sent CONTINUE", async () => {
    const vmm = new Vmm(X86, KVM_FIRST);
    await vmm.run();
    const kvmOps = vmm.log.filter((e) => e.actor === "kvm").map((e) => `${e.op.op} ${JSON.stringify(e.outcome)}`);
    expect(kvmOps).toEqual(['kvm_access {"result":"blocked","fault":{"uffd":"u0","flags":["MINOR"],"address_offset":0}}', 'wake_check {"result":"completed","value":17}']);
  });

  it("with KVM Userfault alone (postcopy-kvm-userfault-only) KVM reads the stale pre-copied page: postcopy-no-early-read", async () => {
    const vmm = new Vmm({ ...X86, bugs: ["postcopy-kvm-userfault-only"] }, KVM_FIRST);
    const err = await vmm.run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PropertyFailure);
    const f = (err as PropertyFailure).failure;
    expect(f.property).toBe("postcopy-no-early-read");
    expect(f.detail).toMatch(/^KVM's own access \(vCPU 1\) read page 0 before its fetch/);
  });

  it("faultline check's postcopy suite finds both seeded bugs", async () => {
    const suite = POSTCOPY_SUITES[0]!;
    const direct = await suite.run({ seed: 1, runs: 300, bugs: ["uaccess-gmem-direct"] });
    expect(direct.failure?.property).toBe("refinement.outcome");
    const only = await suite.run({ seed: 1, runs: 300, bugs: ["postcopy-kvm-userfault-only"] });
    expect(only.failure?.property).toMatch(/^postcopy-(no-early-read|reads-expected)$/);
  });
});

describe("postcopy-kvm-race: KVM's own accesses against bit clears, CONTINUE / COPY and the USERFAULT toggle", () => {
  it("the correct VMM passes, within k", async () => {
    const r = await POSTCOPY_KVM_RACE.run({ seed: 5, runs: 40 });
    expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
    expect(r.stats.longestRun).toBeLessThanOrEqual(POSTCOPY_KVM_RACE.steps);
  });

  it("postcopy-userfault-off-early is found: a guest read between the toggle and the last page's fetch", async () => {
    const r = await POSTCOPY_KVM_RACE.run({ seed: 1, runs: 150, bugs: ["postcopy-userfault-off-early"] });
    expect(r.failure?.property).toMatch(/^postcopy-(no-early-read|reads-expected)$/);
    expect(r.counterexample?.actors?.find((a) => a.name === "fetcher")?.steps.some((o) => o.op === "set_memory_region")).toBe(true);
  });

  it("uaccess-gmem-direct is found: KVM's access completes where the model's sleeps in userfaultfd", async () => {
    const r = await POSTCOPY_KVM_RACE.run({ seed: 1, runs: 150, bugs: ["uaccess-gmem-direct"] });
    expect(r.failure).toBeDefined();
  });
});
