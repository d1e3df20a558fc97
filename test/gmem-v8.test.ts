// In-place conversion v8 against v7: one case per v8 difference that changes an answer, run through model and
// impl on both designs, each naming the rule (and the patch) that decides it. docs/GMEM.md lists the differences.
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";

const MiB = 1024 * 1024;
const PAGE = 4096;
const V8 = PRESETS["gmem-v8"];
const V7 = PRESETS["gmem-v7"];
/** v8 with CONFIG_KVM_VM_MEMORY_ATTRIBUTES built in and gmem_in_place_conversion=1 on the command line. */
const V8_VM_ATTRS = PRESETS["gmem-v8-vm-attrs"];
const RFC: Config = { ...PRESETS.default, gmemDesign: "rfc-2024" };

const vm = (type = 1): Op => ({ op: "create_vm", vm: "v0", type });
const gmem = (flags: ("MMAP" | "INIT_SHARED")[] = ["MMAP", "INIT_SHARED"]): Op => ({ op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * MiB, flags });
const convert = (offset: number, size: number, to: "private" | "shared" = "private"): OpOf<"gmem_convert"> => ({ op: "gmem_convert", gmem: "g0", offset, size, to });
const attrs = (priv: boolean): Op => ({ op: "set_memory_attributes", vm: "v0", address: 0, size: 4 * PAGE, attributes: priv ? ["PRIVATE"] : [] });
const cap = (c: "MEMORY_ATTRIBUTES" | "GUEST_MEMFD_MEMORY_ATTRIBUTES" | "GUEST_MEMFD_FLAGS"): Op => ({ op: "check_extension", cap: c, vm: "v0" });
const bind: Op = { op: "set_memory_region", vm: "v0", slot: 0, flags: ["GUEST_MEMFD"], guest_phys_addr: 0, memory_size: 4 * MiB, userspace: null, guest_memfd: "g0", guest_memfd_offset: 0 };
const mapG0: Op = { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: 4 * MiB };
const hostRead: Op = { op: "access", map: "m5", offset: 0, kind: "read" };

interface Case {
  readonly name: string;
  readonly setup: readonly Op[];
  readonly op: Op;
  /** The answer on each design, with the rule that decides it. */
  readonly v8: { readonly outcome: Partial<Outcome> & Record<string, unknown>; readonly rule: string; readonly config?: Config };
  readonly v7: { readonly outcome: Partial<Outcome> & Record<string, unknown>; readonly rule: string; readonly config?: Config };
}

async function last(config: Config, ops: readonly Op[]): Promise<{ model: Outcome; fired: readonly string[] }> {
  const checker = new Checker(config);
  await checker.applyAll(ops);
  return checker.trace[checker.trace.length - 1]!;
}

const CASES: readonly Case[] = [
  {
    name: "to shared on a VM without private memory: v8 refuses any conversion there ([PATCH v8 13/46]: !kvm_arch_has_private_mem)",
    setup: [vm(0), gmem(["MMAP"])],
    op: convert(0, PAGE, "shared"),
    v8: { outcome: { errno: "EINVAL" }, rule: "gmem.convert-unsupported" },
    v7: { outcome: { result: "ok" }, rule: "gmem.convert" },
  },
  {
    name: "a no-op to shared on a VM without private memory is refused too, before the range is looked at",
    setup: [vm(0), gmem()],
    op: convert(0, PAGE, "shared"),
    v8: { outcome: { errno: "EINVAL" }, rule: "gmem.convert-unsupported" },
    v7: { outcome: { result: "ok" }, rule: "gmem.convert-noop" },
  },
  {
    name: "per-VM attributes built and in-place conversion on: KVM_SET_MEMORY_ATTRIBUTES stays, PRIVATE is no longer one of its attributes",
    setup: [vm()],
    op: attrs(true),
    v8: { outcome: { errno: "EINVAL" }, rule: "attr.unsupported", config: V8_VM_ATTRS },
    v7: { outcome: { errno: "ENOTTY" }, rule: "attr.enotty" },
  },
  {
    name: "the same ioctl with no attribute is accepted, and changes nothing",
    setup: [vm()],
    op: attrs(false),
    v8: { outcome: { result: "ok" }, rule: "attr.noop", config: V8_VM_ATTRS },
    v7: { outcome: { errno: "ENOTTY" }, rule: "attr.enotty" },
  },
  {
    name: "KVM_CAP_MEMORY_ATTRIBUTES reports no attribute while guest_memfd tracks PRIVATE",
    setup: [vm()],
    op: cap("MEMORY_ATTRIBUTES"),
    v8: { outcome: { result: "ok", value: 0 }, rule: "vm.check-extension", config: V8_VM_ATTRS },
    v7: { outcome: { result: "ok", value: 0 }, rule: "vm.check-extension" },
  },
  {
    name: "in-place conversion on with per-VM attributes built: the guest_memfd ioctl works",
    setup: [vm(), gmem(["MMAP"]), mapG0],
    op: convert(0, PAGE, "shared"),
    v8: { outcome: { result: "ok" }, rule: "gmem.convert", config: V8_VM_ATTRS },
    v7: { outcome: { errno: "ENOTTY" }, rule: "gmem.convert-vm-attributes", config: { ...V7, kernel: { ...V7.kernel, memoryAttributes: true } } },
  },
  {
    name: "and the host may fault the page it converted to shared",
    setup: [vm(), gmem(["MMAP"]), mapG0, convert(0, PAGE, "shared")],
    op: hostRead,
    v8: { outcome: { result: "ok" }, rule: "gmem.host-fault", config: V8_VM_ATTRS },
    v7: { outcome: { result: "SIGBUS" }, rule: "gmem.host-fault-private", config: { ...V7, kernel: { ...V7.kernel, memoryAttributes: true } } },
  },
];

describe("in-place conversion v8 against v7", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const v8 = await last(c.v8.config ?? V8, [...c.setup, c.op]);
      expect(v8.model).toMatchObject(c.v8.outcome);
      expect(v8.fired).toContain(c.v8.rule);
      const v7 = await last(c.v7.config ?? V7, [...c.setup, c.op]);
      expect(v7.model).toMatchObject(c.v7.outcome);
      expect(v7.fired).toContain(c.v7.rule);
    });
  }

  it("the same answers where v8 only changed the kernel's inside: conversion, EAGAIN with error_offset, no-op, host SIGBUS", async () => {
    const pin: Op = { op: "pin", map: "m5", offset: 3 * PAGE };
    const ops: Op[] = [vm(), gmem(), mapG0, { op: "access", map: "m5", offset: PAGE, kind: "write", byte: 7 }, pin, convert(0, 8 * PAGE), convert(0, 2 * PAGE), convert(0, 2 * PAGE), hostRead];
    const run = async (config: Config): Promise<Outcome[]> => {
      const checker = new Checker(config);
      await checker.applyAll(ops);
      return checker.trace.map((t) => t.model);
    };
    expect(await run(V8)).toEqual(await run(V7));
  });

  it("in-place conversion is off by default where per-VM attributes are built in ([PATCH v8 24/46]), as v7's vm_memory_attributes=1 was", async () => {
    const r = await last(PRESETS.default, [vm(), gmem(["MMAP"]), convert(0, PAGE)]);
    expect(r.model).toEqual({ errno: "ENOTTY" });
    expect(r.fired).toContain("gmem.convert-vm-attributes");
    expect(PRESETS.default.gmemDesign).toBe("v8");
  });

  it("INIT_SHARED on a software-protected VM once in-place conversion is on ([PATCH v8 25/46])", async () => {
    for (const config of [V8, V8_VM_ATTRS]) expect((await last(config, [vm(), cap("GUEST_MEMFD_FLAGS")])).model).toEqual({ result: "ok", value: 3 });
    expect((await last(PRESETS.default, [vm(), cap("GUEST_MEMFD_FLAGS")])).model).toEqual({ result: "ok", value: 1 });
  });
});

describe("the 2024 RFC's default faultability at bind ([RFC PATCH 28/39])", () => {
  it("binding a software-protected VM's slot makes its range faultable", async () => {
    const r = await last(RFC, [vm(1), gmem(["MMAP"]), mapG0, bind, hostRead]);
    expect(r.model).toMatchObject({ result: "ok" });
  });

  it("binding any other VM's slot makes its range unfaultable, even in an INIT_SHARED file", async () => {
    const before = await last(RFC, [vm(0), gmem(), mapG0, hostRead]);
    expect(before.model).toMatchObject({ result: "ok" });
    const checker = new Checker(RFC);
    await checker.applyAll([vm(0), gmem(), { ...bind, memory_size: MiB }, mapG0]);
    expect(checker.trace.at(-2)!.fired).toContain("gmem.bind-faultable");
    await checker.applyAll([hostRead, { op: "access", map: "m5", offset: MiB, kind: "read" }]);
    expect(checker.trace.at(-2)!.model).toMatchObject({ result: "SIGBUS" });
    expect(checker.trace.at(-1)!.model).toMatchObject({ result: "ok" });
  });
});
