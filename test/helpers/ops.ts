// Op builders the example tests share.
import type { OpOf } from "../../schema/ops.js";

/** Memslot 0 of VM v0 over guest_memfd g0 from offset 0: 4 MiB at gpa 0, no userspace mapping. */
export const gmemSlot = (over: Partial<OpOf<"set_memory_region">> = {}): OpOf<"set_memory_region"> => ({
  op: "set_memory_region",
  vm: "v0",
  slot: 0,
  flags: ["GUEST_MEMFD"],
  guest_phys_addr: 0,
  memory_size: 4 * 1024 * 1024,
  userspace: null,
  guest_memfd: "g0",
  guest_memfd_offset: 0,
  ...over,
});
