// The concurrent KVM suites: one per race between the VMM's control paths and a vCPU fault in flight.
// Each aims its operations at the same two pages of slot 0 so that the actors collide; vcpu_access names
// its `private` explicitly on software-protected VMs (the impl reads the attribute at fault entry, the
// model at the linearization point).
import fc from "fast-check";
import { PRESETS, type Config } from "../../schema/config.js";
import type { Op, OpOf } from "../../schema/ops.js";
import { ANON, regionOp, setupOf } from "../layouts.js";
import { runConcurrentSuite, type ConcurrentSuite } from "./explore.js";
import type { RaceActor } from "./harness.js";
import { pctSteps } from "./run-lengths.js";

const PAGE = 4096;
const MiB = 1024 * 1024;
/** Where MOVE sends slot 0 (free in the ANON layout). */
const MOVED = 16 * MiB;
const HOT_GFNS = [0, 1] as const;

/** ANON's slot 0 (4 MiB of m0 at gpa 0), with some fields changed. */
const slot0 = (over?: Partial<OpOf<"set_memory_region">>): Op => regionOp(ANON.slots[0]!, over);

const gfn = fc.constantFrom(...HOT_GFNS);

/**
 * The layout with the hot pages already faulted in on the host: these suites aim at KVM's races, so two
 * vCPUs never race in the host's anonymous fault path itself (a race of its own, see docs/RACES.md).
 */
const layout = (vmType: number): Op[] => [
  ...setupOf(ANON, vmType),
  ...HOT_GFNS.map((g): Op => ({ op: "access", map: "m0", offset: g * PAGE, kind: "write", byte: 0xa0 + g })),
];

/** A guest load or store on a hot page (or its image after MOVE); `priv` is given on type-1 VMs. */
function access(vcpu: number, gpas: readonly number[], priv: fc.Arbitrary<boolean | undefined>): fc.Arbitrary<Op> {
  return fc.record({ gpa: fc.constantFrom(...gpas), kind: fc.constantFrom("read" as const, "write" as const), byte: fc.integer({ min: 1, max: 255 }), priv }).map(
    ({ gpa, kind, byte, priv: p }): Op => ({ op: "vcpu_access", vm: "v0", vcpu, gpa, kind, ...(kind === "write" ? { byte } : {}), ...(p === undefined ? {} : { private: p }) }),
  );
}

const bit = (op: "userfault_set" | "userfault_clear"): fc.Arbitrary<Op> => gfn.map((g): Op => ({ op, vm: "v0", slot: 0, gfn_offset: g, npages: 1 }));

/** One VMM thread and one or two vCPU threads; the second vCPU is optional so shrinking can drop it. */
function actors(vmm: fc.Arbitrary<Op[]>, vcpu: (n: number) => fc.Arbitrary<Op>, vcpus: 1 | 2 = 2): fc.Arbitrary<RaceActor[]> {
  return fc
    .record({
      vcpu0: fc.array(vcpu(0), { minLength: 1, maxLength: 2 }),
      vmm,
      vcpu1: vcpus === 2 ? fc.option(fc.array(vcpu(1), { minLength: 1, maxLength: 2 }), { freq: 3 }) : fc.constant(null),
    })
    .map(({ vcpu0, vmm: v, vcpu1 }) => [
      { name: "vCPU0", steps: vcpu0 },
      { name: "VMM", steps: v },
      ...(vcpu1 === null ? [] : [{ name: "vCPU1", steps: vcpu1 }]),
    ]);
}

const vmmOps = (op: fc.Arbitrary<Op>): fc.Arbitrary<Op[]> => fc.array(op, { minLength: 1, maxLength: 3 });

const SHARED = fc.constant(undefined);
const HOT_GPAS = HOT_GFNS.map((g) => g * PAGE);

interface Race {
  readonly name: string;
  readonly description: string;
  readonly config?: Config;
  readonly setup: readonly Op[];
  readonly actors: fc.Arbitrary<RaceActor[]>;
  readonly runs: number;
}

function suite(r: Race): ConcurrentSuite {
  const s: ConcurrentSuite = {
    name: r.name,
    description: r.description,
    kind: "concurrent",
    area: "kvm",
    config: r.config ?? PRESETS.default,
    setup: r.setup,
    actors: r.actors,
    runs: r.runs,
    steps: pctSteps(r.name),
    depth: 3,
    run: (opts) => runConcurrentSuite(s, opts),
  };
  return s;
}

export const CONCURRENT_SUITES: readonly ConcurrentSuite[] = [
  suite({
    name: "race-userfault-enable",
    description: "KVM_MEM_USERFAULT turned on (with bits set) while vCPUs fault on the slot: no mapping may survive the enable",
    setup: layout(0),
    // Bits are set before the enable: a bit set under a live USERFAULT slot only affects faults that start
    // later. One vCPU: the enable publishes the flag before its zap, so two vCPUs may see it at different
    // times until the ioctl returns, which no atomic step explains (docs/RACES.md).
    actors: actors(
      fc
        .tuple(fc.array(bit("userfault_set"), { maxLength: 2 }), fc.option(fc.oneof(bit("userfault_clear"), fc.constant(slot0()))))
        .map(([set, after]) => [...set, slot0({ flags: ["USERFAULT"] }), ...(after === null ? [] : [after])]),
      (n) => access(n, HOT_GPAS, SHARED),
      1,
    ),
    runs: 600,
  }),
  suite({
    name: "race-userfault-clear",
    description: "the VMM fills a page and clears its userfault bit while vCPUs fault on it",
    setup: [...layout(0), slot0({ flags: ["USERFAULT"] }), { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: HOT_GFNS.length }],
    actors: actors(
      // The postcopy protocol: fill pages and clear their bits; bits are not set again under the race.
      vmmOps(
        fc.oneof(
          bit("userfault_clear"),
          fc.tuple(gfn, fc.integer({ min: 1, max: 255 })).map(([g, byte]): Op => ({ op: "access", map: "m0", offset: g * PAGE, kind: "write", byte })),
        ),
      ),
      (n) => access(n, HOT_GPAS, SHARED),
    ),
    runs: 600,
  }),
  suite({
    name: "race-memslot-delete-move",
    description: "slot 0 deleted, re-created or moved (through its INVALID copy) while vCPUs fault on it",
    setup: layout(0),
    actors: actors(vmmOps(fc.constantFrom(slot0({ memory_size: 0 }), slot0(), slot0({ guest_phys_addr: MOVED }))), (n) => access(n, [...HOT_GPAS, MOVED + PAGE], SHARED)),
    runs: 600,
  }),
  suite({
    name: "race-attributes",
    description: "KVM_SET_MEMORY_ATTRIBUTES flips pages between shared and private while vCPUs fault on them (software-protected VM)",
    setup: layout(1),
    actors: actors(
      vmmOps(fc.tuple(gfn, fc.boolean()).map(([g, priv]): Op => ({ op: "set_memory_attributes", vm: "v0", address: g * PAGE, size: PAGE, attributes: priv ? ["PRIVATE"] : [] }))),
      (n) => access(n, HOT_GPAS, fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })),
    ),
    runs: 600,
  }),
];
