// What entries point at (model/mm/pointers.ts): the pointer invariants hold on the model's states, break on a stale
// pointer of each kind, and alone catch the seeded bugs whose pointers go stale while everything else looks right.
import { describe, expect, it } from "vitest";
import type { BugId } from "../impl/bugs.js";
import { initial, INVARIANTS, step, type State, type StateInvariant } from "../model/index.js";
import type { Mapping, PagePointer } from "../model/mm/types.js";
import { runConcurrentSuite } from "../props/concurrent/explore.js";
import { GMEM_RACES } from "../props/gmem/races.js";
import { suiteNamed } from "../props/registry.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";

const P = 4096;
const M = 1024 * 1024;
const inv = (name: string): StateInvariant => INVARIANTS.find((i): i is StateInvariant => i.name === name && i.kind === "state")!;
const PTES = inv("ptes-map-their-page");
const STAGE2 = inv("stage2-maps-current-page");

function build(ops: readonly Op[], config = PRESETS.default): State {
  let s = initial(config);
  for (const op of ops) s = step(s, op).state;
  return s;
}

// A shared shmem file behind m0 (page 1 cached), anonymous m1 with a private page, a memslot over m1 faulted in.
const SETUP: readonly Op[] = [
  { op: "memfd", file: "f0", size: 4 * P },
  { op: "mmap", map: "m0", file: "f0", offset: 0, length: 4 * P, shared: true },
  { op: "access", map: "m0", offset: P, kind: "write", byte: 7 },
  { op: "mmap", map: "m1", file: "anon", offset: 0, length: 2 * M },
  { op: "create_vm", vm: "v0", type: 0 },
  { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 2 * M, userspace: "m1", userspace_offset: 0 },
  { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 3 * P, kind: "write", byte: 9 },
];

const withPtePage = (s: State, map: string, page: PagePointer): State => {
  const m = s.mm.maps.get(map)!;
  const ptes = m.ptes.map((sp) => ({ ...sp, value: { ...sp.value, page } }));
  return { ...s, mm: { ...s.mm, maps: new Map([...s.mm.maps, [map, { ...m, ptes } as Mapping]]) } };
};
const withSptePage = (s: State, page: PagePointer): State => ({
  ...s,
  kvm: { ...s.kvm, vms: s.kvm.vms.map((vm) => ({ ...vm, stage2: vm.stage2.map((s2) => s2.map((sp) => ({ ...sp, value: { ...sp.value, page } }))) })) },
});

describe("ptes-map-their-page", () => {
  it("holds and is exercised on the model's states", () => {
    expect(PTES.check(build(SETUP))).toEqual({ holds: true, nonVacuous: true });
    expect(PTES.check(build(SETUP.slice(0, 2)))).toEqual({ holds: true, nonVacuous: false });
  });

  it("breaks on a file PTE pointing at the next page, at a freed page, or at a page the file no longer caches", () => {
    const s = build(SETUP);
    expect(PTES.check(withPtePage(s, "m0", { in: "file", file: 0, delta: 1 })).detail).toBe('m0 page 1 (file) points at {"in":"file","file":0,"delta":1}, not {"in":"file","file":0,"delta":0}');
    expect(PTES.check(withPtePage(s, "m0", { in: "freed" })).holds).toBe(false);
    const gone = { ...s, mm: { ...s.mm, files: s.mm.files.map((f) => ({ ...f, present: [] })) } };
    expect(PTES.check(gone)).toEqual({ holds: false, nonVacuous: true, detail: 'm0 page 1 points at {"in":"file","file":0,"delta":0}, a page its owner no longer holds' });
  });
});

describe("stage2-maps-current-page", () => {
  it("holds and is exercised on the model's states", () => {
    expect(STAGE2.check(build(SETUP))).toEqual({ holds: true, nonVacuous: true });
    expect(STAGE2.check(build(SETUP.slice(0, 6)))).toEqual({ holds: true, nonVacuous: false });
  });

  it("holds where leaves of two slots meet and merge into one span (zero pages of unrelated host pages)", () => {
    const s = build([
      { op: "create_vm", vm: "v0", type: 0 },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 16 * M },
      { op: "set_memory_region", vm: "v0", slot: 1, flags: [], guest_phys_addr: 4 * M, memory_size: 4 * M, userspace: "m0", userspace_offset: 4 * M },
      { op: "set_memory_region", vm: "v0", slot: 77, flags: [], guest_phys_addr: 8 * M, memory_size: P, userspace: "m0", userspace_offset: 0 },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 8 * M, kind: "read" },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 8 * M - P, kind: "read" },
    ]);
    expect(s.kvm.vms[0]!.stage2[0]).toEqual([{ start: 2047, end: 2049, value: { level: 0, writable: false, private: false, page: { in: "zero" } } }]);
    expect(STAGE2.check(s)).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks on a leaf pointing beside the host page, or over a page no host PTE maps any more", () => {
    const s = build(SETUP);
    expect(STAGE2.check(withSptePage(s, { in: "anon", map: "m1", delta: 1 })).detail).toBe(
      'v0: as 0 gfn 3 points at {"in":"anon","map":"m1","delta":1} where the host PTE points at {"in":"anon","map":"m1","delta":0}',
    );
    const unmapped = withPtePage(s, "m1", { in: "zero" });
    expect(STAGE2.check({ ...unmapped, mm: { ...unmapped.mm, maps: new Map([...unmapped.mm.maps, ["m1", { ...unmapped.mm.maps.get("m1")!, ptes: [] }]]) } }).detail).toBe(
      "v0: as 0 gfn 3 maps a host page no PTE of m1 maps",
    );
  });
});

describe("stale pointers the invariants alone find", () => {
  const only = (name: string) => ({ refinement: false, invariants: [name] });
  const cases: readonly { bug: BugId; suite: string; invariant: string }[] = [
    { bug: "fault-around-next-folio", suite: "uffd-private-file", invariant: "ptes-map-their-page" },
    { bug: "recover-huge-wrong-subpage", suite: "kvm-hugetlb-x86", invariant: "stage2-maps-current-page" },
  ];
  for (const c of cases) {
    it(`${c.bug}: ${c.invariant} in ${c.suite}`, async () => {
      const r = await suiteNamed(c.suite)!.run({ seed: 1, runs: 600, bugs: [c.bug], checks: only(c.invariant) });
      expect(r.failure?.property).toBe(c.invariant);
    });
  }

  it("gmem-punch-folio-unlocked: a host fault's PTE on a folio the punch freed, at the yield point it appears", async () => {
    const race = GMEM_RACES.find((s) => s.name === "race-gmem-punch-2m")!;
    const r = await runConcurrentSuite(race, { seed: 1, runs: 600, bugs: ["gmem-punch-folio-unlocked"], checks: only("ptes-map-their-page") });
    expect(r.failure?.property).toBe("ptes-map-their-page");
    expect(r.failure?.detail).toMatch(/points at \{"in":"freed"\}/);
  });
});
