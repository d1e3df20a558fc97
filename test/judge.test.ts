// The judge of concurrent histories on hand-built histories: segments with the implementation's end states
// written by hand, for the ways an implementation could slip through: a host PTE the mapping type forbids, a
// state carried from one segment into the next, an alternative outcome without a possible cause, a budget
// that runs out.
import { describe, expect, it } from "vitest";
import { initial, step, type State } from "../model/index.js";
import { withMap } from "../model/mm/fault.js";
import { pteOf } from "../model/mm/pages.js";
import type { Pte } from "../model/mm/types.js";
import { assign } from "../model/ranges.js";
import type { RaceOp } from "../props/concurrent/history.js";
import { Judge } from "../props/concurrent/judge.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { SEGV_MAPERR, type Outcome } from "../schema/outcome.js";

const P = 4096;

const run = (s: State, ops: readonly Op[]): State => ops.reduce((st, op) => step(st, op).state, s);

/** A history entry: `op` by `actor`, called at `call` and returned at `ret` with `impl`. */
const entry = (actor: string, index: number, op: Op, impl: Outcome, call: number, ret: number): RaceOp => ({
  actor, index, op, callStep: 0, retStep: 0, call, ret, impl,
});

/** One thread's operations one after another, each with the outcome the implementation gave. */
const sequential = (ops: readonly (readonly [Op, Outcome])[]): RaceOp[] =>
  ops.map(([op, out], i) => entry("T", i, op, out, 2 * i, 2 * i + 1));

/** The host PTE of a mapping's page set to `pte` (pointing at the page it names), with a private page behind it when `anon`. */
function withPte(s: State, map: string, page: number, pte: Omit<Pte, "page">, anon = false): State {
  const m = s.mm.maps.get(map)!;
  const ptes = assign(m.ptes, page, page + 1, pteOf(m, page, pte.target, pte.writable));
  return withMap(s, { ...m, ptes, anon: anon ? assign(m.anon, page, page + 1, true) : m.anon });
}

/** Judges the segments in order; the verdicts up to the first one that is not "ok". */
function judgeAll(start: State, segments: readonly { seg: RaceOp[]; impl: State }[]): string[] {
  const judge = new Judge(start);
  const kinds: string[] = [];
  for (const { seg, impl } of segments) {
    const v = judge.segment(seg, impl);
    kinds.push(v.kind);
    if (v.kind !== "ok") break;
  }
  return kinds;
}

describe("host PTEs beyond the model's, by mapping type", () => {
  const config = PRESETS["kernel-6.18"];
  const file: Op[] = [
    { op: "memfd", file: "f0", size: 2 * P },
    { op: "pwrite", file: "f0", offset: 0, byte: 5, len: 1 },
  ];
  const read = (map: string): Op => ({ op: "access", map, offset: 0, kind: "read" });
  const write = (map: string): Op => ({ op: "access", map, offset: 0, kind: "write", byte: 9 });
  const pread: Op = { op: "pread", file: "f0", offset: 0, len: 1 };

  it("a MAP_PRIVATE write that reaches the file is rejected (a writable page-cache PTE in a private mapping)", () => {
    const start = run(initial(config), [...file, { op: "mmap", map: "m1", file: "f0", offset: 0, length: 2 * P, shared: false }]);
    // The implementation's read fault maps the page-cache page writable; its later write goes to the file.
    const afterRead = withPte(run(start, [read("m1")]), "m1", 0, { target: "file", writable: true });
    const afterWrite = run(afterRead, [write("m1")]);
    const kinds = judgeAll(start, [
      { seg: sequential([[read("m1"), { result: "ok", value: 5 }]]), impl: afterRead },
      { seg: sequential([[write("m1"), { result: "ok" }]]), impl: afterWrite },
      { seg: sequential([[pread, { result: "ok", value: 9 }]]), impl: afterWrite },
    ]);
    expect(kinds).toEqual(["state"]);
  });

  it("a MAP_SHARED write that never reaches the file is rejected (a private page in a shared mapping)", () => {
    const start = run(initial(config), [...file, { op: "mmap", map: "m2", file: "f0", offset: 0, length: 2 * P, shared: true }]);
    // The implementation's read fault maps a private copy; the write lands there and the file keeps 5.
    const afterRead = withPte(run(start, [read("m2")]), "m2", 0, { target: "anon", writable: true }, true);
    const afterWrite = run(afterRead, [write("m2")]);
    const kinds = judgeAll(start, [
      { seg: sequential([[read("m2"), { result: "ok", value: 5 }]]), impl: afterRead },
      { seg: sequential([[write("m2"), { result: "ok" }]]), impl: afterWrite },
      { seg: sequential([[pread, { result: "ok", value: 5 }]]), impl: afterWrite },
    ]);
    expect(kinds).toEqual(["state"]);
  });
  it("a host PTE the model lacks must be one a fault could have made in that mapping", () => {
    const start = run(initial(config), [
      ...file,
      { op: "mmap", map: "m1", file: "f0", offset: 0, length: 2 * P, shared: false },
      { op: "mmap", map: "m2", file: "f0", offset: 0, length: 2 * P, shared: true },
      { op: "mmap", map: "m3", file: "f0", offset: 0, length: 2 * P, shared: true, prot: "r" },
    ]);
    const seg = sequential([[pread, { result: "ok", value: 5 }]]);
    const judged = (impl: State): string => new Judge(start).segment(seg, impl).kind;
    expect(judged(start)).toBe("ok");
    // What a fault that retried leaves: the page cache mapped read-only (private), writable (shared), a COW copy.
    expect(judged(withPte(start, "m1", 0, { target: "file", writable: false }))).toBe("ok");
    expect(judged(withPte(start, "m2", 0, { target: "file", writable: true }))).toBe("ok");
    expect(judged(withPte(start, "m1", 1, { target: "anon", writable: true }, true))).toBe("ok");
    // What no fault makes.
    expect(judged(withPte(start, "m1", 0, { target: "file", writable: true }))).toBe("state");
    expect(judged(withPte(start, "m2", 0, { target: "anon", writable: true }, true))).toBe("state");
    expect(judged(withPte(start, "m2", 0, { target: "zero", writable: false }))).toBe("state");
    expect(judged(withPte(start, "m3", 0, { target: "file", writable: true }))).toBe("state");
    const m2 = start.mm.maps.get("m2")!;
    expect(judged(withMap(start, { ...m2, anon: assign(m2.anon, 1, 2, true) }))).toBe("state");
  });
});

describe("where the next segment starts", () => {
  const config = PRESETS.default;
  const setup: Op[] = [
    { op: "create_vm", vm: "v0" },
    { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P },
    { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 4 * P, userspace: "m0", userspace_offset: 0 },
  ];
  const write: Op = { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: P, kind: "write", byte: 3 };

  it("is the model's final state, with only the SPTEs the implementation has not made taken from it", () => {
    const start = run(initial(config), setup);
    const final = run(start, [write]);
    // The implementation's fault mapped the page on the host but its SPTE is gone (zapped since): a cache miss.
    const impl: State = { ...final, kvm: { ...final.kvm, vms: final.kvm.vms.map((vm) => ({ ...vm, stage2: vm.stage2.map(() => []) })) } };
    const judge = new Judge(start);
    const v = judge.segment(sequential([[write, { result: "ok" }]]), impl);
    expect(v.kind).toBe("ok");
    if (v.kind !== "ok") return;
    expect(judge.state.kvm.vms[0]!.stage2).toBe(impl.kvm.vms[0]!.stage2);
    expect(judge.state.kvm.vms[0]!.slots).toBe(v.final.kvm.vms[0]!.slots);
    expect(judge.state.mm.maps.get("m0")!.anonData).toBe(v.final.mm.maps.get("m0")!.anonData);
    expect(judge.state.uffd).toBe(v.final.uffd);
  });

  it("stays where the segment started when the segment is rejected", () => {
    const start = run(initial(config), setup);
    const judge = new Judge(start);
    expect(judge.segment(sequential([[write, { result: "ok" }]]), start).kind).toBe("state");
    expect(judge.state).toBe(start);
  });
});

describe("an SPTE writable where the model's is read-only", () => {
  const setup: Op[] = [
    { op: "create_vm", vm: "v0" },
    { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P },
    { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 4 * P, userspace: "m0", userspace_offset: 0 },
  ];
  const read: Op = { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" };
  /** gfn 0 mapped writable to m0's private page 0. */
  const writableSpte = (s: State): State => ({
    ...s,
    kvm: {
      ...s.kvm,
      vms: s.kvm.vms.map((vm) => ({
        ...vm,
        stage2: vm.stage2.map((s2, as) =>
          as === 0 ? assign(s2, 0, 1, { level: 0 as const, writable: true, private: false, page: { in: "anon" as const, map: "m0", delta: 0 } }) : s2,
        ),
      })),
    },
  });

  for (const config of [PRESETS.default, PRESETS.arm64]) {
    it(`${config.arch}: is allowed when it maps the writable private page a retried write fault left on the host`, () => {
      const start = run(initial(config), setup);
      // The model's read maps the zero page read-only. The implementation's host has the private page an earlier
      // vCPU write's GUP made before the fault retried and exited, and its read maps that page writable.
      const impl = writableSpte(withPte(run(start, [read]), "m0", 0, { target: "anon", writable: true }, true));
      expect(new Judge(start).segment(sequential([[read, { result: "ok", value: 0 }]]), impl).kind).toBe("ok");
    });

    it(`${config.arch}: is rejected when the host page behind it is the model's read-only one`, () => {
      const start = run(initial(config), setup);
      const impl = writableSpte(run(start, [read]));
      expect(new Judge(start).segment(sequential([[read, { result: "ok", value: 0 }]]), impl).kind).toBe("state");
    });
  }
});

describe("a search that runs out of budget", () => {
  const config = PRESETS["kernel-6.18"];
  const start = run(initial(config), [{ op: "memfd", file: "f0", size: P }]);
  // Eight writes of distinct bytes, all overlapping, then a read: deciding it takes more than a few steps.
  const writes = Array.from({ length: 8 }, (_, i) => entry(`W${i}`, 0, { op: "pwrite", file: "f0", offset: 0, byte: i + 1, len: 1 }, { result: "ok" }, i, 20 + i));
  const read = entry("R", 0, { op: "pread", file: "f0", offset: 0, len: 1 }, { result: "ok", value: 3 }, 40, 41);
  const impl = run(start, [{ op: "pwrite", file: "f0", offset: 0, byte: 3, len: 1 }]);

  it("is undecided, and the judge stays where the segment started", () => {
    const judge = new Judge(start, 2);
    expect(judge.segment([...writes, read], impl).kind).toBe("undecided");
    expect(judge.state).toBe(start);
  });

  it("with enough budget the same segment is decided", () => {
    const judge = new Judge(start);
    expect(judge.segment([...writes, read], impl).kind).toBe("ok");
  });
});

describe("an alternative outcome needs an operation that could cause it", () => {
  const MiB = 1024 * 1024;
  const start = run(initial(PRESETS["gmem-v7"]), [
    { op: "create_vm", vm: "v0", type: 1 },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * MiB, flags: ["MMAP", "INIT_SHARED"] },
    { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: 4 * MiB },
    { op: "write_alias", map: "m5", offset: P, byte: 7 },
    { op: "munmap", map: "m5", offset: P, len: P },
  ]);
  const convert: Op = { op: "gmem_convert", gmem: "g0", offset: 0, size: 2 * P, to: "private" };
  const eagain: Outcome = { errno: "EAGAIN", error_offset: P };
  const segment = (other: Op, out: Outcome): RaceOp[] => [entry("VMM", 0, convert, eagain, 0, 3), entry("host", 0, other, out, 1, 2)];

  it("a conversion's EAGAIN is not excused by an access through an unmapped page (a SIGSEGV, the folio untouched)", () => {
    const v = new Judge(start).segment(segment({ op: "access", map: "m5", offset: P, kind: "read" }, SEGV_MAPERR), start);
    expect(v.kind).toBe("outcome");
  });

  it("it is excused by an alias access that faults the page in", () => {
    const v = new Judge(start).segment(segment({ op: "read_alias", map: "m5", offset: P }, { result: "ok", value: 7 }), start);
    expect(v.kind).toBe("ok");
  });
});
