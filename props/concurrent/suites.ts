// The concurrent KVM suites: one per race between the VMM's control paths and a vCPU fault in flight, each on
// every configuration where it applies (x86 with and without KVM_X86_QUIRK_SLOT_ZAP_ALL, arm64). Each aims its
// operations at the same few pages of slot 0 so that the actors collide; vcpu_access names its `private`
// explicitly on software-protected VMs (the impl reads the attribute at fault entry, the model at the
// linearization point).
import fc from "fast-check";
import { PRESETS, type Config } from "../../schema/config.js";
import type { MemslotFlagName, Op, OpOf } from "../../schema/ops.js";
import { ANON, GMEM, HUGETLB, regionOp, setupOf, type Layout, type LayoutSlot } from "../layouts.js";
import { runConcurrentSuite, type ConcurrentSuite } from "./explore.js";
import type { RaceActor } from "./harness.js";
import { pctSteps } from "./run-lengths.js";

const PAGE = 4096;
const MiB = 1024 * 1024;
/** Where MOVE sends slot 0 (free in the ANON, HUGETLB and GMEM layouts). */
const MOVED = 16 * MiB;
const HOT_GFNS = [0, 1] as const;

/** The configurations a KVM race runs on: x86 with the slot-zap-all quirk (the default), x86 without it, arm64. */
export type Axis = "x86" | "x86-nozap" | "arm64";

const AXES: Readonly<Record<Axis, { readonly config: Config; readonly suffix: string }>> = {
  x86: { config: PRESETS.default, suffix: "" },
  "x86-nozap": { config: { ...PRESETS.default, kernel: { ...PRESETS.default.kernel, slotZapAll: false } }, suffix: "-nozap" },
  arm64: { config: PRESETS.arm64, suffix: "-arm64" },
};

/** ANON's slot 0 (4 MiB of m0 at gpa 0), with some fields changed. */
const slot0 = (over?: Partial<OpOf<"set_memory_region">>): Op => regionOp(ANON.slots[0]!, over);

const gfn = fc.constantFrom(...HOT_GFNS);

/**
 * The layout with the hot pages already faulted in on the host: these suites aim at KVM's races, so two
 * vCPUs never race in the host's anonymous fault path itself (race-host-fault covers that path).
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
  readonly axis: Axis;
  readonly setup: readonly Op[];
  readonly actors: fc.Arbitrary<RaceActor[]>;
  readonly runs: number;
}

function suite(r: Race): ConcurrentSuite {
  const s: ConcurrentSuite = {
    name: r.name + AXES[r.axis].suffix,
    description: r.axis === "x86" ? r.description : `${r.description} (${r.axis === "arm64" ? "arm64" : "x86 without the slot-zap-all quirk"})`,
    kind: "concurrent",
    area: "kvm",
    config: AXES[r.axis].config,
    setup: r.setup,
    actors: r.actors,
    runs: r.runs,
    steps: pctSteps(r.name),
    depth: 3,
    run: (opts) => runConcurrentSuite(s, opts),
  };
  return s;
}

/** Runs on the default x86 configuration; the other axes split a smaller budget (races are cheap, ~5 ms a run). */
const onAxes = (axes: readonly Axis[], make: (axis: Axis, runs: number) => ConcurrentSuite, runs: number): ConcurrentSuite[] =>
  axes.map((axis) => make(axis, axis === "x86" ? runs : Math.round(runs / 2)));

const userfaultEnable = (axis: Axis, runs: number): ConcurrentSuite =>
  suite({
    name: "race-userfault-enable",
    description: "KVM_MEM_USERFAULT turned on (with bits set) while vCPUs fault on the slot: no mapping may survive the enable",
    axis,
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
    runs,
  });

const userfaultClear = (axis: Axis, runs: number): ConcurrentSuite =>
  suite({
    name: "race-userfault-clear",
    description: "the VMM fills a page and clears its userfault bit while vCPUs fault on it",
    axis,
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
    runs,
  });

const deleteMove = (axis: Axis, runs: number): ConcurrentSuite =>
  suite({
    name: "race-memslot-delete-move",
    description: "slot 0 deleted, re-created or moved (through its INVALID copy) while vCPUs fault on it",
    axis,
    setup: layout(0),
    actors: actors(vmmOps(fc.constantFrom(slot0({ memory_size: 0 }), slot0(), slot0({ guest_phys_addr: MOVED }))), (n) => access(n, [...HOT_GPAS, MOVED + PAGE], SHARED)),
    runs,
  });

const attributes = (axis: Axis, runs: number): ConcurrentSuite =>
  suite({
    name: "race-attributes",
    description: "KVM_SET_MEMORY_ATTRIBUTES flips pages between shared and private while vCPUs fault on them (software-protected VM)",
    axis,
    setup: layout(1),
    actors: actors(
      vmmOps(fc.tuple(gfn, fc.boolean()).map(([g, priv]): Op => ({ op: "set_memory_attributes", vm: "v0", address: g * PAGE, size: PAGE, attributes: priv ? ["PRIVATE"] : [] }))),
      (n) => access(n, HOT_GPAS, fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })),
    ),
    runs,
  });

/**
 * A backing for the memslot-change races: the layout, the VM type, which of slot 0's pages are hot (and how the
 * setup faults them in on the host), and what a vCPU access names as its private bit.
 */
interface Backing {
  readonly name: "anon" | "hugetlb" | "gmem";
  readonly layout: Layout;
  readonly vmType: number;
  /** The hot gfns of slot 0: its first pages, and for huge backings one in the next huge page. */
  readonly gfns: readonly number[];
  /** Host writes that fault the hot pages in, and attribute changes that make some of them private. */
  readonly prime: (axis: Axis) => readonly Op[];
  /** The private bit a vCPU access names for gfn (undefined: the VM has no private memory). */
  readonly priv: (axis: Axis, g: number) => fc.Arbitrary<boolean | undefined>;
  /** A host thread's operations on slot 0's backing: faults and zaps the mmu notifier passes on to KVM. */
  readonly host: readonly Op[];
}

const makePrivate = (g: number): Op => ({ op: "set_memory_attributes", vm: "v0", address: g * PAGE, size: PAGE, attributes: ["PRIVATE"] });
const hostWrite = (map: string, offset: number, byte: number): Op => ({ op: "access", map, offset, kind: "write", byte });
const hostOps = (map: string, offsets: readonly number[], zapLen: number): Op[] =>
  offsets.flatMap((o): Op[] => [
    { op: "access", map, offset: o, kind: "read" },
    hostWrite(map, o, 0x5a),
    { op: "madvise", map, offset: o - (o % zapLen), len: zapLen, advice: "DONTNEED" },
  ]);

const BACKINGS: readonly Backing[] = [
  {
    name: "anon",
    layout: ANON,
    vmType: 0,
    gfns: HOT_GFNS,
    prime: () => HOT_GFNS.map((g) => hostWrite("m0", g * PAGE, 0xa0 + g)),
    priv: () => SHARED,
    host: hostOps("m0", [0, PAGE], PAGE),
  },
  {
    // Slot 0 is 8 MiB of 2 MiB hugetlbfs folios: faults map 2 MiB leaves unless USERFAULT or dirty logging is on.
    name: "hugetlb",
    layout: HUGETLB,
    vmType: 0,
    gfns: [0, 1, 512],
    prime: () => [hostWrite("m1", 0, 0xa0), hostWrite("m1", 2 * MiB, 0xa2)],
    priv: () => SHARED,
    // MADV_DONTNEED on hugetlbfs is refused unless the range is huge-page aligned: zap whole folios.
    host: hostOps("m1", [0, PAGE], 2 * MiB),
  },
  {
    // x86: slot 0 is g0 (private) with m0 for shared; gfn 0 is made private, so faults on it go to guest_memfd.
    // arm64 has no private memory: every fault of a guest_memfd slot goes to guest_memfd (gmem_abort).
    name: "gmem",
    layout: GMEM,
    vmType: 1,
    gfns: HOT_GFNS,
    prime: (axis) => [
      ...HOT_GFNS.map((g) => hostWrite("m0", g * PAGE, 0xa0 + g)),
      ...(axis === "arm64" ? [] : [makePrivate(0)]),
    ],
    priv: (axis, g) => (axis === "arm64" ? SHARED : fc.oneof({ weight: 4, arbitrary: fc.constant(g === 0) }, { weight: 1, arbitrary: fc.constant(g !== 0) })),
    host: hostOps("m0", [0, PAGE], PAGE),
  },
];

const vmTypeOn = (b: Backing, axis: Axis): number => (axis === "arm64" ? 0 : b.vmType);

/** Slot 0 of the backing's layout, with some fields changed. */
const hotSlot = (b: Backing): LayoutSlot => b.layout.slots[0]!;

/** Slot 0 as KVM_SET_USER_MEMORY_REGION2 with flags on top of its own, at gpa (MOVE when it differs), or deleted. */
function change(b: Backing, flags: readonly MemslotFlagName[], gpa: number, del: boolean): Op {
  const s = hotSlot(b);
  return regionOp(s, { flags: [...s.flags, ...flags.filter((f) => !s.flags.includes(f))], guest_phys_addr: gpa, ...(del ? { memory_size: 0 } : {}) });
}

/** The flags a request may add to slot 0: a guest_memfd slot takes neither dirty logging nor READONLY. */
const flagsFor = (b: Backing): MemslotFlagName[] => (b.name === "gmem" ? ["USERFAULT"] : ["USERFAULT", "LOG_DIRTY_PAGES", "READONLY"]);

/** Every change KVM_SET_USER_MEMORY_REGION2 can make to slot 0: the same request means CREATE, MOVE, FLAGS_ONLY or no-op by state. */
const changeOp = (b: Backing): fc.Arbitrary<Op> => {
  const flags = flagsFor(b);
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.subarray(flags, { maxLength: Math.min(2, flags.length) }), fc.constantFrom(hotSlot(b).gpa, hotSlot(b).gpa, MOVED)).map(([f, gpa]) => change(b, f, gpa, false)) },
    { weight: 2, arbitrary: fc.constant(change(b, [], hotSlot(b).gpa, true)) },
  );
};

/** A vCPU's access to a hot page, where it sits now or after a MOVE. */
const hotAccess = (b: Backing, axis: Axis, vcpu: number): fc.Arbitrary<Op> =>
  fc
    .tuple(fc.constantFrom(...b.gfns), fc.constantFrom(0, 0, 0, MOVED / PAGE))
    .chain(([g, moved]) => access(vcpu, [(g + moved) * PAGE], b.priv(axis, g)));

/**
 * The VMM's changes to slot 0 and, in some runs, bits it sets first (then only one vCPU runs: a bit set under a
 * live USERFAULT slot exits a fault that found no SPTE even after another vCPU mapped the page, which no atomic
 * order explains; docs/RACES.md), with up to two vCPUs and a host thread faulting and zapping slot 0's backing.
 */
function changeActors(b: Backing, axis: Axis, first: (b: Backing) => fc.Arbitrary<Op[]>): fc.Arbitrary<RaceActor[]> {
  return fc.record({ bits: fc.boolean(), host: fc.option(fc.subarray([...b.host], { minLength: 1, maxLength: 2 }), { freq: 3 }) }).chain(({ bits, host }) =>
    fc
      .tuple(
        first(b),
        fc.array(changeOp(b), { minLength: 1, maxLength: 2 }),
        bits ? fc.subarray([...b.gfns], { minLength: 1 }) : fc.constant([]),
        actors(fc.constant([]), (n) => hotAccess(b, axis, n), bits ? 1 : 2),
      )
      .map(([pre, changes, set, [vcpu0, , vcpu1]]) => {
        const setBits = set.map((g): Op => ({ op: "userfault_set", vm: "v0", slot: hotSlot(b).slot, gfn_offset: g, npages: 1 }));
        const vmm: RaceActor = { name: "VMM", steps: [...setBits, ...pre, ...changes] };
        return [vcpu0!, vmm, ...(vcpu1 === undefined ? [] : [vcpu1]), ...(host === null ? [] : [{ name: "host", steps: host }])];
      }),
  );
}

/** The backing's layout with slot 0 absent (create) or present (changes), hot pages faulted in on the host. */
const changeSetup = (b: Backing, axis: Axis, withSlot0: boolean): Op[] => [
  ...setupOf(b.layout, vmTypeOn(b, axis)).filter((op) => withSlot0 || op.op !== "set_memory_region" || op.slot !== hotSlot(b).slot),
  ...b.prime(axis),
];

const memslotCreate = (b: Backing) => (axis: Axis, runs: number): ConcurrentSuite =>
  suite({
    name: b.name === "anon" ? "race-memslot-create" : `race-memslot-create-${b.name}`,
    description: `slot 0 (${b.name}) created, with and without USERFAULT, dirty logging or READONLY, while vCPUs fault in its range and the host faults and zaps its backing`,
    axis,
    setup: changeSetup(b, axis, false),
    // CREATE first, with bits set in the new bitmap in some runs; then any change.
    actors: changeActors(b, axis, (bb) =>
      fc.subarray(flagsFor(bb), { maxLength: Math.min(2, flagsFor(bb).length) }).map((f) => [change(bb, f, hotSlot(bb).gpa, false)]),
    ).map((as) => as.map((a) => (a.name !== "VMM" ? a : { ...a, steps: createFirst(a.steps) }))),
    runs,
  });

/** The VMM creates slot 0 before it sets bits in the new slot's bitmap. */
function createFirst(steps: readonly Op[]): Op[] {
  const create = steps.findIndex((op) => op.op === "set_memory_region");
  return [steps[create]!, ...steps.filter((_, i) => i !== create)];
}

const memslotChanges = (b: Backing) => (axis: Axis, runs: number): ConcurrentSuite =>
  suite({
    name: b.name === "anon" ? "race-memslot-changes" : `race-memslot-changes-${b.name}`,
    description: `every memslot change of slot 0 (${b.name}): DELETE, CREATE, MOVE, FLAGS_ONLY of USERFAULT, dirty logging and READONLY, against vCPU reads and writes and host faults and zaps`,
    axis,
    setup: changeSetup(b, axis, true),
    actors: changeActors(b, axis, () => fc.constant([])),
    runs,
  });

const ALL_AXES: readonly Axis[] = ["x86", "x86-nozap", "arm64"];
const backing = (name: Backing["name"]): Backing => BACKINGS.find((b) => b.name === name)!;

export const CONCURRENT_SUITES: readonly ConcurrentSuite[] = [
  ...onAxes(ALL_AXES, userfaultEnable, 600),
  ...onAxes(ALL_AXES, userfaultClear, 600),
  ...onAxes(ALL_AXES, deleteMove, 600),
  // Attributes exist only on x86 software-protected VMs, and neither DELETE nor MOVE takes part: x86 only.
  ...onAxes(["x86"], attributes, 600),
  ...onAxes(ALL_AXES, memslotCreate(backing("anon")), 600),
  ...onAxes(["x86", "arm64"], memslotCreate(backing("hugetlb")), 400),
  ...onAxes(["x86", "arm64"], memslotCreate(backing("gmem")), 400),
  ...onAxes(ALL_AXES, memslotChanges(backing("anon")), 600),
  ...onAxes(["x86", "arm64"], memslotChanges(backing("hugetlb")), 400),
  ...onAxes(["x86", "arm64"], memslotChanges(backing("gmem")), 400),
];
