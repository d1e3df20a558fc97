// The library of proved scopes: per race suite, its layout and configuration with explicit actors small enough
// that every interleaving is explored in well under a minute, and the seeded races the scope refutes. Each
// scope's actors are the shape of the suite's shrunk counterexamples, so the scope reaches the suite's races.
// The post-copy VMM's suite interleaves whole operations of its actors: its scope is every short event sequence.
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import { SETUP, type RaceActor, type RaceFailure, type RaceRun } from "../concurrent/harness.js";
import { CONCURRENT_SUITES } from "../concurrent/suites.js";
import type { ConcurrentSuite } from "../concurrent/explore.js";
import { GMEM_RACES, RFC_NO_LOCK_RACE } from "../gmem/races.js";
import { checkReads, POSTCOPY_RACE, raceActors, type RacePostcopy } from "../postcopy/race.js";
import type { PostcopyEvent, PostcopyScenario } from "../postcopy/scenario.js";
import { POSTCOPY_SUITES } from "../postcopy/suite.js";
import { HOST_FAULT_RACE, UFFD_RACE } from "../uffd/races.js";

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
  /** A check of the whole run on top of the harness's (the post-copy reads). */
  readonly check?: (run: RaceRun) => RaceFailure | undefined;
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

const suite = (name: string): ConcurrentSuite => {
  const s = [...CONCURRENT_SUITES, ...GMEM_RACES, UFFD_RACE, HOST_FAULT_RACE, RFC_NO_LOCK_RACE].find((x) => x.name === name);
  if (s === undefined) throw new Error(`no race suite ${name}`);
  return s;
};

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

/** The fetcher's program without its read-back of every page (`readBack` false), and the actors that have steps. */
function postcopy(name: string, r: RacePostcopy, refutes: readonly string[], description: string, readBack: boolean): RaceScope {
  const program = (a: RaceActor): RaceActor => (readBack || a.name !== "fetcher" ? a : { ...a, steps: a.steps.filter((o) => o.op !== "read_alias") });
  return {
    kind: "race",
    name,
    suite: POSTCOPY_RACE.name,
    description,
    config: POSTCOPY_RACE.config,
    actors: (bugs) => raceActors(r, bugs).map(program).filter((a) => a.steps.length > 0),
    refutes,
    check: (run) => checkReads(r.sc.source, run),
    postcopy: r.sc,
  };
}

export const PROOF_SCOPES: readonly ProofScope[] = [
  fromSuite(
    suite("race-userfault-enable"),
    { vCPU0: [vcpu(0, 0)], VMM: [{ op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: 1 }, { ...SLOT0, flags: ["USERFAULT"] }] },
    ["userfault-enable-zap-early"],
    "a vCPU read of gfn 0 while the VMM sets its bit and turns KVM_MEM_USERFAULT on",
  ),
  fromSuite(
    suite("race-userfault-clear"),
    { vCPU0: [vcpu(0, PAGE)], VMM: [{ op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: 1, npages: 1 }] },
    ["userfault-double-fetch"],
    "a vCPU read of gfn 1 while the VMM clears its userfault bit",
  ),
  fromSuite(
    suite("race-memslot-delete-move"),
    { vCPU0: [vcpu(0, 0)], VMM: [{ ...SLOT0, flags: [], memory_size: 0 }] },
    ["memslot-lookup-outside-srcu", "memslot-invalidate-no-sync"],
    "a vCPU read of gfn 0 while the VMM deletes slot 0",
  ),
  fromSuite(
    suite("race-attributes"),
    { vCPU0: [vcpu(0, 0, "read", false)], VMM: [MAKE_PRIVATE] },
    ["attr-store-before-invalidate", "fault-no-invalidate-recheck"],
    "a shared vCPU read of gfn 0 while the VMM makes it private",
  ),
  fromSuite(
    suite("race-gmem-convert-host"),
    { host: [{ op: "access", map: "m5", offset: 0, kind: "read" }], VMM: [{ op: "gmem_convert", gmem: "g0", offset: 0, size: PAGE, to: "private" }] },
    ["gmem-host-fault-unlocked", "gmem-convert-unlocked"],
    "a host read fault on g0's page 0 while the VMM converts it to private",
  ),
  fromSuite(
    suite("race-gmem-convert-vcpu"),
    { vCPU0: [vcpu(0, 0, "read", false)], VMM: [{ op: "gmem_convert", gmem: "g0", offset: 0, size: PAGE, to: "private" }] },
    ["fault-seq-after-faultin"],
    "a shared vCPU read of gfn 0 over a 2 MiB folio while the VMM converts the page to private",
  ),
  fromSuite(
    suite("race-gmem-convert-convert"),
    {
      VMM0: [{ op: "gmem_convert", gmem: "g0", offset: 0, size: 2 * PAGE, to: "private" }],
      VMM1: [{ op: "gmem_convert", gmem: "g0", offset: PAGE, size: PAGE, to: "private" }],
    },
    [],
    "two conversions to private of overlapping ranges of g0",
  ),
  fromSuite(
    suite("race-gmem-punch"),
    {
      VMM: [{ op: "gmem_fallocate", gmem: "g0", mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset: 0, len: PAGE }],
      host: [
        { op: "access", map: "m5", offset: 0, kind: "read" },
        { op: "access", map: "m5", offset: 0, kind: "read" },
      ],
    },
    ["gmem-punch-folio-unlocked"],
    "two host reads of g0's page 0 while the VMM punches it out",
  ),
  fromSuite(
    suite("race-gmem-rfc-2024"),
    { host: [{ op: "pin", map: "m5", offset: 0 }], VMM: [MAKE_PRIVATE] },
    ["gmem-rfc-no-folio-lock"],
    "2024 RFC: a host pin of page 0 while the VMM makes it private",
  ),
  fromSuite(
    suite("race-gmem-rfc-2024-no-fault-lock"),
    { host: [{ op: "access", map: "m5", offset: 0, kind: "read" }], VMM: [MAKE_PRIVATE] },
    [],
    "2024 RFC without the fault-path lock: a host read fault on page 0 while the VMM makes it private (refuted)",
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
    "postcopy-race",
    POSTCOPY_VCPU,
    ["postcopy-clear-before-write"],
    "one page fetched (alias write, bit clear, CONTINUE; no read-back) while the vCPU reads it",
    false,
  ),
  postcopy(
    "postcopy-race:vmm-thread",
    POSTCOPY_VMM,
    ["postcopy-continue-before-write"],
    "one page, pre-copied with a stale byte, fetched and read back while a VMM thread faults on it through the uffd-registered mapping",
    true,
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
];

/** Scopes that must be refuted even with no seeded bug: the design itself is flawed. */
export const REFUTED_DESIGNS: readonly string[] = ["race-gmem-rfc-2024-no-fault-lock"];

export const scopeNamed = (name: string): ProofScope | undefined => PROOF_SCOPES.find((s) => s.name === name);

/** The race scope of that name (for the bench and the tests, which run the explorer directly). */
export function raceScope(name: string): RaceScope {
  const s = scopeNamed(name);
  if (s?.kind !== "race") throw new Error(`no race scope ${name}`);
  return s;
}
