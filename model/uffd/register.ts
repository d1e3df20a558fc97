// UFFDIO_REGISTER / UFFDIO_UNREGISTER over the VMAs of one mapping window, in the kernel's check order, and the
// registration teardown of close.
import { decodeFlags, noFlags, REGISTER_MODE_BITS } from "../../schema/flags.js";
import type { OpOf, UffdModeName } from "../../schema/ops.js";
import { bound, isBeyond, type Measured } from "../bound.js";
import { PAGE_SIZE, TASK_SIZE } from "../consts.js";
import { withMap } from "../mm/fault.js";
import { mapBase } from "../mm/layout.js";
import type { Mapping } from "../mm/types.js";
import { assign, spans } from "../ranges.js";
import { check, firstFailure, rule, type Check, type Rule } from "../rules.js";
import { refuse, result, withPassed, type State, type StepResult } from "../state.js";
import { uffdTarget } from "./api.js";
import { designCanUserfault, UFFD_DESIGN_RULES } from "./gmem-designs.js";
import { afterWake, wakeRange, type ThreadRunner } from "./thread.js";
import type { UffdReg } from "./types.js";
import { MODE_ORDER, hasMode, memType, regsOf, unitOf, vmasIn, withRegs, type Vma } from "./vma.js";
import { wpRange } from "./wp.js";

const FS = "fs/userfaultfd.c";
const MM = "mm/userfaultfd.c";
const CAN = "include/linux/userfaultfd_k.h (vma_can_userfault)";

export const REGISTER_RULES = {
  badFd: rule("uffd.register-ebadf", "fs/file.c (fget)", "the uffd is not an open fd", "EBADF"),
  mode: rule("uffd.register-mode", `${FS} (userfaultfd_register)`, "mode is 0", "EINVAL"),
  modeUnknown: rule(
    "uffd.register-mode-unknown",
    `${FS} (userfaultfd_register: uffdio_register.mode & ~UFFD_API_REGISTER_MODES, before validate_range); probe on 6.18.44`,
    "a mode bit other than MISSING, WP and MINOR",
    "EINVAL",
  ),
  range: rule("uffd.range", `${FS} (validate_range, validate_unaligned_range)`, "start or len not page aligned, len 0, or the range leaves TASK_SIZE", "EINVAL"),
  noVma: rule(
    "uffd.register-no-vma",
    `${FS} (userfaultfd_register: no VMA in range; trees before the VMA iterator returned -ENOMEM from find_vma_prev); probe on 6.18.44: EINVAL`,
    "no VMA intersects the range (holes between VMAs are skipped)",
    "EINVAL",
  ),
  hugeStart: rule("uffd.register-huge-start", `${FS} (userfaultfd_register: vma_kernel_pagesize)`, "the first VMA is hugetlbfs and start is not huge-page aligned", "EINVAL"),
  type: rule(
    "uffd.register-type",
    `${CAN}; 20260306171815.3160826-14-rppt@kernel.org (kvm_gmem can_userfault)`,
    "the VMA cannot take these modes: MINOR on anonymous memory; guest_memfd without INIT_SHARED (or without uffd support at all); WP_ASYNC allows WP-only anywhere",
    "EINVAL",
  ),
  maywrite: rule(
    "uffd.register-maywrite",
    `${FS} (userfaultfd_register: !(cur->vm_flags & VM_MAYWRITE), after vma_can_userfault); mm/mmap.c (do_mmap); probe on 6.18.44`,
    "a MAP_SHARED mapping of an fd not open for writing (COPY could fill the file's holes)",
    "EPERM",
  ),
  hugeEnd: rule("uffd.register-huge-end", `${FS} (userfaultfd_register)`, "the hugetlbfs VMA holding end has end not huge-page aligned", "EINVAL"),
  busy: rule("uffd.register-ebusy", `${FS} (userfaultfd_register)`, "the VMA is registered with another userfaultfd", "EBUSY"),
  register: rule(
    "uffd.register",
    `${MM} (userfaultfd_register_range); probe on 6.18.44: MISSING then MINOR leaves MINOR, MISSING|MINOR then MINOR keeps both`,
    "each VMA already owned with every requested mode is kept as is; the others get exactly the requested modes",
  ),
  unBadFd: rule("uffd.unregister-ebadf", "fs/file.c (fget)", "the uffd is not an open fd", "EBADF"),
  unNoVma: rule("uffd.unregister-no-vma", `${FS} (userfaultfd_unregister)`, "no VMA intersects the range", "EINVAL"),
  unHugeStart: rule("uffd.unregister-huge-start", `${FS} (userfaultfd_unregister)`, "the first VMA is hugetlbfs and start is not huge-page aligned", "EINVAL"),
  unOtherCtx: rule(
    "uffd.unregister-other-ctx",
    `${FS} (userfaultfd_unregister); 20250603-uffd-fixes-v1-0-9c638c73f047@columbia.edu; probe on 6.18.44 gives EINVAL`,
    "a VMA in range is registered with another userfaultfd",
    "EINVAL",
  ),
  unHugeSplit: rule(
    "uffd.unregister-huge-split",
    `${FS} (userfaultfd_unregister: userfaultfd_clear_vma); mm/hugetlb.c (hugetlb_vm_op_split)`,
    "the range ends inside a huge page of a registered hugetlbfs VMA: splitting it there fails (earlier VMAs stay unregistered, its sleepers were woken)",
    "EINVAL",
  ),
  unType: rule("uffd.unregister-type", `${FS} (userfaultfd_unregister: vma_can_userfault(vma, vma->vm_flags))`, "a VMA in range cannot userfault at all (guest_memfd without uffd support)", "EINVAL"),
  unregister: rule(
    "uffd.unregister",
    `${FS} (userfaultfd_unregister); probe on 6.18.44: MINOR-only sleepers stay asleep`,
    "registrations in range are dropped; sleepers of MISSING VMAs are woken, uffd-wp state of WP VMAs is resolved",
  ),
};

/** The end of a range ioctl's range (the window address of the map plus offset and len) against TASK_SIZE. */
const rangeEnd = (s: State, map: string, offset: number, len: number): Measured => ({ value: mapBase(map) + offset + len, limit: TASK_SIZE[s.config.arch] });

type RangeOp = OpOf<"uffd_register" | "uffd_unregister" | "uffdio_continue" | "uffdio_copy" | "uffdio_zeropage" | "uffdio_poison" | "uffdio_writeprotect" | "uffdio_wake">;

export const RANGE_BOUNDS = {
  range: bound({
    rule: REGISTER_RULES.range,
    ops: ["uffd_register", "uffd_unregister", "uffdio_continue", "uffdio_copy", "uffdio_zeropage", "uffdio_poison", "uffdio_writeprotect", "uffdio_wake"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "TASK_SIZE (validate_range)",
    accepts: "le",
    measure: (s, op: RangeOp) => (op.offset % PAGE_SIZE !== 0 || op.len % PAGE_SIZE !== 0 || op.len === 0 ? undefined : rangeEnd(s, op.map, op.offset, op.len)),
  }),
};

/** validate_range for the range ioctls: aligned, not empty, ending at or below TASK_SIZE. */
export function badRange(s: State, map: string, offset: number, len: number): boolean {
  return offset % PAGE_SIZE !== 0 || len % PAGE_SIZE !== 0 || len === 0 || isBeyond(RANGE_BOUNDS.range, rangeEnd(s, map, offset, len));
}

const sortModes = (modes: readonly UffdModeName[]): UffdModeName[] => MODE_ORDER.filter((m) => modes.includes(m));

/** A guest_memfd mapping on a kernel with userfaultfd on guest_memfd in one of the designs before vm_uffd_ops. */
const olderGmem = (s: State, m: Mapping): boolean => s.config.kernel.uffdGuestMemfd && memType(s, m) === "gmem" && s.config.uffdGmemDesign !== "vm-uffd-ops";

/** vma_can_userfault for a mapping (every VMA of one mapping has its memory type). */
export function canUserfault(s: State, m: Mapping, modes: readonly UffdModeName[], wpAsync: boolean): boolean {
  if (wpAsync && modes.length === 1 && modes[0] === "WP") return true;
  const type = memType(s, m);
  if (type === "gmem") {
    if (!s.config.kernel.uffdGuestMemfd || m.backing.kind !== "gmem") return false;
    const d = s.config.uffdGmemDesign;
    return d === "vm-uffd-ops" ? s.gmem.inodes[m.backing.inode]!.flags.includes("INIT_SHARED") : designCanUserfault(d, modes);
  }
  return !(modes.includes("MINOR") && type === "anon");
}

/** The range ioctls REGISTER writes back: basic ones when a hugetlbfs VMA is in range, minus WRITEPROTECT / CONTINUE without WP / MINOR. */
function rangeIoctls(hugetlb: boolean, modes: readonly UffdModeName[]): string[] {
  const all = ["WAKE", "COPY", "ZEROPAGE", "MOVE", "WRITEPROTECT", "CONTINUE", "POISON"];
  return all.filter((n) => !(hugetlb && (n === "ZEROPAGE" || n === "MOVE")) && !(n === "WRITEPROTECT" && !modes.includes("WP")) && !(n === "CONTINUE" && !modes.includes("MINOR")));
}

interface Target {
  readonly ctx: number;
  readonly map: Mapping;
  readonly start: number;
  readonly end: number;
  readonly vmas: readonly Vma[];
  readonly unit: number;
}

/** The ctx and the VMAs of a (un)registration: validate_range, then the VMA walk's "no VMA at all". */
function target(s: State, ctx: number, op: { map: string; offset: number; len: number }, noVma: Rule): Target | { readonly refused: Rule } {
  if (badRange(s, op.map, op.offset, op.len)) return { refused: REGISTER_RULES.range };
  const map = s.mm.maps.get(op.map);
  const start = op.offset / PAGE_SIZE;
  const end = start + op.len / PAGE_SIZE;
  const vmas = map === undefined ? [] : vmasIn(map, start, end);
  if (map === undefined || vmas.length === 0) return { refused: noVma };
  return { ctx, map, start, end, vmas, unit: unitOf(s, map) };
}

/** A refused (un)registration; past validate_range, the range's bound was checked before the VMA lookup refused. */
const refusedTarget = (s: State, r: Rule): StepResult =>
  r === REGISTER_RULES.range ? refuse(s, r) : withPassed(refuse(s, r), [REGISTER_RULES.range]);

const wpAsyncOf = (s: State, ctx: number): boolean => s.uffd.ctxs[ctx]!.features.includes("WP_ASYNC");

export function uffdRegister(s: State, op: OpOf<"uffd_register">): StepResult {
  const fd = uffdTarget(s, op.uffd, REGISTER_RULES.badFd);
  if (!fd.ok) return refuse(s, fd.rule);
  const mode = decodeFlags(op.mode, REGISTER_MODE_BITS);
  if (noFlags(mode)) return refuse(s, REGISTER_RULES.mode);
  if (mode.unknown.length > 0) return refuse(s, REGISTER_RULES.modeUnknown);
  const t = target(s, fd.id, op, REGISTER_RULES.noVma);
  if ("refused" in t) return refusedTarget(s, t.refused);
  const modes = sortModes(mode.names);
  const huge = t.unit > 1;
  const checks: Check[] = [check(REGISTER_RULES.hugeStart, () => huge && t.start % t.unit !== 0)];
  for (const v of t.vmas) {
    checks.push(
      check(UFFD_DESIGN_RULES.registerMinor, () => olderGmem(s, t.map) && !canUserfault(s, t.map, modes, wpAsyncOf(s, t.ctx))),
      check(REGISTER_RULES.type, () => !canUserfault(s, t.map, modes, wpAsyncOf(s, t.ctx))),
      check(REGISTER_RULES.maywrite, () => t.map.fdReadOnly === true),
      check(REGISTER_RULES.hugeEnd, () => huge && t.end > v.start && t.end <= v.end && t.end % t.unit !== 0),
      check(REGISTER_RULES.busy, () => v.reg !== undefined && v.reg.ctx !== t.ctx),
    );
  }
  const failure = firstFailure(checks);
  if (failure !== undefined) return refuse(s, failure);
  let regs = regsOf(t.map);
  const reg: UffdReg = { ctx: t.ctx, modes };
  for (const v of t.vmas) {
    if (v.reg?.ctx === t.ctx && modes.every((m) => v.reg!.modes.includes(m))) continue;
    regs = assign(regs, Math.max(v.start, t.start), Math.min(v.end, t.end), reg);
  }
  const design = olderGmem(s, t.map) && s.config.uffdGmemDesign !== "v2-minor-first" ? [UFFD_DESIGN_RULES.registerAny] : [];
  return result(withMap(s, withRegs(t.map, regs)), { result: "ok", ioctls: rangeIoctls(memType(s, t.map) === "hugetlb", modes) }, REGISTER_RULES.register, ...design);
}

/** Drops the registration of pages [a, b) (owned by one ctx), resolving uffd-wp state first where WP was registered. */
function dropRange(s: State, mapId: string, a: number, b: number, reg: UffdReg): State {
  const m = s.mm.maps.get(mapId)!;
  const resolved = hasMode(reg, "WP") ? wpRange(s, m, a, b, false, false) : s;
  const after = resolved.mm.maps.get(mapId)!;
  return withMap(resolved, withRegs(after, assign(regsOf(after), a, b, undefined)));
}

export function uffdUnregister(s: State, op: OpOf<"uffd_unregister">, run: ThreadRunner): StepResult {
  const fd = uffdTarget(s, op.uffd, REGISTER_RULES.unBadFd);
  if (!fd.ok) return refuse(s, fd.rule);
  const t = target(s, fd.id, op, REGISTER_RULES.unNoVma);
  if ("refused" in t) return refusedTarget(s, t.refused);
  const checks: Check[] = [check(REGISTER_RULES.unHugeStart, () => t.unit > 1 && t.start % t.unit !== 0)];
  for (const v of t.vmas) {
    checks.push(
      check(REGISTER_RULES.unOtherCtx, () => v.reg !== undefined && v.reg.ctx !== t.ctx),
      check(REGISTER_RULES.unType, () => !canUserfault(s, t.map, v.reg?.modes ?? [], wpAsyncOf(s, t.ctx))),
    );
  }
  const failure = firstFailure(checks);
  if (failure !== undefined) return refuse(s, failure);
  let next = s;
  let res: StepResult | undefined;
  const wake: [number, number][] = [];
  for (const v of t.vmas) {
    if (v.reg === undefined) continue;
    const a = Math.max(v.start, t.start);
    const b = Math.min(v.end, t.end);
    if (hasMode(v.reg, "MISSING")) wake.push([a, b]);
    if (t.unit > 1 && b < v.end && b % t.unit !== 0) {
      // uffd_wp_range ran first; hugetlb_change_protection steps whole huge pages, so the one holding b is resolved entirely.
      const resolved = hasMode(v.reg, "WP") ? wpRange(next, next.mm.maps.get(t.map.id)!, a, Math.ceil(b / t.unit) * t.unit, false, false) : next;
      res = result(resolved, { errno: "EINVAL" }, REGISTER_RULES.unHugeSplit);
      break;
    }
    next = dropRange(next, t.map.id, a, b, v.reg);
  }
  res ??= result(next, { result: "ok" }, REGISTER_RULES.unregister);
  for (const [a, b] of wake) res = afterWake(res, wakeRange(res.state, t.ctx, t.map.base + a * PAGE_SIZE, t.map.base + b * PAGE_SIZE, run));
  return res;
}

/** Every range registered with ctx loses its registration (userfaultfd_release_all). */
export function clearRegistration(s: State, ctx: number): State {
  let next = s;
  for (const m of s.mm.maps.values()) {
    for (const r of spans(regsOf(m), 0, m.pages)) if (r.value.ctx === ctx) next = dropRange(next, m.id, r.start, r.end, r.value);
  }
  return next;
}
