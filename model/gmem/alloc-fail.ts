// Allocation failure as an argument of the call (fail_nth, the kernel's /proc/thread-self/fail-nth): which attempt of
// a call fails, and what each failing allocation leaves. faultline counts one attempt per up-front reservation
// (KVM's xa_reserve loop, guest_memfd's mas_preallocate), one per index the 2024 RFC's faultability loop stores, and
// one per folio fallocate allocates; a real kernel's count also depends on the xarray's nodes.
import { rfc2024 as rfc, v7, v8 } from "../sources.js";
import { rule } from "../rules.js";

const G = "virt/kvm/guest_memfd.c";

export const ALLOC_FAIL_RULES = {
  failNth: rule(
    "alloc.fail-nth",
    "Documentation/fault-injection/fault-injection.rst (/proc/<pid>/task/<tid>/fail-nth); lib/fault-inject.c (should_fail_ex: current->fail_nth)",
    "fail_nth = n: the call's nth allocation attempt fails and no other (0: none)",
  ),
  attrReserve: rule(
    "attr.enomem",
    "virt/kvm/kvm_main.c (kvm_vm_set_mem_attributes: xa_reserve of every gfn before kvm_handle_gfn_range, \"to avoid having to deal with failures partway through\")",
    "KVM_SET_MEMORY_ATTRIBUTES: the reservation up front fails: ENOMEM with nothing zapped or stored",
    "ENOMEM",
  ),
  convertPrealloc: rule(
    "gmem.convert-enomem",
    `${v8(13)} (__kvm_gmem_set_attributes: kvm_gmem_mas_preallocate before the point of no return); ${v8(14)} (*err_index = start); ${v7(9)}; ${v7(10)}`,
    "KVM_SET_MEMORY_ATTRIBUTES2: the maple tree preallocation fails: ENOMEM, error_offset = offset, nothing unmapped, zapped or stored",
    "ENOMEM",
  ),
  rfcLoop: rule(
    "gmem.rfc-faultable-enomem",
    `${rfc(26)} (kvm_gmem_set_faultable: xa_store per index, return at the first error); ${rfc(29)} (kvm_gmem_set_faultable_slot: WARN_ON, error dropped); ${rfc(39)} (kvm_gmem_try_set_faultable_slot ignores the return); lib/xarray.c (xas_store: only a non-NULL store creates nodes)`,
    "2024 RFC: storing FAULT fails at an index: the indexes before it are faultable, the rest keep their faultability, and the ioctl goes on as if it had succeeded",
  ),
  allocate: rule(
    "gmem.allocate-enomem",
    `${G} (kvm_gmem_allocate: break at the first kvm_gmem_get_folio error); ${rfc(15)} (kvm_gmem_hugetlb_alloc_folio: memcg charge, subpool or hstate pool failing is -ENOMEM)`,
    "fallocate: a folio allocation fails (HugeTLB: pool or subpool exhausted): ENOMEM, the folios allocated before it stay",
    "ENOMEM",
  ),
};

/**
 * Which of `count` allocation attempts fails (0-based), when `used` attempts of the call came before them and the call
 * asked for its `nth` to fail; undefined when none of them does.
 */
export function failingAttempt(nth: number | undefined, used: number, count: number): number | undefined {
  if (nth === undefined || nth === 0) return undefined;
  const k = nth - used - 1;
  return k >= 0 && k < count ? k : undefined;
}
