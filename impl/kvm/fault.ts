// KVM_RUN for one guest access: the guest completes it through a present SPTE, or takes the fault path with
// the kernel's order of checks, its SRCU section, the mmu_invalidate snapshot and the re-check under mmu_lock.
import { LEVEL_PAGES, PAGE_SIZE, type Level } from "../../model/consts.js";
import type { OpOf } from "../../schema/ops.js";
import type { ExitFlagName, Outcome } from "../../schema/outcome.js";
import { gmemMaxLevel, kvmMemIsPrivate } from "../gmem/attributes.js";
import { gmemGetPfn, type GmemInode } from "../gmem/gmem.js";
import { pkvmPending } from "../gmem/pkvm.js";
import type { Hooks } from "../hooks.js";
import { ZERO_FOLIO, pageOf, peekPage, type Folio } from "../mm/folio.js";
import { fillPage, readPage } from "../util/pagedata.js";
import { markPageDirty } from "./dirty-log.js";
import { has, type ImplMemslot, type Kvm } from "./kvm.js";
import { hvaOf, maxSharedLevel, type MmuCtx } from "./mmu.js";
import type { Leaf } from "./stage2.js";
import { blockedOutcome } from "../uffd/ctx.js";
import { GUP_ORIGIN } from "../uffd/fault.js";

export interface FaultCtx extends MmuCtx {
  readonly gmemInodes: readonly GmemInode[];
}

interface Access {
  readonly vcpu: number;
  readonly gpa: number;
  readonly gfn: number;
  readonly write: boolean;
  readonly isPrivate: boolean;
  readonly byte: number;
}

/** What the fault path decided: an outcome for userspace, a retry (with what to wait for), or a page to map. */
type Resolution =
  | { readonly kind: "done"; readonly outcome: Outcome }
  | { readonly kind: "retry"; readonly until: () => boolean }
  | { readonly kind: "mapped"; readonly folio: Folio; readonly sub: number; readonly writable: boolean };

const done = (outcome: Outcome): Resolution => ({ kind: "done", outcome });
const memoryFault = (gpa: number, flags: ExitFlagName[], errno: "EFAULT" = "EFAULT"): Outcome => ({
  result: "exit",
  exit: "memory_fault",
  errno,
  gpa,
  size: PAGE_SIZE,
  flags,
});
/** kvm_send_hwpoison_signal: send_sig_mceerr(BUS_MCEERR_AR, hva, ...) on the vCPU thread. */
const HWPOISON_SIGBUS: Outcome = { result: "SIGBUS", code: "BUS_MCEERR_AR" };
const mmio = (gpa: number, write: boolean): Outcome => ({ result: "exit", exit: "mmio", gpa, write });
const privateFlag = (p: boolean): ExitFlagName[] => (p ? ["PRIVATE"] : []);

export async function vcpuAccess(ctx: FaultCtx, kvm: Kvm, op: OpOf<"vcpu_access">, h: Hooks): Promise<Outcome> {
  // vcpu.ebadf: vCPU fds 0 .. vcpus-1; the seeded slip lets index vcpus through.
  if (op.vcpu >= kvm.config.vcpus + (ctx.bugs.has("vcpu-index-inclusive") ? 1 : 0)) return { errno: "EBADF" };
  const gfn = Math.floor(op.gpa / PAGE_SIZE);
  const write = op.kind === "write";
  for (;;) {
    await h.yield("vcpu_enter_guest");
    const isPrivate = kvm.hasPrivateMem ? (op.private ?? kvmMemIsPrivate(ctx.gmemInodes, kvm, gfn)) : false;
    const a: Access = { vcpu: op.vcpu, gpa: op.gpa, gfn, write, isPrivate, byte: op.byte ?? 0 };
    const hit = kvm.stage2[0]!.lookup(gfn);
    if (hit !== undefined && hit.leaf.private === isPrivate && (!write || hit.leaf.writable)) {
      return touch(hit.leaf.folio, hit.leaf.sub + hit.delta, a);
    }
    const outcome = await pageFault(ctx, kvm, a, h);
    if (outcome !== undefined) return withAccessFlag(kvm, outcome, write);
  }
}

/** memory-fault-rwx: KVM fills READ or WRITE into every memory-fault exit of a guest access. */
function withAccessFlag(kvm: Kvm, outcome: Outcome, write: boolean): Outcome {
  if (kvm.config.faultExit !== "memory-fault-rwx" || !("exit" in outcome) || outcome.exit !== "memory_fault") return outcome;
  return { ...outcome, flags: [write ? "WRITE" : "READ", ...(outcome.flags ?? [])] };
}

/** The guest's load or store once a mapping reaches the page. */
function touch(folio: Folio, sub: number, a: Access): Outcome {
  const inPage = a.gpa % PAGE_SIZE;
  if (a.write) {
    fillPage(pageOf(folio, sub), inPage, inPage + 1, a.byte);
    return { result: "ok" };
  }
  const page = folio === ZERO_FOLIO ? undefined : peekPage(folio, sub);
  return { result: "ok", value: page === undefined ? 0 : readPage(page, inPage) };
}

/** One pass of the fault path; undefined means RET_PF_RETRY (the guest re-executes and faults again). */
async function pageFault(ctx: FaultCtx, kvm: Kvm, a: Access, h: Hooks): Promise<Outcome | undefined> {
  const early = ctx.bugs.has("memslot-lookup-outside-srcu");
  let idx = early ? undefined : kvm.srcu.readLock();
  let r: Resolution;
  let slot: ImplMemslot | undefined;
  try {
    slot = kvm.memslots[0]!.find(a.gfn);
    await h.yield("kvm_vcpu_gfn_to_memslot");
    idx ??= kvm.srcu.readLock();
    const rootGen = kvm.rootGen;
    const seq = kvm.mmuInvalidateSeq;
    await h.yield("kvm_mmu_faultin_pfn:mmu_seq");
    r = kvm.config.arch === "x86" ? await faultinX86(ctx, kvm, slot, seq, a, h) : await faultinArm64(ctx, kvm, slot, seq, a, h);
    if (r.kind === "mapped" && a.write && r.writable && ctx.bugs.has("dirty-log-mark-early")) markPageDirty(slot!, a.gfn);
    // The seeded mistake snapshots mmu_invalidate_seq only now, after faultin: an invalidation during faultin is missed.
    if (r.kind === "mapped") r = await mapUnderMmuLock(ctx, kvm, slot!, rootGen, ctx.bugs.has("fault-seq-after-faultin") ? kvm.mmuInvalidateSeq : seq, a, r, h);
  } finally {
    if (idx !== undefined) kvm.srcu.readUnlock(idx);
  }
  if (r.kind === "done") return r.outcome;
  if (r.kind === "retry") {
    await h.yield("RET_PF_RETRY", r.until);
    return undefined;
  }
  return touch(r.folio, r.sub, a);
}

const waitInvalidation = (kvm: Kvm, gfn: number, slot: ImplMemslot | undefined): (() => boolean) => () =>
  !(kvm.mmuInvalidateInProgress > 0 && gfn >= kvm.mmuInvalidateRangeStart && gfn < kvm.mmuInvalidateRangeEnd) && kvm.memslots[0]!.find(gfn) !== slot;

const waitNotInvalidating = (kvm: Kvm, gfn: number): (() => boolean) => () =>
  !(kvm.mmuInvalidateInProgress > 0 && gfn >= kvm.mmuInvalidateRangeStart && gfn < kvm.mmuInvalidateRangeEnd);

/** kvm_mmu_faultin_pfn and __kvm_mmu_faultin_pfn (x86). */
async function faultinX86(ctx: FaultCtx, kvm: Kvm, slot: ImplMemslot | undefined, seq: number, a: Access, h: Hooks): Promise<Resolution> {
  if (a.isPrivate !== kvmMemIsPrivate(ctx.gmemInodes, kvm, a.gfn)) return done(memoryFault(a.gfn * PAGE_SIZE, privateFlag(a.isPrivate && !ctx.bugs.has("exit-private-flag-dropped"))));
  if (slot === undefined) return done(a.isPrivate ? memoryFault(a.gfn * PAGE_SIZE, ["PRIVATE"]) : mmio(a.gpa, a.write));
  if (slot.invalid) return { kind: "retry", until: waitInvalidation(kvm, a.gfn, slot) };
  if (kvm.invalidateRetry(seq, a.gfn)) return { kind: "retry", until: waitNotInvalidating(kvm, a.gfn) };
  const uf = await kvmDoUserfault(ctx, kvm, slot, a, h);
  if (uf !== undefined) return done(uf);
  if (a.isPrivate || slot.gmemOnly) return gmemFaultin(ctx, slot, a, a.gfn * PAGE_SIZE, h);
  if (a.write && has(slot, "READONLY")) return done(mmio(a.gpa, !ctx.bugs.has("mmio-ro-write-as-read")));
  return gupFaultin(ctx, kvm, slot, a, h);
}

/** user_mem_abort / gmem_abort (arm64). */
async function faultinArm64(ctx: FaultCtx, kvm: Kvm, slot: ImplMemslot | undefined, _seq: number, a: Access, h: Hooks): Promise<Resolution> {
  if (slot === undefined) return done(mmio(a.gpa, a.write));
  if (slot.invalid && !ctx.bugs.has("arm64-fault-maps-invalid-slot")) return { kind: "retry", until: waitInvalidation(kvm, a.gfn, slot) };
  if (a.write && has(slot, "READONLY")) return done(mmio(a.gpa, true));
  if (slot.gmem !== null) {
    const uf = await kvmDoUserfault(ctx, kvm, slot, a, h);
    return uf !== undefined ? done(uf) : gmemFaultin(ctx, slot, a, a.gpa, h);
  }
  if (ctx.mm.locate(hvaOf(slot, a.gfn)) === undefined) return done({ errno: "EFAULT" });
  const uf = await kvmDoUserfault(ctx, kvm, slot, a, h);
  return uf !== undefined ? done(uf) : gupFaultin(ctx, kvm, slot, a, h);
}

/** kvm_do_userfault: one read of the bitmap word holding the gfn's bit. */
async function kvmDoUserfault(ctx: FaultCtx, kvm: Kvm, slot: ImplMemslot, a: Access, h: Hooks): Promise<Outcome | undefined> {
  // exit-on-missing: bit 3 is KVM_MEM_EXIT_ON_MISSING, which has no bitmap (gupFaultin decides).
  if (!has(slot, "USERFAULT") || ctx.bugs.has("userfault-bitmap-ignored") || kvm.config.faultExit === "exit-on-missing") return undefined;
  const bitmap = kvm.bitmaps.get(slot.slot);
  if (slot.userfaultBitmap !== null || bitmap === undefined) return { errno: "EFAULT" };
  const offset = a.gfn - slot.baseGfn;
  // The seeded fast path re-exits the gfn of the vCPU's last USERFAULT exit without reading the bitmap again.
  const cached = ctx.bugs.has("userfault-exit-cached") && kvm.lastUserfaultGfn.get(a.vcpu) === a.gfn;
  if (cached) return memoryFault(a.gfn * PAGE_SIZE, [...privateFlag(a.isPrivate), "USERFAULT"]);
  const word = bitmap.word(offset);
  await h.yield("kvm_do_userfault:__get_user");
  if (((word >>> offset % 32) & 1) === 0) return undefined;
  const flagWord = ctx.bugs.has("userfault-double-fetch") ? bitmap.word(offset) : word;
  kvm.lastUserfaultGfn.set(a.vcpu, a.gfn);
  return memoryFault(a.gfn * PAGE_SIZE, [...privateFlag(a.isPrivate), ...(((flagWord >>> offset % 32) & 1) === 1 ? (["USERFAULT"] as const) : [])]);
}

async function gmemFaultin(ctx: FaultCtx, slot: ImplMemslot, a: Access, exitGpa: number, h: Hooks): Promise<Resolution> {
  if (slot.gmem === null) return done(memoryFault(exitGpa, privateFlag(a.isPrivate)));
  const index = slot.gmem.pgoff + a.gfn - slot.baseGfn;
  const pfn = await gmemGetPfn(ctx.gmemInodes[slot.gmem.inode]!, index, h, ctx.bugs);
  if ("errno" in pfn) return done(memoryFault(exitGpa, privateFlag(a.isPrivate), pfn.errno));
  // pKVM's guest_memfd_abort: a page the guest unshared while the host holds it is mappable by nobody yet.
  if (pkvmPending(ctx, slot.gmem.inode, index)) return done({ errno: "EAGAIN" });
  return { kind: "mapped", folio: pfn.folio, sub: pfn.sub, writable: true };
}

/**
 * __kvm_faultin_pfn through GUP of the slot's hva. A failed GUP is a bare EFAULT, or a memory-fault exit where the
 * design annotates it (exit-on-missing's kvm_handle_error_pfn; arm64-memory-fault-info's user_mem_abort).
 */
async function gupFaultin(ctx: FaultCtx, kvm: Kvm, slot: ImplMemslot, a: Access, h: Hooks): Promise<Resolution> {
  const design = kvm.config.faultExit;
  const annotated = design === "exit-on-missing" || (design === "arm64-memory-fault-info" && kvm.config.arch === "arm64");
  const failed = (): Resolution => {
    if (annotated) kvm.lastErrorPfnGfn.set(a.vcpu, a.gfn);
    return done(annotated ? memoryFault(a.gfn * PAGE_SIZE, []) : { errno: "EFAULT" });
  };
  // The seeded fast path re-exits the gfn of the vCPU's last annotated GUP failure without trying GUP again.
  if (annotated && ctx.bugs.has("error-pfn-exit-cached") && kvm.lastErrorPfnGfn.get(a.vcpu) === a.gfn) return done(memoryFault(a.gfn * PAGE_SIZE, []));
  const at = ctx.mm.locate(hvaOf(slot, a.gfn));
  if (at === undefined) return failed();
  if (design === "exit-on-missing" && has(slot, "USERFAULT")) {
    // Only the fast path, get_user_page_fast_only(FOLL_WRITE) for a read too: a present, writable host PTE, or the exit.
    if (at.map.pte(at.index)?.pte.writable !== true) return failed();
  }
  const r = await ctx.mm.fault(at.map, at.index, a.write, h, GUP_ORIGIN);
  // KVM_PFN_ERR_HWPOISON comes before any annotation: kvm_send_hwpoison_signal, then RET_PF_RETRY into the signal.
  if (r.kind === "signal" && r.hwpoison === true) return done(HWPOISON_SIGBUS);
  if (r.kind === "signal") return failed();
  // GUP slept in handle_userfault: KVM_RUN is blocked until a wakeup retries it (impl/uffd/uffd.ts).
  if (r.kind === "userfault") return done(blockedOutcome(r.waiter));
  return { kind: "mapped", folio: r.folio, sub: r.sub, writable: r.writable };
}

/** kvm_tdp_mmu_map under mmu_lock (read): drop the result if an invalidation raced (is_page_fault_stale). */
async function mapUnderMmuLock(
  ctx: FaultCtx,
  kvm: Kvm,
  slot: ImplMemslot,
  rootGen: number,
  seq: number,
  a: Access,
  r: Extract<Resolution, { kind: "mapped" }>,
  h: Hooks,
): Promise<Resolution> {
  await kvm.mmuLock.read(h);
  try {
    const stale = kvm.rootGen !== rootGen || (!ctx.bugs.has("fault-no-invalidate-recheck") && kvm.invalidateRetry(seq, a.gfn));
    if (stale) return { kind: "retry", until: waitNotInvalidating(kvm, a.gfn) };
    const gmem = a.isPrivate || slot.gmemOnly || (kvm.config.arch === "arm64" && slot.gmem !== null);
    const level: Level = gmem ? gmemMaxLevel(ctx.gmemInodes, ctx.bugs, kvm, slot, a.gfn, a.isPrivate) : maxSharedLevel(ctx.mm, ctx.bugs, kvm, slot, a.gfn);
    const writable = r.writable && !has(slot, "READONLY") && (a.write || !has(slot, "LOG_DIRTY_PAGES"));
    const n = LEVEL_PAGES[level];
    const start = Math.floor(a.gfn / n) * n;
    const leaf: Leaf = { level, writable, private: a.isPrivate, folio: r.folio, sub: r.sub - (a.gfn - start) };
    // make_spte marks a page it maps writable under mmu_lock; the seeded mistake marked it before taking the lock.
    if (writable && !ctx.bugs.has("dirty-log-mark-early")) markPageDirty(slot, a.gfn);
    kvm.stage2[0]!.install(a.gfn, leaf);
    return r;
  } finally {
    kvm.mmuLock.readUnlock();
  }
}
