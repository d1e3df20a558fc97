// Post-copy on every backing under the race harness (issue 19): the VMM's background fetcher, its fault handlers (one
// thread, or one per vCPU), four vCPUs reading (several on one page), KVM's own access on the vCPU past the guest's, a
// VMM thread, the source sending a page again and the balloon taking one back, as actors whose kernel calls interleave
// at every yield point. The programs are fixed in advance, so who fills a page is decided up front: the fetcher claimed
// the first pages of its order before any fault, a handler the other pages it is asked for (the fetcher skips those),
// and a handler asked for a page someone else fills only wakes its waiters. On anonymous memory everyone UFFDIO_COPYs
// and the kernel's EEXIST decides, as QEMU does. A teardown, once everything ran, reads guest memory back and re-enters
// every thread: nothing may still sleep or exit.
import fc from "fast-check";
import { PAGE_SIZE } from "../../model/consts.js";
import { bugsOf, type Bugs } from "../../impl/bugs.js";
import type { Op } from "../../schema/ops.js";
import { SETUP, TEARDOWN, type RaceActor } from "../concurrent/harness.js";
import { backingOf, isCurrent, offsetsOf, setupFor, usesUserfault, type Backing } from "./backing.js";
import type { BackingName, PostcopyEvent, PostcopyScenario } from "./scenario.js";

export interface Read {
  readonly page: number;
  readonly offset: number;
}

export interface ShapeRace {
  /** One read per vCPU: a vCPU asleep in a userfault runs nothing else until it is woken. */
  readonly reads: readonly Read[];
  /** KVM's own read for the vCPU past the guest's (through the hva: KVM Userfault does not see it). */
  readonly kvm?: Read & { readonly how: "copy" | "emulate" | "fetch" };
  /** A VMM thread's read through the registered mapping. */
  readonly vmm?: Read;
  /** Pages at the head of the fetch order the fetcher claimed before any fault. */
  readonly head: number;
  /** Where in its program the fetcher receives the re-sent page (the scenario's `resend` event). */
  readonly resendAt: number;
  /** Anonymous memory: the fetcher ends post-copy by unregistering (mmap_lock for write, against late COPYs). */
  readonly end: boolean;
}

/** The page of the scenario's first event of a kind (the race's re-sent page, its ballooned page). */
const eventPage = (sc: PostcopyScenario, kind: "resend" | "balloon"): number | undefined => {
  const e = sc.events.find((x) => x.kind === kind);
  return e === undefined || !("page" in e) ? undefined : e.page;
};

/** The page the balloon took back: nobody reads it, and what it holds at the end is not checked. */
export const balloonedPage = (sc: PostcopyScenario): number | undefined => (backingOf(sc).balloon === undefined ? undefined : eventPage(sc, "balloon"));

/** The thread name KVM's own accesses run as: the vCPU past the guest's. */
export const kvmThread = (vcpus: number): string => `v0.vcpu${vcpus}`;

/** The VMM's programs for one scenario: how each party fills, claims or merely wakes a page. */
class Programs {
  private readonly b: Backing;
  private readonly bugs: Bugs;
  private readonly userfault: boolean;

  constructor(private readonly sc: PostcopyScenario, bugList: readonly string[]) {
    this.b = backingOf(sc);
    this.bugs = bugsOf(bugList);
    this.userfault = usesUserfault(sc);
  }

  private at(p: number): { uffd: string; map: string; offset: number; len: number } {
    return { uffd: "u0", map: "m0", offset: p * this.b.unit, len: this.b.unit };
  }

  private clear(p: number): Op[] {
    const gfns = this.b.unit / PAGE_SIZE;
    return this.userfault ? [{ op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: p * gfns, npages: gfns }] : [];
  }

  private copy(p: number, wake: boolean): Op {
    return { op: "uffdio_copy", ...this.at(p), byte: this.sc.source[p]!, mode: wake ? [] : ["DONTWAKE" as const] };
  }

  /**
   * Filling page p. On anonymous memory the fetcher places pages without a wakeup (nobody may wait) and a handler
   * copies with one, then wakes anyway: its EEXIST means someone else placed the page, maybe with DONTWAKE. Elsewhere
   * the contents go in through the alias (nothing when the pre-copied page is current), then the bit, then CONTINUE.
   */
  fill(p: number, handler: boolean): Op[] {
    if (this.b.fill === "copy") {
      if (!handler) return isCurrent(this.sc, p) ? [] : [this.copy(p, false), ...this.clear(p)];
      return [this.copy(p, true), { op: "uffdio_wake", ...this.at(p) }, ...this.clear(p)];
    }
    const write: Op[] = isCurrent(this.sc, p) ? [] : [{ op: "write_alias", map: this.b.alias!, offset: p * this.b.unit, byte: this.sc.source[p]!, len: this.b.unit }];
    // The default shape's setup leaves a current page's bit set (props/postcopy/scenario.ts): clear it in any case.
    return [...write, ...this.clear(p), { op: "uffdio_continue", ...this.at(p), mode: [] }];
  }

  /**
   * A handler asked for a page another thread fills: it waits for that fill and wakes its waiters. The seeded
   * `postcopy-huge-continue-partial` CONTINUEs as soon as the page is in the page cache, while the filler may still
   * be copying into it.
   */
  follow(p: number): Op[] {
    if (this.bugs.has("postcopy-huge-continue-partial")) return [{ op: "uffdio_continue", ...this.at(p), mode: [] }];
    return [{ op: "uffdio_wake", ...this.at(p) }];
  }

  /** The source sends page p again: UFFDIO_COPY meets EEXIST on anonymous memory; elsewhere the VMM drops it. */
  resend(p: number): Op[] {
    if (this.b.fill === "copy") return [this.copy(p, false)];
    if (!this.bugs.has("postcopy-resend-overwrites")) return [];
    return [{ op: "write_alias", map: this.b.alias!, offset: p * this.b.unit, byte: this.sc.source[p]!, len: this.b.unit }];
  }

  /** The end of post-copy on anonymous memory: every page placed, the range unregistered. */
  end(): Op[] {
    return this.b.fill === "copy" ? [{ op: "uffd_unregister", uffd: "u0", map: "m0", offset: 0, len: this.sc.pages * this.b.unit }] : [];
  }

  /** A read of guest memory by the VMM once post-copy is over (through the alias; m0 itself on anonymous memory). */
  finalRead(offset: number): Op {
    return this.b.fill === "copy" ? { op: "access", map: "m0", offset, kind: "read", id: "final" } : { op: "read_alias", map: this.b.alias!, offset };
  }
}

const unique = (xs: readonly (number | undefined)[]): number[] => [...new Set(xs.filter((x): x is number => x !== undefined))];

/** The actors of one scenario: setup, fetcher, handlers, vCPUs, KVM, a VMM thread, the balloon, and the teardown. */
export function shapeActors(sc: PostcopyScenario, r: ShapeRace, bugs: readonly string[]): RaceActor[] {
  const prog = new Programs(sc, bugs);
  const b = backingOf(sc);
  const n = r.reads.length;
  const handlers = sc.handlers === "per-vcpu" ? n : 1;
  // A handler hears of its vCPUs' faults; handler 0 also of KVM's and the VMM thread's (uffd messages).
  const demand = Array.from({ length: handlers }, (_, h) =>
    unique([...r.reads.filter((_, v) => v % handlers === h).map((x) => x.page), ...(h === 0 ? [r.kvm?.page, r.vmm?.page] : [])]),
  );
  const fetcherFirst = new Set(sc.fetchOrder.slice(0, r.head));
  const owner = new Map<number, number>();
  for (const [h, pages] of demand.entries()) for (const p of pages) if (!fetcherFirst.has(p) && !owner.has(p)) owner.set(p, h);
  const resent = eventPage(sc, "resend");
  const fetcher: Op[] = [];
  sc.fetchOrder.forEach((p, i) => {
    if (i === r.resendAt && resent !== undefined) fetcher.push(...prog.resend(resent));
    if (b.fill === "copy" || !owner.has(p)) fetcher.push(...prog.fill(p, false));
  });
  if (r.resendAt >= sc.fetchOrder.length && resent !== undefined) fetcher.push(...prog.resend(resent));
  if (r.end) fetcher.push(...prog.end());
  const handler = (h: number): Op[] => demand[h]!.flatMap((p) => (b.fill === "copy" || owner.get(p) === h ? prog.fill(p, true) : prog.follow(p)));
  const ballooned = balloonedPage(sc);
  const gpa = (x: Read): number => x.page * b.unit + x.offset;
  const vcpuRead = (v: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: v, gpa: gpa(r.reads[v]!), kind: "read" });
  const kvm = r.kvm;
  const kvmRead: Op | undefined =
    kvm === undefined ? undefined : { op: "kvm_access", vm: "v0", vcpu: n, gpa: gpa(kvm), kind: kvm.how === "fetch" ? "exec" : "read", ...(kvm.how === "emulate" ? { emulate: true } : {}) };
  const last = offsetsOf(b).at(-1)!;
  const teardown: Op[] = [
    ...Array.from({ length: sc.pages }, (_, p) => p).flatMap((p) => (p === ballooned ? [] : [prog.finalRead(p * b.unit), prog.finalRead(p * b.unit + last)])),
    ...r.reads.flatMap((_, v): Op[] => [{ op: "wake_check", id: `v0.vcpu${v}` }, vcpuRead(v)]),
    ...(kvm === undefined ? [] : [{ op: "wake_check", id: kvmThread(n) } satisfies Op]),
    ...(r.vmm === undefined ? [] : [{ op: "wake_check", id: "t0" } satisfies Op]),
  ];
  return [
    { name: SETUP, steps: setupFor(sc, bugs) },
    { name: "fetcher", steps: fetcher },
    ...Array.from({ length: handlers }, (_, h) => ({ name: handlers === 1 ? "handler" : `handler${h}`, steps: handler(h) })),
    ...r.reads.map((_, v) => ({ name: `vcpu${v}`, steps: [vcpuRead(v)] })),
    ...(kvmRead === undefined ? [] : [{ name: "kvm", steps: [kvmRead] }]),
    ...(r.vmm === undefined ? [] : [{ name: "vmm", steps: [{ op: "access", map: "m0", offset: gpa(r.vmm), kind: "read", id: "t0" } satisfies Op] }]),
    ...(ballooned === undefined ? [] : [{ name: "balloon", steps: [{ op: "madvise", map: "m0", offset: ballooned * b.unit, len: b.unit, advice: b.balloon! } satisfies Op] }]),
    { name: TEARDOWN, steps: teardown },
  ].filter((a) => a.steps.length > 0);
}

/**
 * A scenario of a backing for the race: 4 vCPUs, one read each (mostly on pages 0 and 1), the VMM's choices drawn;
 * KVM's own access and a VMM thread in some runs unless `others` is false (on 2 MiB pages, where every model step
 * the linearizability search tries copies page data, fewer overlapping operations keep a run in seconds).
 */
export function shapeRaceArbitrary(backing: BackingName, maxPages: number, others = true): fc.Arbitrary<{ sc: PostcopyScenario; shape: ShapeRace }> {
  const b = backingOf({ pages: 1, source: [], precopied: [], fetchOrder: [], events: [], backing });
  const offsets = offsetsOf(b);
  const page = fc.oneof({ weight: 3, arbitrary: fc.nat({ max: Math.min(1, maxPages - 1) }) }, { weight: 1, arbitrary: fc.nat({ max: maxPages - 1 }) });
  const read = fc.record({ page, offset: fc.constantFrom(...offsets) });
  const copied = fc.oneof({ weight: 2, arbitrary: fc.constant<"none" | "stale" | "current">("none") }, { weight: 1, arbitrary: fc.constantFrom<"stale" | "current">("stale", "current") });
  return fc
    .record({
      pages: fc.integer({ min: Math.min(2, maxPages), max: maxPages }),
      source: fc.uniqueArray(fc.integer({ min: 1, max: 255 }), { minLength: maxPages, maxLength: maxPages }),
      copied: fc.array(copied, { minLength: maxPages, maxLength: maxPages }),
      stale: fc.integer({ min: 1, max: 255 }),
      fetchOrder: fc.shuffledSubarray([...Array(maxPages).keys()], { minLength: maxPages, maxLength: maxPages }),
      userfault: fc.boolean(),
      handlers: fc.constantFrom<"one" | "per-vcpu">("one", "per-vcpu"),
      reads: fc.array(read, { minLength: 4, maxLength: 4 }),
      kvm: others ? fc.option(fc.record({ page, offset: fc.constantFrom(...offsets), how: fc.constantFrom<"copy" | "emulate" | "fetch">("copy", "emulate", "fetch") }), { freq: 3 }) : fc.constant(null),
      vmm: others ? fc.option(read, { freq: 3 }) : fc.constant(null),
      head: fc.nat({ max: maxPages }),
      resend: fc.option(fc.record({ page, at: fc.nat({ max: maxPages }) }), { freq: 2 }),
      balloon: fc.boolean(),
      end: fc.boolean(),
    })
    .map((d) => {
      const at = (p: number): number => p % d.pages;
      const reads = d.reads.map((x) => ({ ...x, page: at(x.page) }));
      const kvm = d.kvm === null ? undefined : { ...d.kvm, page: at(d.kvm.page) };
      const vmm = d.vmm === null ? undefined : { ...d.vmm, page: at(d.vmm.page) };
      // The balloon takes a page back that nobody touches (the guest freed it).
      const touched = new Set([...reads.map((x) => x.page), kvm?.page, vmm?.page]);
      const free = [...Array(d.pages).keys()].find((p) => !touched.has(p));
      const events: PostcopyEvent[] = [
        ...(d.resend === null ? [] : [{ kind: "resend", page: at(d.resend.page) } as const]),
        ...(d.balloon && free !== undefined && b.balloon !== undefined ? [{ kind: "balloon", page: free } as const] : []),
      ];
      const source = d.source.slice(0, d.pages);
      const sc: PostcopyScenario = {
        pages: d.pages,
        source,
        precopied: d.copied.slice(0, d.pages).map((c, p) => (c === "none" ? null : c === "current" || d.stale === source[p] ? source[p]! : d.stale)),
        fetchOrder: d.fetchOrder.filter((p) => p < d.pages),
        events,
        backing,
        userfault: d.userfault,
        vcpus: reads.length,
        handlers: d.handlers,
      };
      const shape: ShapeRace = {
        reads,
        ...(kvm === undefined ? {} : { kvm }),
        ...(vmm === undefined ? {} : { vmm }),
        head: Math.min(d.head, d.pages),
        resendAt: d.resend === null ? 0 : Math.min(d.resend.at, d.pages),
        end: d.end && b.fill === "copy",
      };
      return { sc, shape };
    });
}
