// The library of proved scopes: per race suite, its layout and configuration with explicit actors small enough
// that every interleaving is explored in well under a minute, and the seeded races the scope refutes. Each
// scope's actors are the shape of the suite's shrunk counterexamples, so the scope reaches the suite's races.
// The post-copy VMM's suite interleaves whole operations of its actors: its scope is every short event sequence.
import type { Config } from "../../schema/config.js";
import type { Checks } from "../checker.js";
import type { MemslotFlagName, Op } from "../../schema/ops.js";
import { ANON, GMEM, HUGETLB, regionOp, type Layout } from "../layouts.js";
import { SETUP, type RaceActor, type RaceFailure, type RaceRun } from "../concurrent/harness.js";
import { CONCURRENT_SUITES } from "../concurrent/suites.js";
import { DIRTY_LOG_RACES } from "../dirty-log.js";
import { EXIT_PROGRESS_RUN, PROGRESS_RACES, PROGRESS_SCOPES } from "../progress-races.js";
import type { ConcurrentSuite } from "../concurrent/explore.js";
import { GMEM_RACES, RFC_NO_LOCK_RACE } from "../gmem/races.js";
import { SECRET_RACE } from "../gmem/secret.js";
import { CONVERSION_PROTOCOL_RACE } from "../gmem/conversion.js";
import {
  checkPostcopyRun,
  POSTCOPY_KVM_RACE,
  POSTCOPY_RACE,
  POSTCOPY_RACE_ARM64,
  POSTCOPY_SHAPE_RACES,
  raceActors,
  type PostcopyRaceSuite,
  type RacePostcopy,
} from "../postcopy/race.js";
import type { BackingName, PostcopyEvent, PostcopyScenario } from "../postcopy/scenario.js";
import { POSTCOPY_SUITES } from "../postcopy/suite.js";
import { HOST_FAULT_RACE, UFFD_RACE } from "../uffd/races.js";
import { POISON_RACES } from "../poison/race.js";

const PAGE = 4096;

interface Scope {
  /** The scope's name: its suite's, and a suffix where the suite has more than one scope. */
  readonly name: string;
  readonly suite: string;
  readonly description: string;
  readonly config: Config;
  /** The seeded races this scope refutes (impl/bugs.ts, or the suite's VMM program). */
  readonly refutes: readonly string[];
}

/** Actors with explicit operations under the race harness, every yield point an interleaving point. */
export interface RaceScope extends Scope {
  readonly kind: "race";
  /** The actors, the setup first, with the given seeded bugs on (a VMM program may depend on them). */
  actors(bugs: readonly string[]): RaceActor[];
  /** A check of the whole run on top of the harness's (the post-copy reads, exit progress). */
  readonly check?: (run: RaceRun) => RaceFailure | undefined;
  /** The harness's checks, when not all: a design's race leaves out what the design breaks on purpose. */
  readonly checks?: Checks;
  /** The post-copy race's scenario, which its counterexamples carry so that replay checks the reads too. */
  readonly postcopy?: PostcopyScenario;
}

/** The post-copy VMM's actors, interleaved at whole operations: every sequence of at most `length` events. */
export interface EventScope extends Scope {
  readonly kind: "events";
  /** The layout (pages, source, pre-copied pages, fetch order); its own events are replaced by each sequence. */
  readonly sc: PostcopyScenario;
  readonly alphabet: readonly PostcopyEvent[];
  readonly length: number;
}

export type ProofScope = RaceScope | EventScope;

const vcpu = (n: number, gpa: number, kind: "read" | "write" = "read", priv?: boolean): Op => ({
  op: "vcpu_access",
  vm: "v0",
  vcpu: n,
  gpa,
  kind,
  ...(kind === "write" ? { byte: 0x5a } : {}),
  ...(priv === undefined ? {} : { private: priv }),
});

function fromSuite(suite: ConcurrentSuite, actors: Record<string, readonly Op[]>, refutes: readonly string[], description: string): RaceScope {
  return {
    kind: "race",
    name: suite.name,
    suite: suite.name,
    description,
    config: suite.config,
    actors: () => [{ name: SETUP, steps: suite.setup }, ...Object.entries(actors).map(([name, steps]) => ({ name, steps }))],
    refutes,
  };
}

const RACE_SUITES: readonly ConcurrentSuite[] = [...CONCURRENT_SUITES, ...GMEM_RACES, UFFD_RACE, HOST_FAULT_RACE, RFC_NO_LOCK_RACE, ...POISON_RACES];

const suite = (name: string): ConcurrentSuite => {
  const s = RACE_SUITES.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no race suite ${name}`);
  return s;
};

/** The suffixes of a race suite's other configurations: the KVM axes (props/concurrent/suites.ts), the folio sizes (props/gmem/races.ts). */
const VARIANTS = ["", "-nozap", "-arm64", "-4k", "-2m", "-1g"] as const;

/**
 * A suite's scope on every configuration the suite runs on: the same actors, given that configuration (a punch
 * spans a huge folio, arm64 has no private memory), each refuting what `refutes` lists under its suite's name.
 */
function everywhere(
  base: string,
  actors: (config: Config) => Record<string, readonly Op[]>,
  refutes: Readonly<Record<string, readonly string[]>>,
  description: string,
): RaceScope[] {
  const own = suite(base);
  return VARIANTS.flatMap((v) => RACE_SUITES.filter((x) => x.name === base + v)).map((x) =>
    fromSuite(x, actors(x.config), refutes[x.name] ?? [], description + x.description.slice(own.description.length)),
  );
}

const SLOT0 = {
  op: "set_memory_region",
  vm: "v0",
  slot: 0,
  guest_phys_addr: 0,
  memory_size: 4 * 2 ** 20,
  userspace: "m0",
  userspace_offset: 0,
} as const;
const MAKE_PRIVATE: Op = { op: "set_memory_attributes", vm: "v0", address: 0, size: PAGE, attributes: ["PRIVATE"] };

/** One page fetched while the vCPU reads it, or while a VMM thread faults on it (over a stale pre-copied byte). */
const ONE_PAGE = { pages: 1, source: [0x37], precopied: [null], fetchOrder: [0], events: [] };
const POSTCOPY_VCPU: RacePostcopy = { sc: ONE_PAGE, vcpu: [{ page: 0, offset: 0 }], vmm: [] };
const POSTCOPY_VMM: RacePostcopy = { sc: { ...ONE_PAGE, precopied: [0x11] }, vcpu: [], vmm: [0] };
/** KVM's own copy of the page for vCPU 1; apart, the guest's read with KVM_MEM_USERFAULT turned off after the fetch. */
const POSTCOPY_KVM: RacePostcopy = { sc: ONE_PAGE, vcpu: [], vmm: [], kvm: { page: 0, offset: 0, how: "copy" }, toggle: true };
const POSTCOPY_TOGGLE: RacePostcopy = { ...POSTCOPY_VCPU, toggle: true };
/**
 * One page of a backing under issue 19's race actors, one vCPU reading it through the hva (no KVM Userfault), one
 * handler: `head` 1, the fetcher claimed the page first and the handler only wakes (follows); 0, the handler fills it
 * (on anonymous memory both COPY). The teardown reads it back and re-enters the vCPU.
 */
const shaped = (backing: BackingName, head: number, precopied: number | null = null): RacePostcopy => ({
  sc: { ...ONE_PAGE, precopied: [precopied], backing, userfault: false, vcpus: 1, handlers: "one" },
  shape: { reads: [{ page: 0, offset: 0 }], head, resendAt: 1, end: false },
});
const shapeSuite = (name: string): PostcopyRaceSuite => POSTCOPY_SHAPE_RACES.find((s) => s.name === name)!;

/** The fetcher's program without its read-back of every page (`readBack` false) and the `drop`ped operations, and the actors that have steps. */
function postcopy(
  suite: PostcopyRaceSuite,
  name: string,
  r: RacePostcopy,
  refutes: readonly string[],
  description: string,
  readBack: boolean,
  drop: readonly Op["op"][] = [],
): RaceScope {
  const left = (o: Op): boolean => !drop.includes(o.op) && (readBack || o.op !== "read_alias");
  const program = (a: RaceActor): RaceActor => (a.name !== "fetcher" ? a : { ...a, steps: a.steps.filter(left) });
  return {
    kind: "race",
    name,
    suite: suite.name,
    description,
    config: suite.config,
    actors: (bugs) => raceActors(r, bugs).map(program).filter((a) => a.steps.length > 0),
    refutes,
    check: (run) => checkPostcopyRun(r.sc, run),
    postcopy: r.sc,
  };
}

/** Slot 0 of a memslot-change race's backing, with flags added, at gpa (a MOVE when it is not the slot's own). */
function slot0Of(l: Layout, flags: readonly MemslotFlagName[], gpa?: number): Op {
  const s = l.slots[0]!;
  return regionOp(s, { flags: [...s.flags, ...flags], guest_phys_addr: gpa ?? s.gpa });
}

/** Where the memslot-change races MOVE slot 0 (props/concurrent/suites.ts). */
const MOVED = 16 * 2 ** 20;

/** A vCPU read of gfn 0 on a memslot-change race's backing: the guest_memfd one made gfn 0 private on x86. */
const read0 = (l: Layout, c: Config): Op => vcpu(0, 0, "read", l === GMEM && c.arch === "x86" ? true : undefined);

/** The punch of page 0's folio: on huge folios only a folio-aligned range may be punched (props/gmem/races.ts). */
const punchLen = (c: Config): number => (c.gmemFolio === "4K" ? PAGE : c.gmemFolio === "2M" ? 2 * 2 ** 20 : 2 ** 30);

export const PROOF_SCOPES: readonly ProofScope[] = [
  ...everywhere(
    "race-userfault-enable",
    () => ({ vCPU0: [vcpu(0, 0)], VMM: [{ op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: 1 }, { ...SLOT0, flags: ["USERFAULT"] }] }),
    { "race-userfault-enable": ["userfault-enable-zap-early"], "race-userfault-enable-arm64": ["userfault-enable-no-sync"] },
    "a vCPU read of gfn 0 while the VMM sets its bit and turns KVM_MEM_USERFAULT on",
  ),
  ...everywhere(
    "race-userfault-set-live",
    () => ({ vCPU0: [vcpu(0, 2 * PAGE)], VMM: [{ op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 2, npages: 1 }, { op: "userfault_rescan", vm: "v0", slot: 0 }] }),
    { "race-userfault-set-live": ["rescan-no-invalidate"] },
    "a vCPU read of gfn 2 (unmapped) while the VMM marks it under the live USERFAULT slot and re-scans",
  ),
  ...everywhere(
    "race-userfault-clear",
    () => ({ vCPU0: [vcpu(0, PAGE)], VMM: [{ op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: 1, npages: 1 }] }),
    { "race-userfault-clear": ["userfault-double-fetch"] },
    "a vCPU read of gfn 1 while the VMM clears its userfault bit",
  ),
  ...everywhere(
    "race-memslot-delete-move",
    () => ({ vCPU0: [vcpu(0, 0)], VMM: [{ ...SLOT0, flags: [], memory_size: 0 }] }),
    {
      "race-memslot-delete-move": ["memslot-lookup-outside-srcu", "memslot-invalidate-no-sync"],
      "race-memslot-delete-move-arm64": ["arm64-fault-maps-invalid-slot"],
    },
    "a vCPU read of gfn 0 while the VMM deletes slot 0",
  ),
  fromSuite(
    suite("race-attributes"),
    { vCPU0: [vcpu(0, 0, "read", false)], VMM: [MAKE_PRIVATE] },
    ["attr-store-before-invalidate", "fault-no-invalidate-recheck"],
    "a shared vCPU read of gfn 0 while the VMM makes it private",
  ),
  ...[ANON, HUGETLB, GMEM].flatMap((l) =>
    everywhere(
      l === ANON ? "race-memslot-create" : `race-memslot-create-${l.name}`,
      (c) => ({ vCPU0: [read0(l, c)], VMM: [slot0Of(l, ["USERFAULT"])] }),
      { "race-memslot-create": ["memslot-create-bitmap-late"] },
      `a vCPU read of gfn 0 while the VMM creates slot 0 (${l.name}) with KVM_MEM_USERFAULT and no bit set`,
    ),
  ),
  // A guest_memfd slot cannot move (rule memslot.gmem-move): its flags change instead.
  ...[ANON, HUGETLB].flatMap((l) =>
    everywhere(
      l === ANON ? "race-memslot-changes" : `race-memslot-changes-${l.name}`,
      (c) => ({ vCPU0: [read0(l, c)], VMM: [slot0Of(l, [], MOVED)] }),
      { "race-memslot-changes-nozap": ["memslot-move-flush-new"] },
      `a vCPU read of gfn 0 while the VMM moves slot 0 (${l.name}) to 16 MiB`,
    ),
  ),
  // Dirty logging turned on: the commit write-protects only after the swap, so no SPTE from the old slot outlives it.
  {
    ...fromSuite(
      suite("race-memslot-changes-arm64"),
      { vCPU0: [read0(ANON, suite("race-memslot-changes-arm64").config), vcpu(0, 0, "write")], VMM: [slot0Of(ANON, ["LOG_DIRTY_PAGES"])] },
      ["dirty-log-enable-wp-early"],
      "a vCPU read, then write, of gfn 0 while the VMM turns dirty logging on for slot 0 (anon, arm64)",
    ),
    name: "race-memslot-changes-arm64:log",
  },
  ...everywhere(
    "race-memslot-changes-gmem",
    (c) => ({ vCPU0: [read0(GMEM, c)], VMM: [slot0Of(GMEM, ["USERFAULT"])] }),
    {},
    "a vCPU read of gfn 0 while the VMM turns KVM_MEM_USERFAULT on for slot 0 (gmem)",
  ),
  ...everywhere(
    "race-gmem-convert-host",
    () => ({ host: [{ op: "access", map: "m5", offset: 0, kind: "read" }], VMM: [{ op: "gmem_convert", gmem: "g0", offset: 0, size: PAGE, to: "private" }] }),
    { "race-gmem-convert-host": ["gmem-host-fault-unlocked", "gmem-convert-unlocked"] },
    "a host read fault on g0's page 0 while the VMM converts it to private",
  ),
  fromSuite(
    suite("race-gmem-convert-host-v7"),
    { host: [{ op: "access", map: "m5", offset: 0, kind: "read" }], VMM: [{ op: "gmem_convert", gmem: "g0", offset: 0, size: PAGE, to: "private" }] },
    [],
    "v7: a host read fault on g0's page 0 while the VMM converts it to private",
  ),
  ...everywhere(
    "race-gmem-convert-vcpu",
    () => ({ vCPU0: [vcpu(0, 0, "read", false)], VMM: [{ op: "gmem_convert", gmem: "g0", offset: 0, size: PAGE, to: "private" }] }),
    { "race-gmem-convert-vcpu": ["fault-seq-after-faultin"] },
    "a shared vCPU read of gfn 0 while the VMM converts the page to private",
  ),
  ...everywhere(
    "race-gmem-convert-convert",
    () => ({
      VMM0: [{ op: "gmem_convert", gmem: "g0", offset: 0, size: 2 * PAGE, to: "private" }],
      VMM1: [{ op: "gmem_convert", gmem: "g0", offset: PAGE, size: PAGE, to: "private" }],
    }),
    {},
    "two conversions to private of overlapping ranges of g0",
  ),
  ...everywhere(
    "race-gmem-punch",
    (c) => ({
      VMM: [{ op: "gmem_fallocate", gmem: "g0", mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset: 0, len: punchLen(c) }],
      host: [
        { op: "access", map: "m5", offset: 0, kind: "read" },
        { op: "access", map: "m5", offset: 0, kind: "read" },
      ],
    }),
    { "race-gmem-punch": ["gmem-punch-folio-unlocked"] },
    "two host reads of g0's page 0 while the VMM punches out its folio",
  ),
  ...everywhere(
    "race-gmem-rfc-2024",
    () => ({ host: [{ op: "pin", map: "m5", offset: 0 }], VMM: [MAKE_PRIVATE] }),
    { "race-gmem-rfc-2024": ["gmem-rfc-no-folio-lock"] },
    "2024 RFC: a host pin of page 0 while the VMM makes it private",
  ),
  ...everywhere(
    "race-gmem-rfc-2024-folio-lock",
    () => ({ host: [{ op: "access", map: "m5", offset: 0, kind: "read" }], VMM: [MAKE_PRIVATE] }),
    {
      "race-gmem-rfc-2024-folio-lock": ["gmem-rfc-folio-check-unlocked", "gmem-rfc-no-folio-lock"],
      "race-gmem-rfc-2024-folio-lock-2m": ["gmem-rfc-folio-check-unlocked", "gmem-rfc-no-folio-lock"],
    },
    "2024 RFC with Peter Xu's folio-lock serialisation: a host read fault on page 0 while the VMM makes it private",
  ),
  fromSuite(
    CONVERSION_PROTOCOL_RACE,
    {
      VMM: [{ op: "unpin", map: "m5", offset: PAGE }, { op: "gmem_convert", gmem: "g0", offset: 0, size: 2 * PAGE, to: "private" }],
      vCPU1: [vcpu(1, 0, "read", true)],
    },
    [],
    "the protocol's retry (the VMM unpins page 1, then converts pages 0-1 to private) against a private vCPU read of gfn 0 (2 MiB folios)",
  ),
  fromSuite(
    suite("race-gmem-rfc-2024-no-fault-lock"),
    { host: [{ op: "access", map: "m5", offset: 0, kind: "read" }], VMM: [MAKE_PRIVATE] },
    [],
    "2024 RFC without the fault-path lock: a host read fault on page 0 while the VMM makes it private (refuted)",
  ),
  fromSuite(
    SECRET_RACE,
    { VMM: [{ op: "gmem_write", gmem: "g0", offset: 0, len: PAGE, byte: 7 }], vCPU0: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" }] },
    ["gmem-write-unlocked"],
    "write() of g0's page 0 (allocated, not yet uptodate, NO_DIRECT_MAP) while a vCPU faults it through kvm_gmem_get_pfn",
  ),
  fromSuite(
    suite("race-uffd-shmem"),
    {
      thread: [{ op: "access", map: "m0", offset: 8, kind: "read", id: "t0" }],
      monitor: [{ op: "uffdio_copy", uffd: "u0", map: "m0", offset: 0, len: PAGE, byte: 1 }],
    },
    ["uffd-no-must-wait"],
    "a read fault on MISSING|MINOR shmem while the monitor resolves it with UFFDIO_COPY",
  ),
  fromSuite(
    suite("race-host-fault"),
    { thread0: [{ op: "access", map: "m0", offset: 8, kind: "read" }], thread1: [{ op: "access", map: "m0", offset: 8, kind: "write", byte: 1 }] },
    ["fault-no-pte-recheck"],
    "a read and a write fault on the same absent anonymous page",
  ),
  postcopy(
    POSTCOPY_RACE,
    "postcopy-race",
    POSTCOPY_VCPU,
    ["postcopy-clear-before-write"],
    "one page fetched (alias write, bit clear, CONTINUE; no read-back) while the vCPU reads it",
    false,
  ),
  postcopy(
    POSTCOPY_RACE,
    "postcopy-race:vmm-thread",
    POSTCOPY_VMM,
    ["postcopy-continue-before-write"],
    "one page, pre-copied with a stale byte, fetched and read back while a VMM thread faults on it through the uffd-registered mapping",
    true,
  ),
  postcopy(
    POSTCOPY_KVM_RACE,
    "postcopy-kvm-race",
    POSTCOPY_KVM,
    ["uaccess-gmem-direct"],
    "one page fetched (alias write, bit clear, CONTINUE; no read-back, no toggle) while KVM copies it for vCPU 1",
    false,
    ["set_memory_region"],
  ),
  postcopy(
    POSTCOPY_KVM_RACE,
    "postcopy-kvm-race:toggle",
    POSTCOPY_TOGGLE,
    ["postcopy-userfault-off-early"],
    "one page fetched (alias write, bit clear, USERFAULT off; no CONTINUE: the vCPU reads guest_memfd, not the hva) while the vCPU reads it",
    false,
    ["uffdio_continue"],
  ),
  postcopy(
    shapeSuite("postcopy-race-anon"),
    "postcopy-race-anon",
    shaped("anon", 0),
    ["mfill-copy-eexist-unlocked"],
    "one anonymous page: the fetcher's UFFDIO_COPY (DONTWAKE) against a handler's UFFDIO_COPY and UFFDIO_WAKE while a vCPU reads it through uffd; the teardown reads it back and re-enters the vCPU",
    false,
  ),
  postcopy(
    shapeSuite("postcopy-race-shmem"),
    "postcopy-race-shmem",
    shaped("shmem", 1, 0x11),
    ["postcopy-huge-continue-partial"],
    "one shmem page, pre-copied stale: the fetcher's write through the second mapping and CONTINUE against a handler's UFFDIO_WAKE while a vCPU reads it through uffd; the teardown",
    false,
  ),
  postcopy(
    shapeSuite("postcopy-race-gmem"),
    "postcopy-race-gmem",
    shaped("gmem", 0),
    [],
    "one guest_memfd page behind a userspace memslot: the handler's write and CONTINUE while a vCPU reads it through uffd; the teardown",
    false,
  ),
  postcopy(
    shapeSuite("postcopy-race-gmem-1g"),
    "postcopy-race-gmem-1g",
    shaped("gmem-1g", 0),
    [],
    "one 4 KiB page of a guest_memfd of 1 GiB folios behind a userspace memslot: the handler's write and CONTINUE while a vCPU reads it through uffd; the teardown",
    false,
  ),
  postcopy(
    POSTCOPY_RACE_ARM64,
    "postcopy-race-arm64",
    POSTCOPY_VCPU,
    [],
    "one page fetched (alias write, bit clear, CONTINUE; no read-back) while the vCPU reads it (arm64)",
    false,
  ),
  {
    kind: "events",
    name: "postcopy",
    suite: "postcopy",
    description:
      "one page: every sequence of at most 4 events (a guest write or read, a VMM thread's read through the uffd-registered " +
      "mapping, the fetcher's or the fault handler's next step), then the end of the migration",
    config: POSTCOPY_SUITES[0]!.config,
    sc: { ...ONE_PAGE, events: [] },
    alphabet: [
      { kind: "guest", write: true, page: 0, offset: 0, byte: 0x5a },
      { kind: "guest", write: false, page: 0, offset: 0, byte: 0 },
      { kind: "vmm", thread: 0, write: false, page: 0, offset: 8, byte: 0 },
      { kind: "fetcher" },
      { kind: "handler" },
    ],
    length: 4,
    refutes: ["postcopy-double-fetch", "postcopy-clear-before-write", "postcopy-continue-before-write"],
  },
  {
    kind: "events",
    name: "postcopy-anon",
    suite: "postcopy-anon",
    description:
      "one anonymous page, two vCPUs, KVM Userfault: every sequence of at most 4 events (a vCPU's write or read, a VMM " +
      "thread's read, the fetcher's or the handler's next step, the balloon taking the page), then the end of the migration",
    config: POSTCOPY_SUITES[0]!.config,
    sc: { ...ONE_PAGE, events: [], backing: "anon", userfault: true, vcpus: 2, handlers: "one" },
    alphabet: [
      { kind: "guest", vcpu: 0, write: true, page: 0, offset: 0, byte: 0x5a },
      { kind: "guest", vcpu: 1, write: false, page: 0, offset: 0, byte: 0 },
      { kind: "vmm", thread: 0, write: false, page: 0, offset: 8, byte: 0 },
      { kind: "fetcher" },
      { kind: "handler" },
      { kind: "balloon", page: 0 },
    ],
    length: 4,
    refutes: ["postcopy-eexist-no-wake", "postcopy-remove-ignored"],
  },
  {
    kind: "events",
    name: "postcopy-shmem",
    suite: "postcopy-shmem",
    description:
      "one shmem page, two vCPUs, KVM Userfault: every sequence of at most 4 events (a vCPU's write or read, the fetcher's " +
      "or the handler's next step, the source sending the page again), then the end of the migration",
    config: POSTCOPY_SUITES[0]!.config,
    sc: { ...ONE_PAGE, events: [], backing: "shmem", userfault: true, vcpus: 2, handlers: "one" },
    alphabet: [
      { kind: "guest", vcpu: 0, write: true, page: 0, offset: 0, byte: 0x5a },
      { kind: "guest", vcpu: 1, write: false, page: 0, offset: 0, byte: 0 },
      { kind: "fetcher" },
      { kind: "handler" },
      { kind: "resend", page: 0 },
    ],
    length: 4,
    refutes: ["postcopy-fetch-twice-on-exit", "postcopy-resend-overwrites"],
  },
  ...dirtyLogScopes(),
  ...PROGRESS_RACES.map((r) => {
    const p = PROGRESS_SCOPES[r.name]!;
    return { ...fromSuite(r, p.actors, [], p.what), check: progressCheck, ...(r.checks === undefined ? {} : { checks: r.checks }) };
  }),
];

/** The exit-progress property of the progress races, judged on each explored run. */
function progressCheck(run: RaceRun): RaceFailure | undefined {
  const v = EXIT_PROGRESS_RUN.judge(run.ops);
  return typeof v === "boolean" ? undefined : v;
}

/**
 * The dirty-log races, one writer against the harvest each: a vCPU's write fault on clean gfn 2, or KVM's own write
 * (no mmu_lock), against KVM_GET_DIRTY_LOG (then CLEAR under manual protect) and a final GET that reports what is left.
 */
function dirtyLogScopes(): RaceScope[] {
  const [plain, manual] = DIRTY_LOG_RACES as [ConcurrentSuite, ConcurrentSuite];
  const get: Op = { op: "get_dirty_log", vm: "v0", slot: 0 };
  const clear: Op = { op: "clear_dirty_log", vm: "v0", slot: 0, first_page: 0, num_pages: 64 };
  const kvmWrite: Op = { op: "kvm_access", vm: "v0", vcpu: 1, gpa: 2 * PAGE, kind: "write", byte: 9 };
  return [
    fromSuite(plain, { vCPU0: [vcpu(0, 2 * PAGE, "write")], VMM: [get, get] }, ["dirty-log-mark-early"], "a vCPU write fault on clean gfn 2 while the VMM harvests"),
    { ...fromSuite(plain, { KVM: [kvmWrite], VMM: [get, get] }, ["dirty-log-get-nonatomic"], "KVM's own write to clean gfn 2 while the VMM harvests"), name: "race-dirty-log:kvm" },
    fromSuite(manual, { vCPU0: [vcpu(0, 2 * PAGE, "write")], VMM: [get, clear, get] }, [], "a vCPU write fault on clean gfn 2 while the VMM gets, clears and gets again (manual protect)"),
  ];
}

/** Scopes that must be refuted even with no seeded bug: the design itself is flawed. */
export const REFUTED_DESIGNS: readonly string[] = ["race-gmem-rfc-2024-no-fault-lock"];

export const scopeNamed = (name: string): ProofScope | undefined => PROOF_SCOPES.find((s) => s.name === name);

/** The race scope of that name (for the bench and the tests, which run the explorer directly). */
export function raceScope(name: string): RaceScope {
  const s = scopeNamed(name);
  if (s?.kind !== "race") throw new Error(`no race scope ${name}`);
  return s;
}
