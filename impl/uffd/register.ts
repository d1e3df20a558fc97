// UFFDIO_REGISTER / UFFDIO_UNREGISTER (userfaultfd_register, userfaultfd_unregister) and the registration
// teardown of userfaultfd_release, under the mmap lock held for write.
import { decodeFlags, noFlags, REGISTER_MODE_BITS } from "../../schema/flags.js";
import { PAGE_SIZE, TASK_SIZE } from "../../model/consts.js";
import { mapBase } from "../../model/mm/layout.js";
import type { Config } from "../../schema/config.js";
import type { OpOf, UffdModeName } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { Hooks } from "../hooks.js";
import type { Mapping, UffdReg } from "../mm/mapping.js";
import type { Mm } from "../mm/mm.js";
import type { UserfaultfdCtx } from "./ctx.js";
import { uffdWpRange } from "./wp.js";

const MODES: readonly UffdModeName[] = ["MISSING", "WP", "MINOR"];

/** validate_range: the map's window address plus offset. */
export function validRange(config: Config, bugs: Bugs, map: string, offset: number, len: number): boolean {
  const start = mapBase(map) + offset;
  const top = TASK_SIZE[config.arch];
  // uffd.range: the range may end at TASK_SIZE; the seeded slip refuses one that does.
  const fits = bugs.has("uffd-range-end-exclusive") ? len < top - start : len <= top - start;
  return offset % PAGE_SIZE === 0 && len % PAGE_SIZE === 0 && len !== 0 && start < top && fits;
}

/** A VMA: a maximal run of live pages with one registration (split and merged by vma_modify_flags_uffd). */
export interface Vma {
  readonly start: number;
  readonly end: number;
  readonly reg: UffdReg | undefined;
}

/** for_each_vma_range over pages [start, end) of one mapping window: whole VMAs, in address order. */
export function vmasIn(map: Mapping, start: number, end: number): Vma[] {
  const out: Vma[] = [];
  for (const live of map.live.spans(0, map.pages)) {
    if (live.end <= start || live.start >= end) continue;
    let pos = live.start;
    for (const r of map.uffd.spans(live.start, live.end)) {
      if (pos < r.start) out.push({ start: pos, end: r.start, reg: undefined });
      out.push({ start: r.start, end: r.end, reg: r.value });
      pos = r.end;
    }
    if (pos < live.end) out.push({ start: pos, end: live.end, reg: undefined });
  }
  return out.filter((v) => v.end > start && v.start < end);
}

/**
 * vma_can_userfault: mm-2026's can_userfault for guest_memfd wants INIT_SHARED; v3's (uffd.gmem-register-minor) wants
 * MINOR among the modes; v1's kvm_gmem_vma_is_gmem and v6's guestmem_vma_is_guestmem take any mode.
 */
export function canUserfault(rc: RegisterCtx, map: Mapping, modes: readonly UffdModeName[], wpAsync: boolean): boolean {
  if (wpAsync && modes.length === 1 && modes[0] === "WP") return true;
  const type = rc.mm.memType(map);
  if (type === "gmem") {
    const d = rc.config.uffdGmemDesign;
    if (!rc.config.kernel.uffdGuestMemfd) return false;
    return d === "vm-uffd-ops" ? rc.gmemInitShared(map) : d !== "v2-minor-first" || modes.includes("MINOR");
  }
  return !(modes.includes("MINOR") && type === "anon");
}

export interface RegisterCtx {
  readonly mm: Mm;
  readonly config: Config;
  readonly bugs: Bugs;
  /** Whether a guest_memfd mapping's file has INIT_SHARED. */
  gmemInitShared(map: Mapping): boolean;
}

const EINVAL: Outcome = { errno: "EINVAL" };

function rangeIoctls(hugetlb: boolean, modes: readonly UffdModeName[]): string[] {
  const all = ["WAKE", "COPY", "ZEROPAGE", "MOVE", "WRITEPROTECT", "CONTINUE", "POISON"];
  return all.filter((n) => !(hugetlb && (n === "ZEROPAGE" || n === "MOVE")) && !(n === "WRITEPROTECT" && !modes.includes("WP")) && !(n === "CONTINUE" && !modes.includes("MINOR")));
}

export async function userfaultfdRegister(rc: RegisterCtx, ctx: UserfaultfdCtx, op: OpOf<"uffd_register">, h: Hooks): Promise<Outcome> {
  // mode 0, a bit beyond UFFD_API_REGISTER_MODES, then validate_range: all EINVAL.
  const mode = decodeFlags(op.mode, REGISTER_MODE_BITS);
  if (noFlags(mode) || mode.unknown.length > 0 || !validRange(rc.config, rc.bugs, op.map, op.offset, op.len)) return EINVAL;
  const modes = MODES.filter((m) => mode.names.includes(m));
  await rc.mm.mmapLock.write(h);
  try {
    const map = rc.mm.maps.get(op.map);
    const start = op.offset / PAGE_SIZE;
    const end = start + op.len / PAGE_SIZE;
    const vmas = map === undefined ? [] : vmasIn(map, start, end);
    if (map === undefined || vmas.length === 0) return EINVAL;
    const unit = map.folioPages;
    if (unit > 1 && start % unit !== 0) return EINVAL;
    for (const v of vmas) {
      if (!canUserfault(rc, map, modes, ctx.has("WP_ASYNC"))) return EINVAL;
      // UFFDIO_COPY fills holes even without PROT_WRITE: a MAP_SHARED VMA must have VM_MAYWRITE.
      if (map.fdReadOnly) return { errno: "EPERM" };
      if (unit > 1 && end > v.start && end <= v.end && end % unit !== 0) return EINVAL;
      if (v.reg !== undefined && v.reg.ctx !== ctx) return { errno: "EBUSY" };
    }
    const reg: UffdReg = { ctx, modes };
    for (const v of vmas) {
      if (v.reg?.ctx === ctx && modes.every((m) => v.reg!.modes.includes(m))) continue;
      map.uffd.set(Math.max(v.start, start), Math.min(v.end, end), reg);
    }
    return { result: "ok", ioctls: rangeIoctls(rc.mm.memType(map) === "hugetlb", modes) };
  } finally {
    rc.mm.mmapLock.writeUnlock();
  }
}

/** Clears the registration of pages [a, b), resolving uffd-wp state first where WP was registered. */
async function clearRange(mm: Mm, map: Mapping, a: number, b: number, reg: UffdReg, h: Hooks): Promise<void> {
  if (reg.modes.includes("WP")) await uffdWpRange(mm, map, a, b, false, false, h);
  map.uffd.set(a, b, undefined);
}

/** userfaultfd_unregister; returns the outcome and the ranges (hva) whose sleepers must be woken. */
export async function userfaultfdUnregister(rc: RegisterCtx, ctx: UserfaultfdCtx, op: OpOf<"uffd_unregister">, h: Hooks): Promise<{ outcome: Outcome; wake: [number, number][] }> {
  if (!validRange(rc.config, rc.bugs, op.map, op.offset, op.len)) return { outcome: EINVAL, wake: [] };
  await rc.mm.mmapLock.write(h);
  try {
    const map = rc.mm.maps.get(op.map);
    const start = op.offset / PAGE_SIZE;
    const end = start + op.len / PAGE_SIZE;
    const vmas = map === undefined ? [] : vmasIn(map, start, end);
    if (map === undefined || vmas.length === 0) return { outcome: EINVAL, wake: [] };
    if (map.folioPages > 1 && start % map.folioPages !== 0) return { outcome: EINVAL, wake: [] };
    for (const v of vmas) {
      if (v.reg !== undefined && v.reg.ctx !== ctx) return { outcome: EINVAL, wake: [] };
      if (!canUserfault(rc, map, v.reg?.modes ?? [], ctx.has("WP_ASYNC"))) return { outcome: EINVAL, wake: [] };
    }
    const wake: [number, number][] = [];
    for (const v of vmas) {
      if (v.reg === undefined) continue;
      const a = Math.max(v.start, start);
      const b = Math.min(v.end, end);
      if (v.reg.modes.includes("MISSING")) wake.push([map.base + a * PAGE_SIZE, map.base + b * PAGE_SIZE]);
      // userfaultfd_clear_vma: uffd-wp state is resolved (hugetlb_change_protection: whole huge pages, markers
      // included), then the VMA split fails off a huge page boundary.
      if (map.folioPages > 1 && b < v.end && b % map.folioPages !== 0) {
        if (v.reg.modes.includes("WP")) await uffdWpRange(rc.mm, map, a, Math.ceil(b / map.folioPages) * map.folioPages, false, false, h);
        return { outcome: EINVAL, wake };
      }
      await clearRange(rc.mm, map, a, b, v.reg, h);
    }
    return { outcome: { result: "ok" }, wake };
  } finally {
    rc.mm.mmapLock.writeUnlock();
  }
}

/** userfaultfd_release_all: every range registered with ctx loses its registration. */
export async function releaseAll(mm: Mm, ctx: UserfaultfdCtx, h: Hooks): Promise<void> {
  await mm.mmapLock.write(h);
  try {
    for (const map of [...mm.maps.values()]) {
      for (const r of [...map.uffd.spans()]) if (r.value.ctx === ctx) await clearRange(mm, map, r.start, r.end, r.value, h);
    }
  } finally {
    mm.mmapLock.writeUnlock();
  }
}
