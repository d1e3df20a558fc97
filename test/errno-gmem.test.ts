// One small case per guest_memfd rule (create, conversion in both designs, fallocate, pins, host faults), run
// through model and impl: the outcome is what the cited code returns, and the model names the deciding rule.
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";

const MiB = 1024 * 1024;
const PAGE = 4096;
const V7 = PRESETS["gmem-v7"];
const V7_2M: Config = { ...V7, gmemFolio: "2M" };
const RFC: Config = { ...PRESETS.default, gmemDesign: "rfc-2024" };
const K618 = PRESETS["kernel-6.18"];

const vm = (type = 1): Op => ({ op: "create_vm", vm: "v0", type });
const gmem = (flags: ("MMAP" | "INIT_SHARED")[] = ["MMAP", "INIT_SHARED"], size = 4 * MiB, name = "g0"): Op => ({ op: "create_gmem", vm: "v0", gmem: name, size, flags });
const bind = (size = 4 * MiB): Op => ({ op: "set_memory_region", vm: "v0", slot: 0, flags: ["GUEST_MEMFD"], guest_phys_addr: 0, memory_size: size, userspace: null, guest_memfd: "g0", guest_memfd_offset: 0 });
const mapG0: Op = { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: 4 * MiB };
const convert = (offset: number, size: number, to: "private" | "shared" = "private", name = "g0"): OpOf<"gmem_convert"> => ({ op: "gmem_convert", gmem: name, offset, size, to });
const falloc = (offset: number, len: number, mode: ("PUNCH_HOLE" | "KEEP_SIZE")[] = ["PUNCH_HOLE", "KEEP_SIZE"]): Op => ({ op: "gmem_fallocate", gmem: "g0", mode, offset, len });
const hostWrite = (page: number, byte = 7): Op => ({ op: "access", map: "m5", offset: page * PAGE, kind: "write", byte });
const pin = (page: number, map = "m5"): Op => ({ op: "pin", map, offset: page * PAGE });
const attrs = (address: number, size: number, priv = true): Op => ({ op: "set_memory_attributes", vm: "v0", address, size, attributes: priv ? ["PRIVATE"] : [] });

/** A software-protected VM with a shared-at-start, host-mapped guest_memfd (v7 with vm_memory_attributes off). */
const SHARED = [vm(), gmem(), mapG0];

interface Case {
  readonly name: string;
  readonly config: Config;
  readonly setup: readonly Op[];
  readonly op: Op;
  readonly outcome: Partial<Outcome> & Record<string, unknown>;
  readonly rule: string;
}

const CASES: readonly Case[] = [
  // KVM_CREATE_GUEST_MEMFD and the caps that describe it
  { name: "INIT_SHARED on a software-protected VM while KVM owns attributes", config: PRESETS.default, setup: [vm()], op: gmem(), outcome: { errno: "EINVAL" }, rule: "gmem.create-flags" },
  { name: "INIT_SHARED on a software-protected VM once guest_memfd owns attributes", config: V7, setup: [vm()], op: gmem(), outcome: { result: "ok" }, rule: "gmem.create" },
  { name: "huge folios need a size that is a multiple of the folio", config: V7_2M, setup: [vm()], op: gmem(["MMAP"], 3 * MiB), outcome: { errno: "EINVAL" }, rule: "gmem.create-huge-size" },
  { name: "guest_memfd attributes cap with vm_memory_attributes off", config: V7, setup: [vm()], op: { op: "check_extension", cap: "GUEST_MEMFD_MEMORY_ATTRIBUTES", vm: "v0" }, outcome: { result: "ok", value: 8 }, rule: "vm.check-extension" },
  { name: "guest_memfd flags cap on a software-protected VM under v7", config: V7, setup: [vm()], op: { op: "check_extension", cap: "GUEST_MEMFD_FLAGS", vm: "v0" }, outcome: { result: "ok", value: 3 }, rule: "vm.check-extension" },

  // KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd (v7), in kvm_gmem_set_attributes order
  { name: "conversion on a closed guest_memfd", config: V7, setup: [...SHARED, { op: "close", gmem: "g0" }], op: convert(0, PAGE), outcome: { errno: "EBADF" }, rule: "gmem.convert-ebadf" },
  { name: "no in-place conversion in the running kernel", config: K618, setup: [vm(0), gmem()], op: convert(0, PAGE, "shared"), outcome: { errno: "ENOTTY" }, rule: "gmem.convert-enotty" },
  { name: "the 2024 design has no guest_memfd ioctl", config: RFC, setup: [vm(), gmem(["MMAP"])], op: convert(0, PAGE), outcome: { errno: "ENOTTY" }, rule: "gmem.convert-enotty" },
  { name: "per-VM attributes on: the guest_memfd ioctl is ENOTTY", config: PRESETS.default, setup: [vm(), gmem(["MMAP"])], op: convert(0, PAGE), outcome: { errno: "ENOTTY" }, rule: "gmem.convert-vm-attributes" },
  { name: "PRIVATE on a VM without private memory", config: V7, setup: [vm(0), gmem()], op: convert(0, PAGE), outcome: { errno: "EINVAL" }, rule: "gmem.convert-unsupported" },
  { name: "shared is always a supported value", config: V7, setup: [vm(0), gmem(["MMAP"])], op: convert(0, PAGE, "shared"), outcome: { result: "ok" }, rule: "gmem.convert" },
  { name: "size 0", config: V7, setup: SHARED, op: convert(0, 0), outcome: { errno: "EINVAL" }, rule: "gmem.convert-range" },
  { name: "offset + size wraps", config: V7, setup: SHARED, op: convert(2 ** 64 - PAGE, 2 * PAGE), outcome: { errno: "EINVAL" }, rule: "gmem.convert-range" },
  { name: "offset not page aligned", config: V7, setup: SHARED, op: convert(1, PAGE), outcome: { errno: "EINVAL" }, rule: "gmem.convert-align" },
  { name: "size not page aligned", config: V7, setup: SHARED, op: convert(0, 100), outcome: { errno: "EINVAL" }, rule: "gmem.convert-align" },
  { name: "alignment is checked before the file size", config: V7, setup: SHARED, op: convert(8 * MiB + 1, PAGE), outcome: { errno: "EINVAL" }, rule: "gmem.convert-align" },
  { name: "offset at i_size", config: V7, setup: SHARED, op: convert(4 * MiB, PAGE), outcome: { errno: "EINVAL" }, rule: "gmem.convert-beyond" },
  { name: "range running past i_size", config: V7, setup: SHARED, op: convert(4 * MiB - PAGE, 2 * PAGE), outcome: { errno: "EINVAL" }, rule: "gmem.convert-beyond" },
  { name: "a range already shared is a no-op", config: V7, setup: SHARED, op: convert(0, MiB, "shared"), outcome: { result: "ok" }, rule: "gmem.convert-noop" },
  { name: "a range already private is a no-op", config: V7, setup: [vm(), gmem(["MMAP"])], op: convert(0, MiB), outcome: { result: "ok" }, rule: "gmem.convert-noop" },
  { name: "to private unmaps host PTEs, then converts", config: V7, setup: [...SHARED, hostWrite(1)], op: convert(0, 4 * PAGE), outcome: { result: "ok" }, rule: "gmem.convert-unmap" },
  { name: "a pinned page fails the conversion with its offset", config: V7, setup: [...SHARED, pin(5), pin(3)], op: convert(0, 8 * PAGE), outcome: { errno: "EAGAIN", error_offset: 3 * PAGE }, rule: "gmem.convert-eagain" },
  { name: "a pin outside the range does not matter", config: V7, setup: [...SHARED, pin(9)], op: convert(0, 8 * PAGE), outcome: { result: "ok" }, rule: "gmem.convert" },
  { name: "to shared splits the huge folios it touches", config: V7_2M, setup: [vm(), gmem(["MMAP"]), bind(), { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" }], op: convert(0, PAGE, "shared"), outcome: { result: "ok" }, rule: "gmem.folio-split" },
  { name: "to private merges a folio once all of it is private", config: V7_2M, setup: [vm(), gmem(), mapG0, hostWrite(0)], op: convert(0, 2 * MiB), outcome: { result: "ok" }, rule: "gmem.folio-merge" },

  // Host faults on the file's pages
  { name: "a private page SIGBUSes the host", config: V7, setup: [...SHARED, convert(0, PAGE)], op: { op: "access", map: "m5", offset: 0, kind: "read" }, outcome: { result: "SIGBUS", code: "BUS_ADRERR" }, rule: "gmem.host-fault-private" },
  { name: "a page converted back to shared can be faulted again", config: V7, setup: [...SHARED, hostWrite(0, 9), convert(0, PAGE), convert(0, PAGE, "shared")], op: { op: "access", map: "m5", offset: 0, kind: "read" }, outcome: { result: "ok", value: 9 }, rule: "gmem.host-fault" },
  { name: "an alias access to a private page SIGBUSes", config: V7, setup: [...SHARED, convert(0, PAGE)], op: { op: "read_alias", map: "m5", offset: 0 }, outcome: { result: "SIGBUS", code: "BUS_ADRERR" }, rule: "gmem.host-fault-private" },

  // The guest's view through KVM
  { name: "a private access to a page guest_memfd keeps shared exits", config: V7, setup: [...SHARED, bind()], op: { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read", private: true }, outcome: { result: "exit", exit: "memory_fault", gpa: 0, flags: ["PRIVATE"] }, rule: "fault.private-mismatch" },
  { name: "a private page is faulted through guest_memfd", config: V7, setup: [...SHARED, bind(), hostWrite(2, 5), convert(0, 4 * PAGE)], op: { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 2 * PAGE, kind: "read" }, outcome: { result: "ok", value: 5 }, rule: "gmem.get-pfn" },

  // fallocate: vfs_fallocate, then kvm_gmem_fallocate
  { name: "fallocate on a closed guest_memfd", config: V7, setup: [...SHARED, { op: "close", gmem: "g0" }], op: falloc(0, PAGE), outcome: { errno: "EBADF" }, rule: "gmem.fallocate-ebadf" },
  { name: "len 0", config: V7, setup: SHARED, op: falloc(0, 0), outcome: { errno: "EINVAL" }, rule: "gmem.fallocate-args" },
  { name: "offset negative as loff_t", config: V7, setup: SHARED, op: falloc(2 ** 63, PAGE), outcome: { errno: "EINVAL" }, rule: "gmem.fallocate-args" },
  { name: "PUNCH_HOLE without KEEP_SIZE", config: V7, setup: SHARED, op: falloc(0, PAGE, ["PUNCH_HOLE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "gmem.fallocate-punch-mode" },
  { name: "offset + len beyond s_maxbytes", config: V7, setup: SHARED, op: falloc(2 ** 62, 2 ** 62), outcome: { errno: "EFBIG" }, rule: "gmem.fallocate-efbig" },
  { name: "allocation without KEEP_SIZE", config: V7, setup: SHARED, op: falloc(0, PAGE, []), outcome: { errno: "EOPNOTSUPP" }, rule: "gmem.fallocate-keep-size" },
  { name: "offset not page aligned", config: V7, setup: SHARED, op: falloc(100, PAGE), outcome: { errno: "EINVAL" }, rule: "gmem.fallocate-align" },
  { name: "huge folios: a punch must cover whole folios", config: V7_2M, setup: SHARED, op: falloc(PAGE, 2 * MiB), outcome: { errno: "EINVAL" }, rule: "gmem.fallocate-align" },
  { name: "allocation past i_size", config: V7, setup: SHARED, op: falloc(4 * MiB, PAGE, ["KEEP_SIZE"]), outcome: { errno: "EINVAL" }, rule: "gmem.allocate-beyond" },
  { name: "allocation inside the file", config: V7, setup: SHARED, op: falloc(0, 2 * MiB, ["KEEP_SIZE"]), outcome: { result: "ok" }, rule: "gmem.allocate" },
  { name: "a punch past i_size succeeds and does nothing", config: V7, setup: SHARED, op: falloc(8 * MiB, PAGE), outcome: { result: "ok" }, rule: "gmem.punch-hole" },
  { name: "punched pages read as zero", config: V7, setup: [...SHARED, hostWrite(0, 3), falloc(0, PAGE)], op: { op: "access", map: "m5", offset: 0, kind: "read" }, outcome: { result: "ok", value: 0 }, rule: "gmem.host-fault" },

  // pin / unpin
  { name: "pin where nothing is mapped", config: V7, setup: SHARED, op: pin(0, "m9"), outcome: { errno: "EFAULT" }, rule: "pin.efault" },
  { name: "pins on anonymous memory are not modeled", config: V7, setup: [...SHARED, { op: "mmap", map: "m0", file: "anon", offset: 0, length: MiB }], op: pin(0, "m0"), outcome: { errno: "ENOTTY" }, rule: "faultline.pin-not-gmem" },
  { name: "pinning a private page fails in the fault", config: V7, setup: [...SHARED, convert(0, PAGE)], op: pin(0), outcome: { errno: "EFAULT" }, rule: "pin.fault-failed" },
  { name: "pin of a shared page", config: V7, setup: SHARED, op: pin(0), outcome: { result: "ok" }, rule: "pin" },
  { name: "unpin of a page without pins", config: V7, setup: SHARED, op: { op: "unpin", map: "m5", offset: 0 }, outcome: { errno: "EINVAL" }, rule: "faultline.unpin-unpinned" },
  { name: "unpin drops one pin", config: V7, setup: [...SHARED, pin(0), pin(0)], op: { op: "unpin", map: "m5", offset: 0 }, outcome: { result: "ok" }, rule: "unpin" },
  { name: "a punch-hole takes pinned pages out of the file with their pins", config: V7, setup: [...SHARED, pin(0), falloc(0, PAGE)], op: { op: "unpin", map: "m5", offset: 0 }, outcome: { errno: "EINVAL" }, rule: "faultline.unpin-unpinned" },

  // The 2024 RFC: conversion inside KVM_SET_MEMORY_ATTRIBUTES, guest_memfd's faultability
  { name: "binding makes a software-protected VM's range faultable", config: RFC, setup: [vm(), gmem(["MMAP"])], op: bind(), outcome: { result: "ok" }, rule: "gmem.bind-faultable" },
  { name: "to private makes the bound range unfaultable", config: RFC, setup: [vm(), gmem(["MMAP"]), bind(), mapG0], op: attrs(0, 4 * PAGE), outcome: { result: "ok" }, rule: "gmem.rfc-set-faultable" },
  { name: "a host-mapped page refuses the conversion", config: RFC, setup: [vm(), gmem(["MMAP"]), bind(), mapG0, hostWrite(2)], op: attrs(0, 4 * PAGE), outcome: { errno: "EINVAL" }, rule: "gmem.rfc-mapped" },
  { name: "a pinned page refuses the conversion", config: RFC, setup: [vm(), gmem(["MMAP"]), bind(), mapG0, pin(1), { op: "madvise", map: "m5", offset: 0, len: 4 * PAGE, advice: "DONTNEED" }], op: attrs(0, 4 * PAGE), outcome: { errno: "EINVAL" }, rule: "gmem.rfc-mapped" },
  { name: "an unfaultable page SIGBUSes the host", config: RFC, setup: [vm(), gmem(["MMAP"]), bind(), mapG0, attrs(0, 4 * PAGE)], op: { op: "access", map: "m5", offset: 0, kind: "read" }, outcome: { result: "SIGBUS", code: "BUS_ADRERR" }, rule: "gmem.host-fault-private" },
];

describe("guest_memfd errno and decision rules", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const checker = new Checker(c.config);
      await checker.applyAll([...c.setup, c.op]);
      const last = checker.trace[checker.trace.length - 1]!;
      expect(last.model).toMatchObject(c.outcome);
      expect(last.fired).toContain(c.rule);
    });
  }
});
