// kvm_vm_ioctl_set_mem_attributes: validation, the no-op shortcut, then invalidate_begin + zap, store,
// invalidate_end, all under slots_lock.
import { PAGE_SIZE } from "../../model/consts.js";
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { Hooks } from "../hooks.js";
import { FailNth } from "../util/fail-nth.js";
import { gmemOwnsAttributes } from "../gmem/design.js";
import type { Kvm } from "./kvm.js";

/** `gmemShouldSet` is guest_memfd's say in the 2024 RFC design (kvm_gmem_should_set_attributes), after the zap. */
export async function setMemoryAttributes(
  bugs: Bugs,
  kvm: Kvm,
  op: OpOf<"set_memory_attributes">,
  h: Hooks,
  gmemShouldSet: (start: number, end: number, toPrivate: boolean, fail: FailNth) => Promise<boolean> = async () => true,
): Promise<Outcome> {
  if (!kvm.config.kernel.memoryAttributes) return { errno: "ENOTTY" };
  const toPrivate = op.attributes.includes("PRIVATE");
  // v8: PRIVATE is no per-VM attribute while guest_memfd tracks it; the seeded slip still takes it.
  const privateElsewhere = gmemOwnsAttributes(kvm.config) && !bugs.has("attr-private-in-place");
  if ((op.flags ?? 0) !== 0 || (toPrivate && (!kvm.hasPrivateMem || privateElsewhere))) return { errno: "EINVAL" };
  // attr.range: address + size must not reach 2^64.
  const rangeEnd = op.address + op.size;
  if (op.size === 0 || (bugs.has("attr-range-wrap-inclusive") ? rangeEnd > 2 ** 64 : rangeEnd >= 2 ** 64)) return { errno: "EINVAL" };
  if (op.address % PAGE_SIZE !== 0 || op.size % PAGE_SIZE !== 0) return { errno: "EINVAL" };
  const start = op.address / PAGE_SIZE;
  const end = start + op.size / PAGE_SIZE;
  await kvm.slotsLock.lock(h);
  try {
    const already = toPrivate ? kvm.attributes.covers(start, end) : !kvm.attributes.any(start, end);
    if (already) return { result: "ok" };
    // attr.enomem: the xa_reserve loop, one attempt: nothing is zapped or stored yet.
    const fail = new FailNth(op.fail_nth);
    if (!fail.attempt()) return { errno: "ENOMEM" };
    const hits = kvm.memslots.flatMap((m) => m.sorted.filter((s) => s.baseGfn < end && start < s.baseGfn + s.npages));
    const storeEarly = bugs.has("attr-store-before-invalidate");
    if (storeEarly) kvm.attributes.set(start, end, toPrivate ? true : undefined);
    if (hits.length > 0) {
      await kvm.mmuLock.write(h);
      kvm.invalidateBegin();
      for (const s of hits) {
        const a = Math.max(start, s.baseGfn);
        const b = Math.min(end, s.baseGfn + s.npages);
        kvm.invalidateRangeAdd(a, b);
        if (!bugs.has("attr-no-zap")) kvm.stage2[s.as]!.zap(a, b);
      }
      kvm.mmuLock.writeUnlock();
    }
    const allowed = await gmemShouldSet(start, end, toPrivate, fail);
    await h.yield("kvm_vm_set_mem_attributes:store");
    if (allowed && !storeEarly) kvm.attributes.set(start, end, toPrivate ? true : undefined);
    if (hits.length > 0) {
      await kvm.mmuLock.write(h);
      kvm.invalidateEnd();
      kvm.mmuLock.writeUnlock();
    }
    return allowed ? { result: "ok" } : { errno: "EINVAL" };
  } finally {
    kvm.slotsLock.unlock();
  }
}
