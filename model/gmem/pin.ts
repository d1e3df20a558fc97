// pin / unpin: a long-term GUP reference (pin_user_pages(FOLL_LONGTERM), as for DMA) on the page behind a
// mapping. Only guest_memfd pages keep pins in this model; they block conversion to private.
import type { OpOf } from "../../schema/ops.js";
import { PAGE_SIZE } from "../consts.js";
import { hostFault } from "../mm/fault.js";
import { backingIndex } from "../mm/pages.js";
import { assign, get } from "../ranges.js";
import { rule } from "../rules.js";
import { refuse, result, type State, type StepResult } from "../state.js";
import { DIRECT_MAP_RULES } from "./direct-map.js";
import { gmemHostFault, withInode } from "./file.js";

const GUP = "mm/gup.c (pin_user_pages_fast, FOLL_LONGTERM | FOLL_WRITE)";

export const PIN_RULES = {
  noVma: rule("pin.efault", `${GUP}; mm/gup.c (__get_user_pages: no VMA)`, "no mapping covers the address", "EFAULT"),
  notGmem: rule("faultline.pin-not-gmem", "docs/VOCABULARY.md (pin)", "pins on memory other than guest_memfd are not modeled yet", "ENOTTY"),
  fault: rule("pin.fault-failed", `${GUP}; mm/gup.c (faultin_page: VM_FAULT_SIGBUS)`, "faulting the page in failed (a private guest_memfd page SIGBUSes)", "EFAULT"),
  pin: rule("pin", GUP, "the page is faulted in for write and gains a long-term pin"),
  unpinNone: rule("faultline.unpin-unpinned", "docs/VOCABULARY.md (unpin)", "the page behind the mapping holds no pin", "EINVAL"),
  unpin: rule("unpin", "mm/gup.c (unpin_user_page)", "one long-term pin on the page is dropped"),
};

function gmemTarget(s: State, op: OpOf<"pin"> | OpOf<"unpin">): { inode: number; index: number; mapIndex: number } | "no-vma" | "not-gmem" {
  const map = s.mm.maps.get(op.map);
  const mapIndex = Math.floor(op.offset / PAGE_SIZE);
  if (map === undefined || mapIndex >= map.pages || get(map.live, mapIndex) !== true) return "no-vma";
  if (map.backing.kind !== "gmem") return "not-gmem";
  return { inode: map.backing.inode, index: backingIndex(map, mapIndex), mapIndex };
}

export function pin(s: State, op: OpOf<"pin">): StepResult {
  const t = gmemTarget(s, op);
  if (t === "no-vma") return refuse(s, PIN_RULES.noVma);
  if (t === "not-gmem") return refuse(s, PIN_RULES.notGmem);
  // check_vma_flags refuses the VMA before any fault: GUP never reaches a folio out of the direct map.
  if (s.gmem.inodes[t.inode]!.flags.includes("NO_DIRECT_MAP")) return refuse(s, DIRECT_MAP_RULES.gup);
  const f = hostFault(s, s.mm.maps.get(op.map)!, t.mapIndex, true, gmemHostFault);
  if (f.kind === "signal") return refuse(f.state ?? s, PIN_RULES.fault, ...f.fired);
  const inode = f.state.gmem.inodes[t.inode]!;
  const pins = assign(inode.pins, t.index, t.index + 1, (get(inode.pins, t.index) ?? 0) + 1);
  return result(withInode(f.state, t.inode, { ...inode, pins }), { result: "ok" }, ...f.fired, PIN_RULES.pin);
}

export function unpin(s: State, op: OpOf<"unpin">): StepResult {
  const t = gmemTarget(s, op);
  if (t === "no-vma") return refuse(s, PIN_RULES.unpinNone);
  if (t === "not-gmem") return refuse(s, PIN_RULES.notGmem);
  const inode = s.gmem.inodes[t.inode]!;
  const count = get(inode.pins, t.index) ?? 0;
  if (count === 0) return refuse(s, PIN_RULES.unpinNone);
  const pins = assign(inode.pins, t.index, t.index + 1, count > 1 ? count - 1 : undefined);
  return result(withInode(s, t.inode, { ...inode, pins }), { result: "ok" }, PIN_RULES.unpin);
}
