// Op builders the example tests share.
import type { OpOf } from "../../schema/ops.js";

const MiB = 1024 * 1024;

/** Memslot 0 of VM v0: 2 MiB at gpa 0 over mapping m0 from its start. */
export const memslot = (over: Partial<OpOf<"set_memory_region">> = {}): OpOf<"set_memory_region"> => ({
  op: "set_memory_region",
  vm: "v0",
  slot: 0,
  flags: [],
  guest_phys_addr: 0,
  memory_size: 2 * MiB,
  userspace: "m0",
  userspace_offset: 0,
  ...over,
});

/** Memslot 0 of VM v0 over guest_memfd g0 from offset 0: 4 MiB at gpa 0, no userspace mapping. */
export const gmemSlot = (over: Partial<OpOf<"set_memory_region">> = {}): OpOf<"set_memory_region"> =>
  memslot({ flags: ["GUEST_MEMFD"], memory_size: 4 * MiB, userspace: null, guest_memfd: "g0", guest_memfd_offset: 0, ...over });
