// The guest_memfd races: conversion against host faults, pins and vCPU faults, punch-hole against faults,
// overlapping conversions, split/merge against faults, and the 2024 RFC's conversion against host faults.
import fc from "fast-check";
import { PRESETS, type Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import { runConcurrentSuite, type ConcurrentSuite } from "../concurrent/explore.js";
import type { RaceActor } from "../concurrent/harness.js";
import { pctSteps } from "../concurrent/run-lengths.js";
import { setupOf } from "../layouts.js";
import { GMEM_RFC, GMEM_V7, GMEM_V7_1G, type GmemLayout } from "./layouts.js";

const PAGE = 4096;
const MiB = 1024 * 1024;
/** The pages every actor aims at: the first two of g0, behind gfns 0 and 1 of slot 0 and m5's first pages. */
const HOT = [0, 1] as const;
const hot = fc.constantFrom(...HOT);
type Folio = Config["gmemFolio"];
const byte = fc.integer({ min: 1, max: 255 });

/**
 * The layout, with contents in the hot pages: written through m5 itself (host PTEs that a conversion to
 * private must unmap) or through a second mapping (no PTE, so host faults race the conversion).
 */
const setup = (l: GmemLayout, through: "m5" | "alias"): Op[] => [
  ...setupOf(l, l.vmType),
  ...HOT.map((p): Op => (through === "m5" ? { op: "access", map: "m5", offset: p * PAGE, kind: "write", byte: 0xa0 + p } : { op: "write_alias", map: "m5", offset: p * PAGE, byte: 0xa0 + p })),
];

const hostAccess = fc.tuple(hot, fc.boolean(), byte).map(([p, write, b]): Op => ({ op: "access", map: "m5", offset: p * PAGE, kind: write ? "write" : "read", ...(write ? { byte: b } : {}) }));
const pinOp = fc.tuple(hot, fc.boolean()).map(([p, on]): Op => ({ op: on ? "pin" : "unpin", map: "m5", offset: p * PAGE }));
const convert = fc
  .record({ first: hot, pages: fc.constantFrom(1, 2), to: fc.constantFrom("private" as const, "shared" as const) })
  .map((r): Op => ({ op: "gmem_convert", gmem: "g0", offset: r.first * PAGE, size: r.pages * PAGE, to: r.to }));
/** Punch or allocate a hot page, or (on huge folios, where the range must be folio-aligned) the folio holding both. */
const punch = (folio: Folio): fc.Arbitrary<Op> =>
  fc.tuple(hot, fc.boolean()).map(([p, hole]): Op => {
    const len = folio === "4K" ? PAGE : folio === "2M" ? 2 * MiB : 1024 * MiB;
    return { op: "gmem_fallocate", gmem: "g0", mode: hole ? ["PUNCH_HOLE", "KEEP_SIZE"] : ["KEEP_SIZE"], offset: Math.floor((p * PAGE) / len) * len, len };
  });
/** The 2024 RFC's protocol: the VMM drops its own mappings before it asks for private, else EINVAL. */
const rfcConversion = fc
  .tuple(hot, fc.boolean())
  .map(([p, priv]): Op[] => [
    ...(priv ? [{ op: "madvise", map: "m5", offset: p * PAGE, len: PAGE, advice: "DONTNEED" } as const] : []),
    { op: "set_memory_attributes", vm: "v0", address: p * PAGE, size: PAGE, attributes: priv ? ["PRIVATE"] : [] },
  ]);

/** A guest access naming its `private` bit: the impl reads the attribute at fault entry, the model when it linearizes. */
const vcpuAccess = (vcpu: number): fc.Arbitrary<Op> =>
  fc.record({ gfn: hot, write: fc.boolean(), byte, priv: fc.boolean() }).map(
    (r): Op => ({ op: "vcpu_access", vm: "v0", vcpu, gpa: r.gfn * PAGE, kind: r.write ? "write" : "read", private: r.priv, ...(r.write ? { byte: r.byte } : {}) }),
  );

export const thread = (name: string, op: fc.Arbitrary<Op>, max = 2): fc.Arbitrary<RaceActor> => fc.array(op, { minLength: 1, maxLength: max }).map((steps) => ({ name, steps }));
/** Actors as given, the last ones optional so shrinking can drop them. */
export const threads = (required: readonly fc.Arbitrary<RaceActor>[], optional: readonly fc.Arbitrary<RaceActor>[] = []): fc.Arbitrary<RaceActor[]> =>
  fc.tuple(fc.tuple(...required), fc.tuple(...optional.map((a) => fc.option(a, { freq: 3 })))).map(([r, o]) => [...r, ...o.filter((a): a is RaceActor => a !== null)]);

interface Race {
  readonly name: string;
  readonly description: string;
  readonly config: Config;
  readonly layout: GmemLayout;
  /** The actors, given the folio size of the configuration. */
  readonly actors: (folio: Folio) => fc.Arbitrary<RaceActor[]>;
  /** How the setup writes the hot pages (default: through a second mapping). */
  readonly written?: "m5" | "alias";
  readonly runs: number;
}

/** The layout for a folio size: 1 GiB folios need a 1 GiB file, so g0 alone, behind slots 0 and 1. */
const layoutFor = (l: GmemLayout, folio: Folio): GmemLayout => (folio === "1G" && l === GMEM_V7 ? GMEM_V7_1G : l);

/**
 * The race on each folio size: the first is the suite's own (its name unchanged), the others split a smaller budget
 * and carry the size in their name.
 */
const onFolios = (r: Race, folios: readonly Folio[]): ConcurrentSuite[] =>
  folios.map((folio, i) =>
    race({
      ...r,
      name: i === 0 ? r.name : `${r.name}-${folio.toLowerCase()}`,
      description: i === 0 ? r.description : `${r.description} (${folio === "4K" ? "4 KiB" : folio === "2M" ? "2 MiB" : "1 GiB"} folios)`,
      config: { ...r.config, gmemFolio: folio },
      layout: layoutFor(r.layout, folio),
      runs: i === 0 ? r.runs : Math.round(r.runs / 2),
    }),
  );

function race(r: Race): ConcurrentSuite {
  const s: ConcurrentSuite = {
    name: r.name,
    description: r.description,
    kind: "concurrent",
    area: "gmem",
    config: r.config,
    setup: setup(r.layout, r.written ?? "alias"),
    actors: r.actors(r.config.gmemFolio),
    runs: r.runs,
    steps: pctSteps(r.name),
    depth: 3,
    run: (opts) => runConcurrentSuite(s, opts),
  };
  return s;
}

const V8 = PRESETS["gmem-v8"];
const V7 = PRESETS["gmem-v7"];
const RFC: Config = { ...PRESETS.default, gmemDesign: "rfc-2024", gmemFaultLock: true };

/** The 2024 RFC before its last patch: the host fault path checks faultability without the invalidate lock. */
export const RFC_NO_FAULT_LOCK: Config = { ...RFC, gmemFaultLock: false };

/** The RFC's conversions against host faults and pins, and (unless `vcpu` is false) a vCPU's accesses. */
const rfcHostRace = (name: string, description: string, config: Config, vcpu = true): Race => ({
  name,
  description,
  config,
  layout: GMEM_RFC,
  actors: () =>
    threads(
      [
        thread("host", fc.oneof({ weight: 3, arbitrary: hostAccess }, { weight: 1, arbitrary: pinOp })),
        fc.array(rfcConversion, { minLength: 1, maxLength: 2 }).map((units) => ({ name: "VMM", steps: units.flat() })),
      ],
      vcpu ? [thread("vCPU0", vcpuAccess(0))] : [],
    ),
  runs: 200,
});

/** Peter Xu's alternative to the fault lock: the fault reads faultability under the folio lock (Zw7f3YrzqnH-iWwf@x1n). */
export const RFC_FOLIO_LOCK: Config = { ...RFC, gmemFaultLock: "folio" };

/** The conversions of the hot pages against host faults and pins, on a design. */
const convertHost = (name: string, description: string, config: Config, runs: number): Race => ({
  name,
  description,
  config,
  layout: GMEM_V7,
  actors: () => threads([thread("host", fc.oneof(hostAccess, pinOp)), thread("VMM", convert)], [thread("host2", hostAccess, 1)]),
  runs,
});

/** Every v8 race on 4 KiB and 2 MiB folios, and on 1 GiB where a fault splits or a punch drops a folio; the v7 variant of
 * the first; the RFC on 4 KiB and 2 MiB. */
export const GMEM_RACES: readonly ConcurrentSuite[] = [
  ...onFolios(
    convertHost("race-gmem-convert-host", "v8 conversions of the hot pages while host threads fault them in and pin them", V8, 200),
    ["4K", "2M"],
  ),
  race(
    convertHost("race-gmem-convert-host-v7", "the v7 variant: conversions of the hot pages while host threads fault and pin them", V7, 100),
  ),
  ...onFolios(
    {
      name: "race-gmem-convert-vcpu",
      description: "v8 conversions of host-mapped pages over 2 MiB folios (split and merge) while vCPUs fault them through guest_memfd",
      config: { ...V8, gmemFolio: "2M" },
      layout: GMEM_V7,
      actors: () => threads([thread("vCPU0", vcpuAccess(0)), thread("VMM", convert)], [thread("vCPU1", vcpuAccess(1))]),
      written: "m5",
      runs: 200,
    },
    ["2M", "4K", "1G"],
  ),
  ...onFolios(
    {
      name: "race-gmem-convert-convert",
      description: "two v8 conversions of overlapping ranges while a vCPU faults the pages",
      config: V8,
      layout: GMEM_V7,
      actors: () => threads([thread("VMM0", convert, 1), thread("VMM1", convert, 1)], [thread("vCPU0", vcpuAccess(0))]),
      runs: 150,
    },
    ["4K", "2M"],
  ),
  ...onFolios(
    {
      name: "race-gmem-punch",
      description: "PUNCH_HOLE and allocation of the hot pages while the host and a vCPU fault them",
      config: V8,
      layout: GMEM_V7,
      actors: (folio) => threads([thread("VMM", punch(folio)), thread("host", hostAccess)], [thread("vCPU0", vcpuAccess(0))]),
      runs: 150,
    },
    ["4K", "2M", "1G"],
  ),
  ...onFolios(rfcHostRace("race-gmem-rfc-2024", "2024 RFC with the fault path locked: KVM_SET_MEMORY_ATTRIBUTES conversions against host faults and pins", RFC), ["4K", "2M"]),
  // Without the vCPU: what the host sees holds; with one, the flaw RFC_FOLIO_LOCK_VCPU_RACE keeps.
  ...onFolios(
    rfcHostRace(
      "race-gmem-rfc-2024-folio-lock",
      "2024 RFC with Peter Xu's alternative (faultability read under the folio lock): conversions against host faults and pins",
      RFC_FOLIO_LOCK,
      false,
    ),
    ["4K", "2M"],
  ),
];

/** Not in the default check: it finds the flaw Peter Xu asked about (counterexamples/ keeps it). */
export const RFC_NO_LOCK_RACE = race(
  rfcHostRace("race-gmem-rfc-2024-no-fault-lock", "2024 RFC before its last patch: the host fault checks faultability without the invalidate lock", RFC_NO_FAULT_LOCK),
);

/**
 * Not in the default check: Peter Xu's folio lock with the vCPU of the RFC race. A host fault reads the faultability a
 * conversion stored before KVM has stored PRIVATE, so it SIGBUSes while a vCPU still finds the page shared: no order
 * explains both (counterexamples/ keeps it).
 */
export const RFC_FOLIO_LOCK_VCPU_RACE = race(
  rfcHostRace(
    "race-gmem-rfc-2024-folio-lock-vcpu",
    "2024 RFC with Peter Xu's folio lock: conversions against host faults and pins while a vCPU accesses the pages",
    RFC_FOLIO_LOCK,
  ),
);
