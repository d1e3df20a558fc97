// Who says whether a page is private: the VM's attribute array, or guest_memfd's per-inode attributes once
// in-place conversion is on (v8's gmem_in_place_conversion, v7's vm_memory_attributes=0). Also the small readers
// other subsystems use.
import type { Config } from "../../schema/config.js";
import type { Vm } from "../kvm/types.js";
import { assign, get, spans, type RangeMap } from "../ranges.js";
import type { State } from "../state.js";

/** The in-place conversion series, v8 or its v7 variant, is in the kernel (whether or not it is switched on). */
export const inplaceDesign = (c: Config): boolean => c.kernel.gmemInplaceConversion && (c.gmemDesign === "v8" || c.gmemDesign === "v7");

/**
 * KVM asks guest_memfd for private/shared: v8's gmem_in_place_conversion ([PATCH v8 10/46], default
 * !CONFIG_KVM_VM_MEMORY_ATTRIBUTES by [PATCH v8 24/46]), or v7's vm_memory_attributes=0 ([PATCH v7 18/42]).
 */
export function gmemOwnsAttributes(c: Config): boolean {
  if (!inplaceDesign(c)) return false;
  if (c.gmemDesign === "v7") return !c.kernel.memoryAttributes;
  return c.kernel.gmemInPlaceParam === "default" ? !c.kernel.memoryAttributes : c.kernel.gmemInPlaceParam === "on";
}

/** The 2024 RFC design: conversions inside KVM_SET_MEMORY_ATTRIBUTES, faultability kept by guest_memfd. */
export const rfc2024 = (c: Config): boolean => c.kernel.gmemInplaceConversion && c.gmemDesign === "rfc-2024";

/** kvm_mem_is_private: the VM attribute, or kvm_gmem_get_memory_attributes (no slot, no file: shared). */
export function memIsPrivate(s: State, vm: Vm, gfn: number): boolean {
  if (!gmemOwnsAttributes(s.config)) return get(vm.attributes, gfn) === true;
  const slot = vm.slots.find((sl) => sl.as === 0 && gfn >= sl.baseGfn && gfn < sl.baseGfn + sl.npages);
  if (slot === undefined || slot.gmem === null || !s.gmem.inodes[slot.gmem.inode]!.open) return false;
  return gmemIsPrivate(s, slot.gmem.inode, slot.gmem.pgoff + gfn - slot.baseGfn);
}

/** The private gfns of [start, end) in address space `as`, as kvm_range_has_memory_attributes sees them. */
export function privateSpans(s: State, vm: Vm, start: number, end: number, as = 0): RangeMap<true> {
  if (!gmemOwnsAttributes(s.config)) return spans(vm.attributes, start, end);
  let out: RangeMap<true> = [];
  for (const slot of vm.slots) {
    const a = Math.max(start, slot.baseGfn);
    const b = Math.min(end, slot.baseGfn + slot.npages);
    if (slot.as !== as || a >= b || slot.gmem === null || !s.gmem.inodes[slot.gmem.inode]!.open) continue;
    const shift = slot.baseGfn - slot.gmem.pgoff;
    out = assign(out, a, b, true);
    for (const sp of spans(s.gmem.inodes[slot.gmem.inode]!.shared, a - shift, b - shift)) out = assign(out, sp.start + shift, sp.end + shift, undefined);
  }
  return out;
}

/** The host may not fault this page in (v7: PRIVATE in the inode's tree; 2024 RFC: not faultable). */
export const gmemIsPrivate = (s: State, inode: number, index: number): boolean => get(s.gmem.inodes[inode]!.shared, index) !== true;

/** The page is allocated in the inode's page cache. */
export const gmemHasPage = (s: State, inode: number, index: number): boolean => get(s.gmem.inodes[inode]!.present, index) === true;
