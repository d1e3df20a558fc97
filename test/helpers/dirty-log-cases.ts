// The dirty-logging rule cases (test/dirty-log.test.ts runs them through model and implementation; the corpus
// conformance/corpus/memslots/errno-dirtylog-*.json holds each as a scenario for the kernel) and their op builders.
import { PRESETS } from "../../schema/config.js";
import type { Op, OpOf } from "../../schema/ops.js";
import { memslot } from "./ops.js";
import type { RuleCase } from "./rule-cases.js";

export const MiB = 1024 * 1024;
export const PAGE = 4096;
export const X86 = PRESETS.default;
export const ARM = PRESETS.arm64;
export const VM: Op = { op: "create_vm", vm: "v0" };
export const ANON: Op = { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB };
export const LOGGED = memslot({ flags: ["LOG_DIRTY_PAGES"] });
/** 100 pages: not a multiple of 64, so CLEAR may end there with any num_pages. */
export const SHORT = memslot({ flags: ["LOG_DIRTY_PAGES"], memory_size: 100 * PAGE });
export const cap = (args0: OpOf<"enable_cap">["args0"], flags?: number): Op => ({ op: "enable_cap", vm: "v0", cap: "MANUAL_DIRTY_LOG_PROTECT2", args0, ...(flags === undefined ? {} : { flags }) });
export const get = (slot = 0): Op => ({ op: "get_dirty_log", vm: "v0", slot });
export const clear = (first_page: number, num_pages: number, slot = 0): Op => ({ op: "clear_dirty_log", vm: "v0", slot, first_page, num_pages });
export const write = (gfn: number, op: "vcpu_access" | "kvm_access" = "vcpu_access"): Op => ({ op, vm: "v0", vcpu: 0, gpa: gfn * PAGE, kind: "write", byte: 7 });
export const bits = (n: number, set: readonly number[]): string => Array.from({ length: n }, (_, i) => (set.includes(i) ? "1" : "0")).join("");

export const BASE = [VM, ANON, LOGGED];
export const MANUAL = [VM, cap(["ENABLE"]), ANON];

export const DIRTY_LOG_CASES: readonly RuleCase[] = [
  { name: "ENABLE_CAP takes ENABLE", setup: [VM], op: cap(["ENABLE"]), outcome: { result: "ok" }, rule: "dirtylog.cap" },
  { name: "ENABLE_CAP takes ENABLE | INITIALLY_SET", setup: [VM], op: cap(["ENABLE", "INITIALLY_SET"]), outcome: { result: "ok" }, rule: "dirtylog.cap" },
  { name: "ENABLE_CAP takes 0 (manual protect off again)", setup: [VM], op: cap([]), outcome: { result: "ok" }, rule: "dirtylog.cap" },
  { name: "ENABLE_CAP refuses INITIALLY_SET without ENABLE", setup: [VM], op: cap(["INITIALLY_SET"]), outcome: { errno: "EINVAL" }, rule: "dirtylog.cap-args" },
  { name: "ENABLE_CAP refuses an unknown bit", setup: [VM], op: cap(["ENABLE", 4]), outcome: { errno: "EINVAL" }, rule: "dirtylog.cap-args" },
  { name: "ENABLE_CAP refuses a bit past 31", setup: [VM], op: cap(["ENABLE", 2 ** 40]), outcome: { errno: "EINVAL" }, rule: "dirtylog.cap-args" },
  { name: "ENABLE_CAP refuses nonzero flags", setup: [VM], op: cap(["ENABLE"], 1), outcome: { errno: "EINVAL" }, rule: "dirtylog.cap-args" },
  { name: "GET reports the page a write fault made writable", setup: [...BASE, write(3)], op: get(), outcome: { result: "ok", dirty_bitmap: bits(512, [3]) }, rule: "dirtylog.get" },
  { name: "KVM's own write marks its page", setup: BASE, op: write(5, "kvm_access"), outcome: { result: "ok" }, rule: "dirtylog.mark" },
  { name: "a write fault marks its page", setup: BASE, op: write(5), outcome: { result: "ok" }, rule: "dirtylog.mark" },
  { name: "GET reports KVM's own write", setup: [...BASE, write(5, "kvm_access")], op: get(), outcome: { result: "ok", dirty_bitmap: bits(512, [5]) }, rule: "dirtylog.get" },
  { name: "a slot created with LOG_DIRTY_PAGES gets a bitmap", setup: [VM, ANON], op: LOGGED, outcome: { result: "ok" }, rule: "dirtylog.bitmap" },
  { name: "GET harvested: a second GET reports nothing", setup: [...BASE, write(3), get()], op: get(), outcome: { result: "ok", dirty_bitmap: bits(512, []) }, rule: "dirtylog.get" },
  { name: "a read fault marks nothing", setup: [...BASE, { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" }], op: get(), outcome: { result: "ok", dirty_bitmap: bits(512, []) }, rule: "dirtylog.get" },
  { name: "manual protect: GET leaves the bits", setup: [...MANUAL, LOGGED, write(3), get()], op: get(), outcome: { result: "ok", dirty_bitmap: bits(512, [3]) }, rule: "dirtylog.get-manual" },
  { name: "INITIALLY_SET: a new bitmap starts full", setup: [VM, cap(["ENABLE", "INITIALLY_SET"]), ANON, SHORT], op: get(), outcome: { result: "ok", dirty_bitmap: "1".repeat(100) }, rule: "dirtylog.get-manual" },
  { name: "GET: the last slot id", setup: BASE, op: get(X86.kernel.userMemSlots - 1), outcome: { errno: "ENOENT" }, rule: "dirtylog.no-bitmap" },
  { name: "GET: one past the last slot id", setup: BASE, op: get(X86.kernel.userMemSlots), outcome: { errno: "EINVAL" }, rule: "dirtylog.slot-id" },
  { name: "GET: address space 1 exists on x86 (SMM)", setup: BASE, op: get(65536), outcome: { errno: "ENOENT" }, rule: "dirtylog.no-bitmap" },
  { name: "GET: address space 2 does not", setup: BASE, op: get(2 * 65536), outcome: { errno: "EINVAL" }, rule: "dirtylog.slot-id" },
  { name: "GET: a slot without LOG_DIRTY_PAGES has no bitmap", setup: [VM, ANON, memslot()], op: get(), outcome: { errno: "ENOENT" }, rule: "dirtylog.no-bitmap" },
  { name: "GET: logging turned off frees the bitmap", setup: [...BASE, memslot()], op: get(), outcome: { errno: "ENOENT" }, rule: "dirtylog.no-bitmap" },
  { name: "CLEAR: first_page 64", setup: [...MANUAL, LOGGED], op: clear(64, 64), outcome: { result: "ok" }, rule: "dirtylog.clear" },
  { name: "CLEAR: first_page 63", setup: [...MANUAL, LOGGED], op: clear(63, 64), outcome: { errno: "EINVAL" }, rule: "dirtylog.clear-first-page" },
  { name: "CLEAR: first_page 65", setup: [...MANUAL, LOGGED], op: clear(65, 64), outcome: { errno: "EINVAL" }, rule: "dirtylog.clear-first-page" },
  { name: "CLEAR checks first_page before the slot: a misaligned first_page on a missing slot", setup: MANUAL, op: clear(1, 64, 5), outcome: { errno: "EINVAL" }, rule: "dirtylog.clear-first-page" },
  { name: "CLEAR: a missing slot", setup: MANUAL, op: clear(0, 64, 5), outcome: { errno: "ENOENT" }, rule: "dirtylog.no-bitmap" },
  { name: "CLEAR: num_pages 64 short of the end", setup: [...MANUAL, SHORT], op: clear(0, 64), outcome: { result: "ok" }, rule: "dirtylog.clear" },
  { name: "CLEAR: num_pages 63 short of the end", setup: [...MANUAL, SHORT], op: clear(0, 63), outcome: { errno: "EINVAL" }, rule: "dirtylog.clear-range" },
  { name: "CLEAR: num_pages 65 short of the end", setup: [...MANUAL, SHORT], op: clear(0, 65), outcome: { errno: "EINVAL" }, rule: "dirtylog.clear-range" },
  { name: "CLEAR: num_pages reaching the slot's end needs no alignment", setup: [...MANUAL, SHORT], op: clear(64, 36), outcome: { result: "ok" }, rule: "dirtylog.clear" },
  { name: "CLEAR: one page short of the end, unaligned", setup: [...MANUAL, SHORT], op: clear(64, 35), outcome: { errno: "EINVAL" }, rule: "dirtylog.clear-range" },
  { name: "CLEAR: one page past the end", setup: [...MANUAL, SHORT], op: clear(64, 37), outcome: { errno: "EINVAL" }, rule: "dirtylog.clear-range" },
  { name: "CLEAR: the whole slot", setup: [...MANUAL, SHORT], op: clear(0, 100), outcome: { result: "ok" }, rule: "dirtylog.clear" },
  { name: "CLEAR: first_page at npages with no pages", setup: [...MANUAL, LOGGED], op: clear(512, 0), outcome: { result: "ok" }, rule: "dirtylog.clear" },
  { name: "CLEAR: first_page past npages", setup: [...MANUAL, LOGGED], op: clear(576, 0), outcome: { errno: "EINVAL" }, rule: "dirtylog.clear-range" },
  { name: "CLEAR works without manual protect too", setup: [...BASE, write(3)], op: clear(0, 64), outcome: { result: "ok" }, rule: "dirtylog.clear" },
  { name: "arm64: a write fault marks its page", config: ARM, setup: [...BASE, write(9)], op: get(), outcome: { result: "ok", dirty_bitmap: bits(512, [9]) }, rule: "dirtylog.get" },
  { name: "arm64: address space 1 does not exist", config: ARM, setup: BASE, op: get(65536), outcome: { errno: "EINVAL" }, rule: "dirtylog.slot-id" },
];
