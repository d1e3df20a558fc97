// What a schedule step touches, so that the explorer can tell two steps' dependence. A step runs an actor from
// the yield point it is parked at to its next one; its footprint is declared per yield point (label) and
// operation in FOOTPRINTS below, at the granularity of kernel areas. A step without a declared footprint depends
// on every other step: a missing entry costs reduction, never soundness.
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";

/** A resource a step reads or writes: a part of kernel state (the areas below). */
export type Resource = string;

/** The file descriptor table. */
const FD = "fd";
const SLOTS = "kvm.slots";
const STAGE2 = "kvm.stage2";
const ATTRS = "kvm.attributes";
/** The KVM Userfault bitmaps (the VMM's buffers). */
const BITMAP = "kvm.userfault-bitmap";
/** mmu_invalidate_seq, the invalidation counts and range, the root generation, mmu_lock. */
const MMU = "kvm.mmu";
const SRCU = "kvm.srcu";
const SLOTS_LOCK = "kvm.slots_lock";
/** guest_memfd's files, bindings, folios and their shared/private state. */
const GMEM = "gmem";
/** Host VMAs and page tables. */
const MM = "mm";
/** The contents of every page (host pages and guest_memfd folios). */
const DATA = "data";
/** userfaultfd contexts, wait queues and sleeping threads. */
const UFFD = "uffd";

/**
 * What the invariants checked at every yield point (the "always" ones) read: memslots-disjoint, stage2-in-slot,
 * gmem-host-map-split, gmem-huge-stage2 and gmem-stage2-backed. A step that writes one of these is visible.
 */
const VISIBLE: readonly Resource[] = [SLOTS, STAGE2, ATTRS, GMEM, MM];

export interface Access {
  readonly reads: readonly Resource[];
  readonly writes: readonly Resource[];
}

/** The step that begins an operation or goes on from `label` inside it. */
export interface StepSite {
  readonly op: Op;
  readonly label: string;
  readonly entry: boolean;
}

/** A step's footprint: `all` (depends on every step) or what it may read and write, and whether it may end its operation. */
export type Footprint =
  | { readonly kind: "all" }
  | { readonly kind: "some"; readonly access: Access; readonly invokes: boolean; readonly returns: boolean };

export const ALL: Footprint = { kind: "all" };

/** A declaration: the resources (a waiting step's also those its wake-up condition reads), and whether the step can end its operation. */
interface Declared extends Access {
  readonly returns: boolean;
}

const step = (reads: readonly Resource[], writes: readonly Resource[], returns = true): Declared => ({ reads, writes, returns });
type Declare = (op: Op, config: Config) => Declared | undefined;

const bindsGmem = (op: Op): boolean => op.op === "set_memory_region" && (op.flags ?? []).includes("GUEST_MEMFD");

/** Conversions in the 2024 RFC ask guest_memfd (kvm_gmem_should_set_attributes) inside KVM_SET_MEMORY_ATTRIBUTES. */
const plain = (config: Config): boolean => config.gmemDesign !== "rfc-2024";

/**
 * Footprints by operation and yield point (`op@label`; `op@` is the step that begins the operation). Each covers
 * every path the code may take from that yield point to the next, seeded bugs included; the comment names the
 * code. Every other step (the fault's faultin, the host and guest_memfd fault paths, userfaultfd) is `all`.
 */
const FOOTPRINTS: ReadonlyMap<string, Declare> = new Map<string, Declare>([
  // userfaultWrite: the store into the bitmap, then the return.
  ["userfault_set@", () => step([FD, BITMAP], [BITMAP])],
  ["userfault_clear@", () => step([FD, BITMAP], [BITMAP])],
  ["userfault_set@userfault_bitmap:set", () => step([], [])],
  ["userfault_clear@userfault_bitmap:clear_release", () => step([], [])],
  // Uffd.runThread (its sleeping threads), the VM's fd, vcpuAccess up to vcpu_enter_guest.
  ["vcpu_access@", () => step([FD, UFFD], [UFFD])],
  // kvm_mem_is_private, the stage-2 hit and the guest's access; else the SRCU read lock and the memslot lookup.
  ["vcpu_access@vcpu_enter_guest", () => step([ATTRS, GMEM, STAGE2, SLOTS, DATA, SRCU, UFFD], [DATA, SRCU, UFFD])],
  // The SRCU read lock (taken late under memslot-lookup-outside-srcu), then mmu_invalidate_seq and the root.
  ["vcpu_access@kvm_vcpu_gfn_to_memslot", () => step([SRCU, MMU], [SRCU], false)],
  // Woken when no invalidation covers the gfn (and the slot changed): then back to vcpu_enter_guest.
  ["vcpu_access@RET_PF_RETRY", () => step([MMU, SLOTS], [], false)],
  // kvm_tdp_mmu_map: the staleness check, the level, the SPTE; unlocks; then the access or RET_PF_RETRY.
  ["vcpu_access@read_lock(mmu_lock)", () => step([MMU, SLOTS, ATTRS, GMEM, MM, STAGE2, DATA, SRCU, UFFD], [MMU, STAGE2, DATA, SRCU, UFFD])],
  // The VM's fd and the flag checks before slots_lock.
  ["set_memory_region@", () => step([FD], [])],
  // kvmSetMemoryRegion's checks, up to the first publish or zap (binding a guest_memfd is guest_memfd's code).
  ["set_memory_region@mutex_lock(slots_lock)", (op) => (bindsGmem(op) ? undefined : step([SLOTS_LOCK, SLOTS, FD], [SLOTS_LOCK]))],
  // kvm_swap_active_memslots: publish, then synchronize_srcu (or the zap, under memslot-invalidate-no-sync).
  ["set_memory_region@kvm_swap_active_memslots", () => step([MMU, SLOTS, SRCU], [SLOTS, SRCU], false)],
  // After the grace period: the zap's lock, the next publish, or the end (unbind, the bitmap, slots_lock).
  ["set_memory_region@synchronize_srcu(kvm->srcu)", () => step([SRCU, SLOTS], [GMEM, BITMAP, SLOTS_LOCK])],
  // The zap (kvm_arch_flush_shadow_memslot), huge-page recovery or dirty logging's write-protect, then on.
  ["set_memory_region@write_lock(mmu_lock)", () => step([MMU, STAGE2, MM, SLOTS, DATA], [STAGE2, MMU, DATA, SLOTS_LOCK])],
  ["set_memory_attributes@", () => step([FD], [])],
  // The no-op check, the ranges hit, the early store (attr-store-before-invalidate).
  ["set_memory_attributes@mutex_lock(slots_lock)", (_op, c) => (plain(c) ? step([SLOTS_LOCK, ATTRS, SLOTS], [SLOTS_LOCK, ATTRS]) : undefined)],
  // invalidate_begin and the zap, or invalidate_end and the return.
  ["set_memory_attributes@write_lock(mmu_lock)", (_op, c) => (plain(c) ? step([MMU, STAGE2, SLOTS], [MMU, STAGE2, SLOTS_LOCK]) : undefined)],
  ["set_memory_attributes@kvm_vm_set_mem_attributes:store", () => step([ATTRS], [ATTRS, SLOTS_LOCK])],
]);

export const siteKey = (site: StepSite): string => `${site.op.op}@${site.entry ? "" : site.label}`;

/** The footprint of the step at `site`; `returned` is known once the step ran (before, it may end the operation unless declared not to). */
export function footprintOf(site: StepSite, config: Config, returned?: boolean): Footprint {
  const d = FOOTPRINTS.get(siteKey(site))?.(site.op, config);
  if (d === undefined) return ALL;
  return { kind: "some", access: d, invokes: site.entry, returns: returned ?? d.returns };
}

/** A step that may change what the invariants checked at every yield point see. */
const visible = (a: Access): boolean => a.writes.some((r) => VISIBLE.includes(r));
const meets = (xs: readonly Resource[], ys: readonly Resource[]): boolean => xs.some((x) => ys.includes(x));

/**
 * Whether two steps of different actors may fail to commute. Besides a conflict on a resource (one writes what
 * the other reads or writes), an operation's invocation and another's response are ordered in real time, which
 * the linearizability check sees; and two steps that both change the abstract state are ordered, since the
 * state invariants checked at every yield point see the states in between (Peled's visibility condition).
 */
export function dependent(a: Footprint, b: Footprint): boolean {
  if (a.kind === "all" || b.kind === "all") return true;
  if ((a.invokes && b.returns) || (a.returns && b.invokes)) return true;
  if (visible(a.access) && visible(b.access)) return true;
  return meets(a.access.writes, [...b.access.reads, ...b.access.writes]) || meets(b.access.writes, a.access.reads);
}
