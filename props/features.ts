// Declared state features with minimums, in the spirit of QuickCheck's `cover` (docs/COVERAGE.md, "Features"):
// states that take several objects in a particular order, which a rule firing once does not show were reached.
// Each is observed on the model's side of a sequential step (the state before, the op, the result), with memory
// kept per run; the full check fails when one is seen fewer times than its minimum.
import { PAGE_SIZE } from "../model/consts.js";
import type { State, StepResult } from "../model/index.js";
import { covers, spans } from "../model/ranges.js";
import type { Op } from "../schema/ops.js";

export interface Observed {
  readonly pre: State;
  readonly op: Op;
  readonly r: StepResult;
}

/** What one run remembers across its steps: the order pins were taken in, per inode and page. */
export class FeatureMemo {
  private clock = 0;
  private readonly pinnedAt = new Map<string, number>();

  /** Records the steps a feature needs to remember, after every feature has looked at the step. */
  after(o: Observed): void {
    if (o.op.op === "pin" && o.r.fired.includes("pin")) {
      const t = pinTarget(o.pre, o.op);
      if (t !== undefined) this.pinnedAt.set(`${t.inode}/${t.index}`, ++this.clock);
    }
  }

  pinnedAtOf(inode: number, index: number): number {
    return this.pinnedAt.get(`${inode}/${index}`) ?? 0;
  }
}

export interface Feature {
  readonly name: string;
  readonly description: string;
  readonly holds: (o: Observed, memo: FeatureMemo) => boolean;
}

/** The guest_memfd inode and page a pin names, through its mapping. */
function pinTarget(s: State, op: Extract<Op, { op: "pin" | "unpin" }>): { inode: number; index: number } | undefined {
  const m = s.mm.maps.get(op.map);
  if (m?.backing.kind !== "gmem") return undefined;
  return { inode: m.backing.inode, index: m.backing.offset / PAGE_SIZE + Math.floor(op.offset / PAGE_SIZE) };
}

/** The pinned pages of a refused conversion's range, lowest first. */
function busyPages(o: Observed): { inode: number; pages: number[] } | undefined {
  if (o.op.op !== "gmem_convert" || !o.r.fired.includes("gmem.convert-eagain")) return undefined;
  const inode = o.pre.gmem.names.get(o.op.gmem);
  if (inode === undefined) return undefined;
  const start = o.op.offset / PAGE_SIZE;
  const pins = spans(o.pre.gmem.inodes[inode]!.pins, start, start + o.op.size / PAGE_SIZE);
  return { inode, pages: pins.flatMap((p) => Array.from({ length: p.end - p.start }, (_, i) => p.start + i)) };
}

/** The slot and its gfn range of a vCPU access, if one holds the gfn. */
function slotOfAccess(s: State, op: Op): { base: number; end: number; gfn: number; covered: boolean } | undefined {
  if (op.op !== "vcpu_access") return undefined;
  const vm = s.kvm.vms[s.kvm.names.get(op.vm) ?? -1];
  const gfn = Math.floor(op.gpa / PAGE_SIZE);
  const slots = vm?.slots.filter((sl) => sl.as === 0) ?? [];
  const inside = slots.find((sl) => gfn >= sl.baseGfn && gfn < sl.baseGfn + sl.npages);
  if (inside !== undefined) return { base: inside.baseGfn, end: inside.baseGfn + inside.npages, gfn, covered: true };
  const before = slots.find((sl) => sl.baseGfn + sl.npages === gfn);
  return before === undefined ? undefined : { base: before.baseGfn, end: gfn, gfn, covered: false };
}

export const FEATURES: readonly Feature[] = [
  {
    name: "convert-refused-two-busy",
    description: "a conversion to private refused with EAGAIN while two or more pages of its range are pinned",
    holds: (o) => (busyPages(o)?.pages.length ?? 0) >= 2,
  },
  {
    name: "convert-refused-lower-pinned-later",
    description: "a conversion refused with several pinned pages in its range, the lowest of them pinned after a higher one",
    holds: (o, memo) => {
      const b = busyPages(o);
      if (b === undefined || b.pages.length < 2) return false;
      const [lowest, ...higher] = b.pages;
      return higher.some((p) => memo.pinnedAtOf(b.inode, p) < memo.pinnedAtOf(b.inode, lowest!));
    },
  },
  {
    name: "pins-descending",
    description: "a page pinned below a page of the same guest_memfd that is already pinned",
    holds: (o) => {
      if (o.op.op !== "pin" || !o.r.fired.includes("pin")) return false;
      const t = pinTarget(o.pre, o.op);
      const pins = t === undefined ? [] : o.pre.gmem.inodes[t.inode]!.pins;
      return t !== undefined && pins.some((p) => p.end > t.index + 1);
    },
  },
  {
    name: "fault-last-page-of-slot",
    description: "a guest access to the last page of a memslot that completes",
    holds: (o) => {
      const a = slotOfAccess(o.pre, o.op);
      return a !== undefined && a.covered && a.gfn === a.end - 1 && "result" in o.r.outcome && o.r.outcome.result === "ok";
    },
  },
  {
    name: "fault-first-page-past-slot",
    description: "a guest access to the page just past a memslot's end where no memslot is, which exits",
    holds: (o) => {
      const a = slotOfAccess(o.pre, o.op);
      return a !== undefined && !a.covered && (o.r.fired.includes("fault.mmio") || o.r.fired.includes("fault.noslot-private"));
    },
  },
  {
    name: "huge-folio-part-converted",
    description: "a conversion that changes part of a huge guest_memfd folio, not all of it",
    holds: (o) => {
      if (o.op.op !== "gmem_convert" || !o.r.fired.includes("gmem.convert")) return false;
      const inode = o.pre.gmem.inodes[o.pre.gmem.names.get(o.op.gmem) ?? -1];
      const fp = inode?.folioPages ?? 1;
      const start = o.op.offset / PAGE_SIZE;
      const end = start + o.op.size / PAGE_SIZE;
      return fp > 1 && (start % fp !== 0 || end % fp !== 0);
    },
  },
  {
    name: "bitmap-write-straddles-words",
    description: "a userfault bitmap write that starts and ends inside different 32-bit words of the bitmap, partial at both ends",
    holds: (o) => {
      if ((o.op.op !== "userfault_set" && o.op.op !== "userfault_clear") || !o.r.fired.includes("userfault.bitmap-write")) return false;
      const first = o.op.gfn_offset;
      const last = first + o.op.npages - 1;
      return first % 32 !== 0 && (last + 1) % 32 !== 0 && Math.floor(first / 32) < Math.floor(last / 32);
    },
  },
  {
    name: "attributes-split-a-span",
    description: "KVM_SET_MEMORY_ATTRIBUTES makes shared pages strictly inside a private span, cutting it in three",
    holds: (o) => {
      if (o.op.op !== "set_memory_attributes" || !o.r.fired.includes("attr.set")) return false;
      const vm = o.pre.kvm.vms[o.pre.kvm.names.get(o.op.vm) ?? -1];
      const start = o.op.address / PAGE_SIZE;
      const end = start + o.op.size / PAGE_SIZE;
      const priv = o.op.attributes.includes("PRIVATE");
      if (vm === undefined || start === 0) return false;
      // Shared pages inside a private span, [start - 1, end + 1) private before: the span is cut in three.
      return !priv && covers(vm.attributes, start - 1, end + 1);
    },
  },
];

/** The features one step shows; `memo` then remembers what later steps need. */
export function featuresOf(o: Observed, memo: FeatureMemo): string[] {
  const out = FEATURES.filter((f) => f.holds(o, memo)).map((f) => f.name);
  memo.after(o);
  return out;
}
