// Invariants of allocation failure (fail_nth): a call refused by an allocation made up front changed nothing, and a
// call that sets faultability over a range leaves every page outside the range as it was.
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { canonical, firstDifference } from "../canonical.js";
import { PAGE_SIZE } from "../consts.js";
import { fdOf } from "../fd.js";
import type { StepInvariant, Verdict } from "../invariants.js";
import { get, type RangeMap } from "../ranges.js";
import type { State } from "../state.js";

const ok = (nonVacuous: boolean): Verdict => ({ holds: true, nonVacuous });
const broken = (detail: string): Verdict => ({ holds: false, nonVacuous: true, detail });

/**
 * KVM_SET_MEMORY_ATTRIBUTES reserves its xarray entries and KVM_SET_MEMORY_ATTRIBUTES2 preallocates its maple tree
 * before they change anything ("to avoid having to deal with failures partway through"; v8 13/46's point of no return),
 * so an ENOMEM from either leaves the whole state as it was: no zap, no unmap, no store, no split.
 */
const enomemUnchanged: StepInvariant = {
  name: "enomem-unchanged",
  kind: "step",
  description: "a conversion ioctl that failed with ENOMEM (its allocation up front) changed nothing",
  check: (pre, op, outcome, post) => {
    if ((op.op !== "set_memory_attributes" && op.op !== "gmem_convert") || !("errno" in outcome) || outcome.errno !== "ENOMEM") return ok(false);
    const d = firstDifference(canonical(pre), canonical(post));
    return d === undefined ? ok(true) : broken(`${op.op} failed with ENOMEM but changed ${d.path}`);
  },
};

/** Page ranges of guest_memfd inodes, by inode id. */
type Ranges = Map<number, [number, number][]>;

const add = (r: Ranges, id: number, start: number, end: number): Ranges => r.set(id, [...(r.get(id) ?? []), [start, end]]);

/** The file ranges a call sets faultability over: guest_memfd's own range, or the gfns' indexes in every bound slot. */
function rangesOf(s: State, op: Op): Ranges | undefined {
  if (op.op === "gmem_convert") {
    const ref = fdOf(s, op.gmem);
    if (ref?.kind !== "gmem" || op.size === 0) return undefined;
    return add(new Map(), ref.id, Math.floor(op.offset / PAGE_SIZE), Math.ceil((op.offset + op.size) / PAGE_SIZE));
  }
  if (op.op !== "set_memory_attributes") return undefined;
  const ref = fdOf(s, op.vm);
  if (ref?.kind !== "vm") return undefined;
  const start = Math.floor(op.address / PAGE_SIZE);
  const end = Math.ceil((op.address + op.size) / PAGE_SIZE);
  const out: Ranges = new Map();
  for (const slot of s.kvm.vms[ref.id]!.slots) {
    const a = Math.max(start, slot.baseGfn);
    const b = Math.min(end, slot.baseGfn + slot.npages);
    if (a < b && slot.gmem !== null) add(out, slot.gmem.inode, slot.gmem.pgoff + a - slot.baseGfn, slot.gmem.pgoff + b - slot.baseGfn);
  }
  return out;
}

/** The first page of [0, size) whose faultability differs between the two maps and lies outside `allowed`. */
function firstStrayChange(before: RangeMap<true>, after: RangeMap<true>, size: number, allowed: readonly [number, number][]): number | undefined {
  const cuts = new Set([0, size]);
  for (const sp of [...before, ...after]) cuts.add(sp.start).add(sp.end);
  for (const [a, b] of allowed) cuts.add(a).add(b);
  const points = [...cuts].filter((p) => p >= 0 && p <= size).sort((x, y) => x - y);
  for (let i = 0; i + 1 < points.length; i++) {
    const p = points[i]!;
    if (get(before, p) === get(after, p)) continue;
    if (!allowed.some(([a, b]) => p >= a && points[i + 1]! <= b)) return p;
  }
  return undefined;
}

/**
 * What the 2024 RFC's per-index loop guarantees and its TODO says a range store would not: a call changes the
 * faultability of the pages it names and of no other (a failed store leaves a prefix of them changed).
 */
const faultabilityConfined: StepInvariant = {
  name: "gmem-faultability-confined",
  kind: "step",
  description: "a conversion changes the faultability (shared/private) of no guest_memfd page outside the range it was given",
  check: (pre, op, _outcome: Outcome, post) => {
    const ranges = rangesOf(pre, op);
    if (ranges === undefined) return ok(false);
    let touched = false;
    for (const [id, inode] of post.gmem.inodes.entries()) {
      const before = pre.gmem.inodes[id];
      if (before === undefined || before.shared === inode.shared) continue;
      touched = true;
      const stray = firstStrayChange(before.shared, inode.shared, inode.size / PAGE_SIZE, ranges.get(id) ?? []);
      if (stray !== undefined) return broken(`${op.op} changed the faultability of guest_memfd #${id} page ${stray}, outside the range it was given`);
    }
    return ok(touched);
  },
};

export const ALLOC_STEP_INVARIANTS: readonly StepInvariant[] = [enomemUnchanged, faultabilityConfined];
