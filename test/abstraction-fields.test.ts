// The abstraction is complete: every field impl/abstraction.ts fills is checked. Each case breaks one field of the
// implementation's abstract state (wherever the state has something there) and runs a suite of the default check,
// whose generated operations must fail on it. The fields that say what an entry points at (a host PTE's page, a
// stage-2 leaf's page) must also fail with refinement off: the pointer invariants alone see a stale pointer.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSystem, type System } from "../impl/system.js";
import type { State } from "../model/index.js";
import type { GmemInode } from "../model/gmem/types.js";
import type { Memslot, Spte, Vm } from "../model/kvm/types.js";
import type { Mapping, MemFile, PagePointer, Pte } from "../model/mm/types.js";
import type { RangeMap } from "../model/ranges.js";
import type { UffdState } from "../model/uffd/types.js";
import { ALL_CHECKS, Checker, PropertyFailure, type Checks } from "../props/checker.js";
import type { Config } from "../schema/config.js";
import { suiteOps } from "./helpers/suite-ops.js";

type Break = (s: State) => State;

/** A range map with its first span one index shorter (gone when it had one index). */
function shortened<V>(m: RangeMap<V> | undefined): RangeMap<V> | undefined {
  const first = m?.[0];
  if (m === undefined || first === undefined) return m;
  return first.end - first.start > 1 ? [{ ...first, end: first.end - 1 }, ...m.slice(1)] : m.slice(1);
}

/** A page map without its first entry. */
const withoutFirst = <K, V>(m: ReadonlyMap<K, V>): ReadonlyMap<K, V> => new Map([...m].slice(1));

const vms = (f: (vm: Vm) => Vm): Break => (s) => ({ ...s, kvm: { ...s.kvm, vms: s.kvm.vms.map(f) } });
const slots = (f: (sl: Memslot) => Memslot): Break => vms((vm) => ({ ...vm, slots: vm.slots.map(f) }));
const sptes = (f: (v: Spte) => Spte): Break => vms((vm) => ({ ...vm, stage2: vm.stage2.map((s2) => s2.map((sp) => ({ ...sp, value: f(sp.value) }))) }));
const inodes = (f: (g: GmemInode) => GmemInode): Break => (s) => ({ ...s, gmem: { ...s.gmem, inodes: s.gmem.inodes.map(f) } });
const files = (f: (x: MemFile) => MemFile): Break => (s) => ({ ...s, mm: { ...s.mm, files: s.mm.files.map(f) } });
const maps = (f: (m: Mapping) => Mapping): Break => (s) => ({ ...s, mm: { ...s.mm, maps: new Map([...s.mm.maps].map(([k, m]) => [k, f(m)])) } });
const ptes = (f: (p: Pte) => Pte): Break => maps((m) => ({ ...m, ptes: m.ptes.map((sp) => ({ ...sp, value: f(sp.value) })) }));
const uffd = (f: (u: UffdState) => UffdState): Break => (s) => ({ ...s, uffd: f(s.uffd) });
/** A pointer one page further into its owner (the zero page stays). */
const shifted = (p: PagePointer): PagePointer => ("delta" in p ? { ...p, delta: p.delta + 1 } : p);

interface Case {
  readonly field: string;
  readonly suite: string;
  readonly broken: Break;
  /** Checks that must catch it alone, besides the full check. */
  readonly alone?: Checks;
}

const INVARIANTS_ONLY: Checks = { refinement: false, invariants: true };

const CASES: readonly Case[] = [
  { field: "kvm.vms[].type", suite: "kvm-anon-x86", broken: vms((vm) => ({ ...vm, type: vm.type + 1 })) },
  { field: "kvm.vms[].slots[].slot", suite: "kvm-anon-x86", broken: slots((sl) => ({ ...sl, slot: sl.slot + 1 })) },
  { field: "kvm.vms[].slots[].as", suite: "kvm-anon-smm-x86", broken: slots((sl) => ({ ...sl, as: 0 })) },
  { field: "kvm.vms[].slots[].id", suite: "kvm-anon-x86", broken: slots((sl) => ({ ...sl, id: sl.id + 1 })) },
  { field: "kvm.vms[].slots[].baseGfn", suite: "kvm-anon-x86", broken: slots((sl) => ({ ...sl, baseGfn: sl.baseGfn + 1 })) },
  { field: "kvm.vms[].slots[].npages", suite: "kvm-anon-x86", broken: slots((sl) => ({ ...sl, npages: sl.npages - 1 })) },
  { field: "kvm.vms[].slots[].userspaceAddr", suite: "kvm-anon-x86", broken: slots((sl) => ({ ...sl, userspaceAddr: sl.userspaceAddr + 4096 })) },
  { field: "kvm.vms[].slots[].flags", suite: "kvm-anon-x86", broken: slots((sl) => ({ ...sl, flags: sl.flags.length > 0 ? [] : sl.flags })) },
  { field: "kvm.vms[].slots[].gmem", suite: "kvm-gmem-x86", broken: slots((sl) => ({ ...sl, gmem: sl.gmem === null ? null : { ...sl.gmem, pgoff: sl.gmem.pgoff + 1 } })) },
  { field: "kvm.vms[].slots[].gmemOnly", suite: "kvm-gmem-x86", broken: slots((sl) => ({ ...sl, gmemOnly: false })) },
  { field: "kvm.vms[].slots[].userfaultBitmap", suite: "refusals-kvm", broken: slots((sl) => ({ ...sl, userfaultBitmap: sl.userfaultBitmap === null ? null : sl.userfaultBitmap + 8 })) },
  { field: "kvm.vms[].attributes", suite: "kvm-anon-x86", broken: vms((vm) => ({ ...vm, attributes: shortened(vm.attributes)! })) },
  { field: "kvm.vms[].stage2[].level", suite: "kvm-hugetlb-x86", broken: sptes((v) => ({ ...v, level: v.level > 0 ? 0 : v.level })) },
  { field: "kvm.vms[].stage2[].writable", suite: "kvm-anon-x86", broken: sptes((v) => ({ ...v, writable: false })) },
  { field: "kvm.vms[].stage2[].private", suite: "gmem-v8", broken: sptes((v) => ({ ...v, private: false })) },
  { field: "kvm.vms[].stage2[].page", suite: "kvm-anon-x86", broken: sptes((v) => ({ ...v, page: shifted(v.page) })), alone: INVARIANTS_ONLY },
  { field: "kvm.vms[].stage2 (spans)", suite: "kvm-anon-x86", broken: vms((vm) => ({ ...vm, stage2: vm.stage2.map((s2) => shortened(s2)!) })) },
  { field: "kvm.vms[].bitmaps", suite: "kvm-anon-x86", broken: vms((vm) => ({ ...vm, bitmaps: new Map([...vm.bitmaps].map(([k, b]) => [k, shortened(b)!])) })) },
  { field: "kvm.vms[].dirty", suite: "dirty-log-x86", broken: vms((vm) => ({ ...vm, dirty: new Map([...vm.dirty].map(([k, b]) => [k, shortened(b)!])) })) },
  { field: "kvm.vms[].manualDirtyLogProtect", suite: "dirty-log-manual-x86", broken: vms((vm) => ({ ...vm, manualDirtyLogProtect: 0 })) },
  { field: "kvm.names", suite: "kvm-anon-x86", broken: (s) => ({ ...s, kvm: { ...s.kvm, names: new Map([...s.kvm.names].map(([k, v]) => [`${k}'`, v])) } }) },
  { field: "gmem.inodes[].vm", suite: "gmem-v8", broken: inodes((g) => ({ ...g, vm: g.vm + 1 })) },
  { field: "gmem.inodes[].size", suite: "gmem-v8", broken: inodes((g) => ({ ...g, size: g.size + 4096 })) },
  { field: "gmem.inodes[].flags", suite: "gmem-v8", broken: inodes((g) => ({ ...g, flags: [] })) },
  { field: "gmem.inodes[].open", suite: "gmem-v8", broken: inodes((g) => ({ ...g, open: true })) },
  { field: "gmem.inodes[].folioPages", suite: "gmem-v8", broken: inodes((g) => ({ ...g, folioPages: g.folioPages + 1 })) },
  { field: "gmem.inodes[].present", suite: "gmem-v8", broken: inodes((g) => ({ ...g, present: shortened(g.present)! })) },
  { field: "gmem.inodes[].data", suite: "gmem-v8", broken: inodes((g) => ({ ...g, data: withoutFirst(g.data) })) },
  { field: "gmem.inodes[].bindings", suite: "gmem-v8", broken: inodes((g) => ({ ...g, bindings: shortened(g.bindings)! })) },
  { field: "gmem.inodes[].shared", suite: "gmem-v8", broken: inodes((g) => ({ ...g, shared: shortened(g.shared)! })) },
  { field: "gmem.inodes[].split", suite: "gmem-v8-2m", broken: inodes((g) => ({ ...g, split: shortened(g.split)! })) },
  { field: "gmem.inodes[].pins", suite: "gmem-v8", broken: inodes((g) => ({ ...g, pins: shortened(g.pins)! })) },
  { field: "gmem.names", suite: "gmem-v8", broken: (s) => ({ ...s, gmem: { ...s.gmem, names: new Map([...s.gmem.names].map(([k, v]) => [`${k}'`, v])) } }) },
  { field: "mm.files[].kind", suite: "uffd-hugetlb", broken: files((f) => ({ ...f, kind: "shmem" })) },
  { field: "mm.files[].size", suite: "uffd-shmem", broken: files((f) => ({ ...f, size: f.size + 1 })) },
  { field: "mm.files[].folioPages", suite: "uffd-shmem", broken: files((f) => ({ ...f, folioPages: f.folioPages + 1 })) },
  { field: "mm.files[].present", suite: "uffd-shmem", broken: files((f) => ({ ...f, present: shortened(f.present)! })) },
  { field: "mm.files[].data", suite: "uffd-shmem", broken: files((f) => ({ ...f, data: withoutFirst(f.data) })) },
  { field: "mm.files[].falloced", suite: "refusals-mm", broken: files((f) => ({ ...f, falloced: shortened(f.falloced) })) },
  { field: "mm.files[].anon", suite: "refusals-mm", broken: files((f) => (f.anon === true ? { ...f, anon: undefined } : f)) },
  { field: "mm.names", suite: "uffd-shmem", broken: (s) => ({ ...s, mm: { ...s.mm, names: new Map([...s.mm.names].map(([k, v]) => [`${k}'`, v])) } }) },
  { field: "mm.maps[].id", suite: "uffd-shmem", broken: maps((m) => ({ ...m, id: `${m.id}'` })) },
  { field: "mm.maps[].base", suite: "uffd-shmem", broken: maps((m) => ({ ...m, base: m.base + 4096 })) },
  { field: "mm.maps[].pages", suite: "uffd-shmem", broken: maps((m) => ({ ...m, pages: m.pages + 1 })) },
  { field: "mm.maps[].backing", suite: "uffd-shmem", broken: maps((m) => ({ ...m, backing: m.backing.kind === "memfd" ? { ...m.backing, offset: m.backing.offset + 4096 } : m.backing })) },
  { field: "mm.maps[].shared", suite: "uffd-shmem", broken: maps((m) => ({ ...m, shared: !m.shared })) },
  { field: "mm.maps[].prot", suite: "uffd-shmem", broken: maps((m) => ({ ...m, prot: m.prot === "rw" ? "r" : "rw" })) },
  { field: "mm.maps[].live", suite: "uffd-shmem", broken: maps((m) => ({ ...m, live: shortened(m.live)! })) },
  { field: "mm.maps[].ptes[].target", suite: "uffd-private-file", broken: ptes((p) => ({ ...p, target: p.target === "file" ? "anon" : p.target })) },
  { field: "mm.maps[].ptes[].writable", suite: "uffd-shmem", broken: ptes((p) => ({ ...p, writable: !p.writable })) },
  { field: "mm.maps[].ptes[].page", suite: "uffd-shmem", broken: ptes((p) => ({ ...p, page: shifted(p.page) })), alone: INVARIANTS_ONLY },
  { field: "mm.maps[].ptes[].uffdWp", suite: "refusals-kernel-6.18", broken: ptes((p) => (p.uffdWp === true ? { target: p.target, writable: p.writable, page: p.page } : p)) },
  { field: "mm.maps[].ptes (spans)", suite: "uffd-shmem", broken: maps((m) => ({ ...m, ptes: shortened(m.ptes)! })) },
  { field: "mm.maps[].anon", suite: "uffd-anon", broken: maps((m) => ({ ...m, anon: shortened(m.anon)! })) },
  { field: "mm.maps[].anonData", suite: "uffd-anon", broken: maps((m) => ({ ...m, anonData: withoutFirst(m.anonData) })) },
  { field: "mm.maps[].uffd", suite: "uffd-shmem", broken: maps((m) => ({ ...m, uffd: shortened(m.uffd) })) },
  { field: "mm.maps[].markers", suite: "uffd-shmem", broken: maps((m) => ({ ...m, markers: shortened(m.markers) })) },
  { field: "uffd.ctxs[].name", suite: "uffd-shmem", broken: uffd((u) => ({ ...u, ctxs: u.ctxs.map((c) => ({ ...c, name: `${c.name}'` })) })) },
  { field: "uffd.ctxs[].features", suite: "uffd-shmem", broken: uffd((u) => ({ ...u, ctxs: u.ctxs.map((c) => ({ ...c, features: c.features.length > 0 ? [] : c.features })) })) },
  { field: "uffd.ctxs[].userModeOnly", suite: "refusals-mm", broken: uffd((u) => ({ ...u, ctxs: u.ctxs.map((c) => ({ ...c, userModeOnly: false })) })) },
  { field: "uffd.ctxs[].released", suite: "uffd-shmem", broken: uffd((u) => ({ ...u, ctxs: u.ctxs.map((c) => ({ ...c, released: false })) })) },
  { field: "uffd.names", suite: "uffd-shmem", broken: uffd((u) => ({ ...u, names: new Map([...u.names].map(([k, v]) => [`${k}'`, v])) })) },
  { field: "uffd.threads[].name", suite: "uffd-shmem", broken: uffd((u) => ({ ...u, threads: u.threads.map((t) => ({ ...t, name: `${t.name}'` })) })) },
  { field: "uffd.threads[].op", suite: "uffd-shmem", broken: uffd((u) => ({ ...u, threads: u.threads.map((t) => ({ ...t, op: t.op.op === "access" ? { ...t.op, offset: t.op.offset + 1 } : t.op })) })) },
  { field: "uffd.threads[].faults", suite: "uffd-shmem", broken: uffd((u) => ({ ...u, threads: u.threads.map((t) => ({ ...t, faults: t.faults + 1 })) })) },
  { field: "uffd.threads[].status", suite: "uffd-shmem", broken: uffd((u) => ({ ...u, threads: u.threads.map((t) => ({ ...t, status: t.status.kind === "blocked" ? { kind: "done" as const, outcome: { result: "ok" as const } } : t.status })) })) },
];

/** Runs the suite's generated operations with the broken abstraction until a run fails; the failing property. */
async function firstFailure(suite: string, broken: Break, checks: Checks, runs = 300): Promise<string | undefined> {
  const { config, setup, ops } = suiteOps(suite);
  const system = (c: Config): System => {
    const real = createSystem(c);
    return { config: c, exec: (op) => real.exec(op), abstract: () => broken(real.abstract()) };
  };
  for (const run of fc.sample(fc.array(ops, { minLength: 1, maxLength: 40 }), { seed: 7, numRuns: runs })) {
    try {
      await new Checker(config, checks, undefined, system).applyAll([...setup, ...run]);
    } catch (e) {
      if (e instanceof PropertyFailure) return e.failure.property;
      throw e;
    }
  }
  return undefined;
}

describe("every field of the abstraction is checked", () => {
  for (const c of CASES) {
    it(`${c.field}: broken, ${c.suite} fails`, async () => {
      expect(await firstFailure(c.suite, c.broken, ALL_CHECKS), `${c.field} broken, ${c.suite} still passes`).toBeDefined();
      if (c.alone !== undefined) expect(await firstFailure(c.suite, c.broken, c.alone), `${c.field} broken, invariants alone pass`).toMatch(/^(ptes-map-their-page|stage2-maps-current-page)$/);
    });
  }
});
