// The post-copy scenario family: a VM restored from a snapshot (or migrated post-copy) with its memory on one backing
// (guest_memfd by default; props/postcopy/backing.ts has the others), KVM Userfault bits on every page not fetched yet
// (unless the scenario goes without), and the VMM's own accesses going through uffd faults on its mapping. A scenario
// is data: the source snapshot, the pre-copied pages (stale, or already current), the background fetch order and the
// interleaving of guest accesses, VMM threads and the VMM's tasks.
import fc from "fast-check";
import { PAGE_SIZE } from "../../model/consts.js";
import { bugsOf, type Bugs } from "../../impl/bugs.js";
import type { Op } from "../../schema/ops.js";
import type { POSTCOPY_BACKINGS, Scenario, UFFD_HANDLERS } from "../../schema/scenario.js";

export type BackingName = (typeof POSTCOPY_BACKINGS)[number];
export type UffdHandler = (typeof UFFD_HANDLERS)[number];

export type PostcopyEvent =
  /** A vCPU touches a page (KVM_RUN; a USERFAULT exit goes to the VMM, and the vCPU retries later). */
  | { readonly kind: "guest"; readonly vcpu?: number; readonly write: boolean; readonly page: number; readonly offset: number; readonly byte: number }
  /** A VMM thread (device emulation) touches guest memory through the registered mapping. */
  | { readonly kind: "vmm"; readonly thread: number; readonly write: boolean; readonly page: number; readonly offset: number; readonly byte: number }
  /**
   * KVM itself touches guest memory on behalf of vCPU 1 (kvm_vcpu_read_guest / kvm_vcpu_write_guest through the hva: PV
   * clock, steal time, nested state; or the emulator's load, store or instruction fetch). KVM Userfault does not see it;
   * it sleeps in the VMM's userfaultfd where the page is missing.
   */
  | { readonly kind: "kvm"; readonly how: "copy" | "emulate" | "fetch"; readonly write: boolean; readonly page: number; readonly offset: number; readonly byte: number }
  /** The background fetcher does its next step. */
  | { readonly kind: "fetcher" }
  /** A fault handler (vCPU exits and uffd messages; one thread, or one per vCPU) does its next step. */
  | { readonly kind: "handler"; readonly thread?: number }
  /** The source sends the page again (a pre-copy send still in flight at the switch-over). */
  | { readonly kind: "resend"; readonly page: number }
  /** The guest's balloon gives the page back: MADV_DONTNEED (anon) or MADV_REMOVE, and the VMM's UFFD_EVENT_REMOVE. */
  | { readonly kind: "balloon"; readonly page: number };

export interface PostcopyScenario {
  readonly pages: number;
  /** The source snapshot: each page holds one byte value everywhere. */
  readonly source: readonly number[];
  /** Pages copied before the switch-over: a stale byte, or the source's own (already current); null: not copied. */
  readonly precopied: readonly (number | null)[];
  readonly fetchOrder: readonly number[];
  readonly events: readonly PostcopyEvent[];
  /** guest_memfd 4 KiB when absent. */
  readonly backing?: BackingName;
  /** KVM Userfault on the memslot; true when absent. */
  readonly userfault?: boolean;
  readonly vcpus?: number;
  readonly handlers?: "one" | "per-vcpu";
  /** The design the uffd handler was written for (props/postcopy/backing.ts); "vm-uffd-ops" when absent. */
  readonly handler?: UffdHandler;
}

/** The scenario as a counterexample file holds it (schema/scenario.ts, `postcopy`). */
export const postcopyInput = (sc: PostcopyScenario): NonNullable<Scenario["postcopy"]> => ({
  pages: sc.pages,
  source: [...sc.source],
  precopied: [...sc.precopied],
  fetchOrder: [...sc.fetchOrder],
  events: sc.events.map((e) => ({ ...e })),
  ...(sc.backing === undefined ? {} : { backing: sc.backing }),
  ...(sc.userfault === undefined ? {} : { userfault: sc.userfault }),
  ...(sc.vcpus === undefined ? {} : { vcpus: sc.vcpus }),
  ...(sc.handlers === undefined ? {} : { handlers: sc.handlers }),
  ...(sc.handler === undefined ? {} : { handler: sc.handler }),
});

export const OFFSETS = [0, 8, PAGE_SIZE - 1] as const;

/**
 * The VM, its guest_memfd (mapped at m0 for the VMM), the memslot with every userfault bit set, the uffd (the default
 * shape). The seeded VMM mistake `postcopy-kvm-userfault-only` registers no userfaultfd: it counts on KVM Userfault to
 * catch every access.
 */
export function setupOps(sc: PostcopyScenario, bugs: Bugs = bugsOf([])): Op[] {
  const len = sc.pages * PAGE_SIZE;
  return [
    { op: "create_vm", vm: "v0" },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: len, flags: ["MMAP", "INIT_SHARED"] },
    { op: "gmem_mmap", gmem: "g0", map: "m0", offset: 0, length: len },
    { op: "set_memory_region", vm: "v0", slot: 0, flags: ["GUEST_MEMFD", "USERFAULT"], guest_phys_addr: 0, memory_size: len, userspace: "m0", guest_memfd: "g0", guest_memfd_offset: 0 },
    { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: sc.pages },
    { op: "uffd_open", uffd: "u0", features: [] },
    ...(bugs.has("postcopy-kvm-userfault-only") ? [] : [{ op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len, mode: ["MISSING", "MINOR"] } satisfies Op]),
    ...sc.precopied.flatMap((b, p): Op[] => (b === null ? [] : [{ op: "write_alias", map: "m0", offset: p * PAGE_SIZE, byte: b, len: PAGE_SIZE }])),
  ];
}

const page = (n: number): fc.Arbitrary<number> => fc.nat({ max: n - 1 });

export function eventArbitrary(pages: number, threads: number, guestWrites: boolean): fc.Arbitrary<PostcopyEvent> {
  const access = fc.record({ write: guestWrites ? fc.boolean() : fc.constant(false), page: page(pages), offset: fc.constantFrom(...OFFSETS), byte: fc.integer({ min: 1, max: 255 }) });
  return fc.oneof(
    { weight: 4, arbitrary: access.map((a): PostcopyEvent => ({ kind: "guest", ...a })) },
    { weight: 3, arbitrary: fc.tuple(access, fc.nat({ max: threads - 1 })).map(([a, thread]): PostcopyEvent => ({ kind: "vmm", thread, ...a })) },
    { weight: 2, arbitrary: fc.tuple(access, fc.constantFrom("copy", "emulate", "fetch") as fc.Arbitrary<"copy" | "emulate" | "fetch">).map(([a, how]): PostcopyEvent => ({ kind: "kvm", how, ...a, write: how !== "fetch" && a.write })) },
    { weight: 3, arbitrary: fc.constant<PostcopyEvent>({ kind: "fetcher" }) },
    { weight: 3, arbitrary: fc.constant<PostcopyEvent>({ kind: "handler" }) },
  );
}

/**
 * Snapshot contents, stale pre-copied pages (some), a fetch order and up to `maxEvents` interleaved events. Every
 * array is drawn for `maxPages` and cut to `pages` afterwards (no chain), so the page count shrinks on its own.
 */
export function scenarioArbitrary(opts: { readonly maxPages: number; readonly maxEvents: number; readonly threads: number; readonly guestWrites: boolean }): fc.Arbitrary<PostcopyScenario> {
  const max = opts.maxPages;
  return fc
    .record({
      pages: fc.integer({ min: 2, max }),
      source: fc.uniqueArray(fc.integer({ min: 1, max: 255 }), { minLength: max, maxLength: max }),
      precopied: fc.array(fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }) }), { minLength: max, maxLength: max }),
      fetchOrder: fc.shuffledSubarray([...Array(max).keys()], { minLength: max, maxLength: max }),
      events: fc.array(eventArbitrary(max, opts.threads, opts.guestWrites), { maxLength: opts.maxEvents }),
    })
    .map(({ pages, source, precopied, fetchOrder, events }) => ({
      pages,
      source: source.slice(0, pages),
      precopied: precopied.slice(0, pages).map((b, p) => (b === source[p] ? null : b)),
      fetchOrder: fetchOrder.filter((p) => p < pages),
      events: events.map((e) => (e.kind === "guest" || e.kind === "vmm" || e.kind === "kvm" ? { ...e, page: e.page % pages } : e)),
    }));
}
