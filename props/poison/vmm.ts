// Emulating poison after migration, every way the threads discuss (shared/seeds 000, 2025-05-28/29): after the VMM
// learns a page is poisoned, neither the guest nor KVM's own accesses may read its old contents, and every other page
// keeps its contents. The strategies run through the Checker (model, implementation, invariants, refinement) on a
// 4 MiB slot of anonymous memory, of 2 MiB hugetlbfs pages (4 KiB poison inside a huge page), or of an MMAP |
// INIT_SHARED guest_memfd (GMEM_ONLY: the guest's faults take its folios, KVM's own accesses its mapping), and each is
// judged on what the implementation answered. docs/POISON.md is generated from a run of every strategy (tools/poison-doc.ts).
import { PAGE_SIZE } from "../../model/consts.js";
import { bugsOf, type Bugs } from "../../impl/bugs.js";
import type { CostCounts } from "../../impl/costs.js";
import type { Config } from "../../schema/config.js";
import type { Op, OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { POISON_BACKINGS, POISON_HOT_PAGES, POISON_STRATEGIES } from "../../schema/scenario.js";
import { ALL_CHECKS, Checker, checksInvariant, PropertyFailure, type Checks } from "../checker.js";
import type { Stats } from "../stats.js";

export const STRATEGIES = POISON_STRATEGIES;
export type Strategy = (typeof STRATEGIES)[number];
export const BACKINGS = POISON_BACKINGS;
export type PoisonBacking = (typeof BACKINGS)[number];

export const POISON_PROPERTIES = {
  guest: "poison-guest-never-reads",
  kvm: "poison-kvm-never-reads",
  others: "poison-others-intact",
} as const;
export type PoisonProperty = (typeof POISON_PROPERTIES)[keyof typeof POISON_PROPERTIES];

/** What each strategy is meant to guarantee on each backing (the default check holds it to that; the doc run to all three). */
const ALL = Object.values(POISON_PROPERTIES);
const GUEST_AND_OTHERS = [POISON_PROPERTIES.guest, POISON_PROPERTIES.others];
export const CLAIMS: Readonly<Record<Strategy, Readonly<Record<PoisonBacking, readonly PoisonProperty[]>>>> = {
  hole: { anon: ALL, hugetlb: ALL, gmem: ALL },
  // KVM Userfault gates stage-2 faults only: KVM's own accesses go through the hva, which still maps the page.
  userfault: { anon: GUEST_AND_OTHERS, hugetlb: GUEST_AND_OTHERS, gmem: GUEST_AND_OTHERS },
  // A bit set under a live USERFAULT slot does nothing to an SPTE that already maps the page.
  "userfault-bit": { anon: [POISON_PROPERTIES.others], hugetlb: [POISON_PROPERTIES.others], gmem: [POISON_PROPERTIES.others] },
  // UFFDIO_POISON on hugetlbfs poisons a whole huge page (mfill_atomic_hugetlb): the other 511 pages go with it. On
  // guest_memfd the marker sits in the VMM's page table only: the guest's faults on a GMEM_ONLY slot take the folio
  // from guest_memfd (kvm_gmem_get_pfn), which still holds the old contents, so only KVM's own accesses see it.
  "uffd-poison": {
    anon: ALL,
    hugetlb: [POISON_PROPERTIES.guest, POISON_PROPERTIES.kvm],
    gmem: [POISON_PROPERTIES.kvm, POISON_PROPERTIES.others],
  },
  rescan: { anon: GUEST_AND_OTHERS, hugetlb: GUEST_AND_OTHERS, gmem: GUEST_AND_OTHERS },
};

/** One access after (or before) the poison: the guest through KVM_RUN, or KVM itself through the hva (kvm_access). */
export interface PoisonAccess {
  readonly who: "guest" | "kvm";
  readonly write: boolean;
  /** Index into HOT. */
  readonly page: number;
  readonly byte: number;
}

export interface PoisonScenario {
  readonly strategy: Strategy;
  readonly backing: PoisonBacking;
  /** Index into HOT of the poisoned page. */
  readonly poison: number;
  /** KVM_MEM_USERFAULT already on when the poison is found (post-copy still running). */
  readonly live: boolean;
  readonly before: readonly PoisonAccess[];
  readonly after: readonly PoisonAccess[];
}

const MiB = 1024 * 1024;
const SLOT_PAGES = 1024;
/** The pages the accesses touch: both ends of the first 2 MiB, its neighbour, and the next huge page's first pages. */
export const HOT = [0, 1, 2, 511, 512, 513] as const satisfies { readonly length: typeof POISON_HOT_PAGES };
/** The pages a scenario may poison (indexes into HOT): one inside the first huge page, the second huge page's first. */
export const POISONABLE = [1, 4] as const;
const poisonedGfn = (sc: PoisonScenario): number => HOT[sc.poison]!;
const contentOf = (i: number): number => 0x10 + i;

const MAPS: Readonly<Record<PoisonBacking, string>> = { anon: "m0", hugetlb: "m1", gmem: "m2" };
const mapOf = (b: PoisonBacking): string => MAPS[b];
const HUGE = 2 * MiB;

/** The memory behind the slot: anonymous, a 2 MiB hugetlbfs memfd, or an MMAP | INIT_SHARED guest_memfd, mapped. */
function memoryOps(b: PoisonBacking): Op[] {
  const map = mapOf(b);
  switch (b) {
    case "anon":
      return [{ op: "mmap", map, file: "anon", offset: 0, length: 4 * MiB }];
    case "hugetlb":
      return [
        { op: "memfd", file: "f0", size: 4 * MiB, hugetlb: "2M" },
        { op: "mmap", map, file: "f0", offset: 0, length: 4 * MiB, shared: true },
      ];
    case "gmem":
      return [
        { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * MiB, flags: ["MMAP", "INIT_SHARED"] },
        { op: "gmem_mmap", gmem: "g0", map, offset: 0, length: 4 * MiB, shared: true },
      ];
  }
}

/** The VM, the 4 MiB slot 0 at gpa 0 (USERFAULT on when live), the hot pages written through the host mapping. */
function setupOps(sc: PoisonScenario): Op[] {
  const map = mapOf(sc.backing);
  return [
    { op: "create_vm", vm: "v0" },
    ...memoryOps(sc.backing),
    slotOp(sc, 0, 0, SLOT_PAGES, 0, sc.live),
    ...HOT.map((g, i): Op => ({ op: "access", map, offset: g * PAGE_SIZE, kind: "write", byte: contentOf(i) })),
  ];
}

/** A slot of the backing from `hvaPage` on; a guest_memfd slot takes the same page as its guest_memfd_offset (GMEM_ONLY). */
function slotOp(sc: PoisonScenario, slot: number, gfn: number, npages: number, hvaPage: number, userfault: boolean): OpOf<"set_memory_region"> {
  const gmem = sc.backing === "gmem";
  return {
    op: "set_memory_region",
    vm: "v0",
    slot,
    flags: [...(gmem ? (["GUEST_MEMFD"] as const) : []), ...(userfault ? (["USERFAULT"] as const) : [])],
    guest_phys_addr: gfn * PAGE_SIZE,
    memory_size: npages * PAGE_SIZE,
    userspace: mapOf(sc.backing),
    userspace_offset: hvaPage * PAGE_SIZE,
    ...(gmem ? { guest_memfd: "g0", guest_memfd_offset: hvaPage * PAGE_SIZE } : {}),
  };
}

const toggle = (sc: PoisonScenario, on: boolean): Op => slotOp(sc, 0, 0, SLOT_PAGES, 0, on);
const RESCAN: Op = { op: "userfault_rescan", vm: "v0", slot: 0 };
const bit = (g: number): Op => ({ op: "userfault_set", vm: "v0", slot: 0, gfn_offset: g, npages: 1 });

/** What the VMM does once it learns gfn is poisoned, by strategy; the seeded VMM mistakes sit at their places. */
export function strategyOps(sc: PoisonScenario, bugs: Bugs): Op[] {
  const g = poisonedGfn(sc);
  switch (sc.strategy) {
    case "hole": {
      // Delete the slot and re-create its two neighbours around the page (Sean: "punch a hole in the memslot").
      const rightStart = bugs.has("poison-hole-covers-gfn") ? g : g + 1;
      const rightHva = bugs.has("poison-hole-shifted-hva") ? rightStart + 1 : rightStart;
      return [
        { ...slotOp(sc, 0, 0, SLOT_PAGES, 0, false), memory_size: 0 },
        slotOp(sc, 0, 0, g, 0, false),
        slotOp(sc, 1, rightStart, SLOT_PAGES - rightStart, rightHva, false),
      ];
    }
    case "userfault":
      // Mark the page and make KVM see it: a live slot needs USERFAULT off and on again (the zap of the 0->1 toggle).
      if (sc.live && bugs.has("poison-live-bit-no-toggle")) return [bit(g)];
      return sc.live ? [bit(g), toggle(sc, false), toggle(sc, true)] : [bit(g), toggle(sc, true)];
    case "userfault-bit":
      return sc.live ? [bit(g)] : [bit(g), toggle(sc, true)];
    case "uffd-poison": {
      // UFFDIO_POISON needs a none PTE: drop the page first. hugetlbfs takes only whole huge pages, so a VMM that must
      // poison gets the 4 KiB refused (EINVAL) and falls back to the huge page around it. On guest_memfd it takes the
      // 4 KiB (uffd on guest_memfd: mfill_atomic_pte_poison serves every non-hugetlb VMA, vm_uffd_ops unasked).
      const map = mapOf(sc.backing);
      const ops: Op[] = [
        { op: "uffd_open", uffd: "u0", features: [] },
        { op: "uffd_register", uffd: "u0", map, offset: 0, len: 4 * MiB, mode: ["MISSING"] },
        { op: "madvise", map, offset: g * PAGE_SIZE, len: PAGE_SIZE, advice: "DONTNEED" },
        { op: "uffdio_poison", uffd: "u0", map, offset: g * PAGE_SIZE, len: PAGE_SIZE },
      ];
      if (sc.backing !== "hugetlb") return ops;
      const start = Math.floor((g * PAGE_SIZE) / HUGE) * HUGE;
      return [
        ...ops,
        { op: "madvise", map, offset: start, len: HUGE, advice: "DONTNEED" },
        { op: "uffdio_poison", uffd: "u0", map, offset: start, len: HUGE },
      ];
    }
    case "rescan":
      // The proposed ioctl unmaps exactly the marked pages; it refuses a slot without USERFAULT (EINVAL), where the
      // 0->1 toggle is unavoidable.
      return sc.live ? [bit(g), RESCAN] : [bit(g), RESCAN, toggle(sc, true)];
  }
}

const accessOp = (a: PoisonAccess): Op => {
  const gpa = HOT[a.page]! * PAGE_SIZE;
  const kind = a.write ? "write" : "read";
  return a.who === "guest"
    ? { op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind, ...(a.write ? { byte: a.byte } : {}) }
    : { op: "kvm_access", vm: "v0", vcpu: 0, gpa, kind, ...(a.write ? { byte: a.byte } : {}) };
};

const isOk = (o: Outcome): boolean => "result" in o && o.result === "ok";
const valueOf = (o: Outcome): number | undefined => ("result" in o && o.result === "ok" && "value" in o ? (o.value ?? undefined) : undefined);

/** A property a run broke: which, at which step, and what was answered. */
export interface Violation {
  readonly property: PoisonProperty;
  readonly step: number;
  readonly detail: string;
  readonly actual: Outcome;
}

/** Counts over the strategy's own operations and over the accesses after it (impl/costs.ts, and the outcomes). */
export interface PoisonCosts {
  readonly strategy: Partial<CostCounts>;
  readonly exits: { memoryFault: number; mmio: number; sigbus: number; efault: number; refaults: number };
}

/** The strategy for one scenario: setup, accesses before, the strategy, accesses after; judged as it goes. */
export class PoisonVmm {
  readonly checker: Checker;
  readonly violations: Violation[] = [];
  private readonly bugs: Bugs;
  private strategyCost: Partial<CostCounts> = {};
  private readonly exits = { memoryFault: 0, mmio: 0, sigbus: 0, efault: 0, refaults: 0 };

  constructor(
    config: Config,
    readonly sc: PoisonScenario,
    private readonly judged: readonly PoisonProperty[] | "all" = CLAIMS[sc.strategy][sc.backing],
    private readonly checks: Checks = ALL_CHECKS,
    stats?: Stats,
  ) {
    this.checker = new Checker(config, checks, stats);
    this.bugs = bugsOf(config.bugs);
  }

  async run(): Promise<void> {
    const sc = this.sc;
    await this.checker.applyAll(setupOps(sc));
    const expected = HOT.map((_, i) => contentOf(i));
    for (const a of sc.before) {
      await this.checker.apply(accessOp(a));
      if (a.write && isOk(this.checker.trace.at(-1)!.impl)) expected[a.page] = a.byte;
    }
    const before = this.checker.costs();
    await this.checker.applyAll(strategyOps(sc, this.bugs));
    const after = this.checker.costs();
    if (before !== undefined && after !== undefined) {
      this.strategyCost = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof CostCounts]]));
    }
    for (const a of sc.after) {
      await this.checker.apply(accessOp(a));
      const rec = this.checker.trace.at(-1)!;
      this.count(rec.impl, rec.fired);
      if (a.page === sc.poison) this.judgePoisoned(a, rec.impl);
      else if (a.write) {
        if (isOk(rec.impl)) expected[a.page] = a.byte;
        else this.violate(POISON_PROPERTIES.others, rec.impl, `a ${a.who} write to page ${HOT[a.page]} (not poisoned) did not complete`);
      } else if (valueOf(rec.impl) !== expected[a.page]) {
        this.violate(POISON_PROPERTIES.others, rec.impl, `a ${a.who} read of page ${HOT[a.page]} (not poisoned) should give ${expected[a.page]}`);
      }
    }
  }

  costs(): PoisonCosts {
    return { strategy: this.strategyCost, exits: { ...this.exits } };
  }

  private judgePoisoned(a: PoisonAccess, o: Outcome): void {
    if (!isOk(o)) return;
    const property = a.who === "guest" ? POISON_PROPERTIES.guest : POISON_PROPERTIES.kvm;
    const what = a.who === "guest" ? "the guest" : "KVM's own access";
    this.violate(property, o, `${what} ${a.write ? "wrote" : "read"} poisoned page ${HOT[a.page]} (${this.sc.strategy} on ${this.sc.backing}${this.sc.live ? ", live USERFAULT slot" : ""})`);
  }

  private count(o: Outcome, fired: readonly string[]): void {
    if ("exit" in o && o.exit === "memory_fault") this.exits.memoryFault++;
    else if ("exit" in o && o.exit === "mmio") this.exits.mmio++;
    else if ("result" in o && o.result === "SIGBUS") this.exits.sigbus++;
    else if ("errno" in o && o.errno === "EFAULT") this.exits.efault++;
    if (fired.includes("fault.hva-map") || fired.includes("fault.gmem-map")) this.exits.refaults++;
  }

  private violate(property: PoisonProperty, actual: Outcome, detail: string): void {
    const v: Violation = { property, step: this.checker.ops.length - 1, detail, actual };
    this.violations.push(v);
    if (this.judged !== "all" && this.judged.includes(property) && checksInvariant(this.checks, property)) {
      throw new PropertyFailure({ property, step: v.step, expected: "no access completes on the poisoned page; the others keep theirs", actual, detail }, [...this.checker.ops]);
    }
  }
}
