// Read fault-around (mm/memory.c do_fault_around -> mm/filemap.c filemap_map_pages): which neighbours of a read
// fault on a shmem mapping get PTEs, in the model, and the implementation agreeing with it (corpus
// uffd/fault-around-* checks the same on the kernel).
import { describe, expect, it } from "vitest";
import { initial, step, type State } from "../model/index.js";
import { spans } from "../model/ranges.js";
import { Checker } from "../props/checker.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";

const P = 4096;
const MiB = 1024 * 1024;
const K618 = PRESETS["kernel-6.18"];

const shmem = (size = 2 * MiB, map = "m1", file = "f0", shared = true): Op[] => [
  { op: "memfd", file, size },
  { op: "mmap", map, file, offset: 0, length: size, shared },
];
const cache = (first: number, pages: number, file = "f0"): Op => ({ op: "pwrite", file, offset: first * P, len: pages * P, byte: 5 });
const read = (page: number, map = "m1"): Op => ({ op: "access", map, offset: page * P, kind: "read" });
const reg = (mode: ("MISSING" | "MINOR" | "WP")[], offset = 0, len = 2 * MiB, map = "m1"): Op[] => [
  { op: "uffd_open", uffd: "u0", features: [] },
  { op: "uffd_register", uffd: "u0", map, offset, len, mode },
];

/** The model's state after the ops, with the implementation checked against it on the way. */
async function after(ops: readonly Op[], config: Config = K618): Promise<State> {
  await new Checker(config).applyAll(ops);
  return ops.reduce((s, op) => step(s, op).state, initial(config));
}

/** Pages of a mapping with a present PTE, as [start, end) runs. */
const mapped = (s: State, map = "m1"): [number, number][] => spans(s.mm.maps.get(map)!.ptes, 0, Number.MAX_SAFE_INTEGER).map((sp) => [sp.start, sp.end]);

describe("fault-around", () => {
  it("maps the uptodate cached pages of the aligned 16-page window, writable in a shared rw mapping", async () => {
    const s = await after([...shmem(), cache(0, 40), read(20)]);
    expect(mapped(s)).toEqual([[16, 32]]);
    expect(s.mm.maps.get("m1")!.ptes[0]!.value).toEqual({ target: "file", writable: true, page: { in: "file", file: 0, delta: 0 } });
    expect(step(initial(K618), cache(0, 1)).fired).not.toContain("mm.fault-around");
    const r = [...shmem(), cache(0, 40)].reduce((st, op) => step(st, op).state, initial(K618));
    expect(step(r, read(20)).fired).toContain("mm.fault-around");
  });

  it("maps only cached pages, and the faulting one even when it was not cached", async () => {
    expect(mapped(await after([...shmem(), cache(16, 2), cache(30, 1), read(20)]))).toEqual([[16, 18], [20, 21], [30, 31]]);
  });

  it("starts at the VMA start when that is later than the aligned start, and ends at the page table's end", async () => {
    expect(mapped(await after([...shmem(), cache(0, 40), { op: "munmap", map: "m1", offset: 0, len: 18 * P }, read(20)]))).toEqual([[18, 34]]);
    expect(mapped(await after([...shmem(4 * MiB), cache(480, 60), { op: "munmap", map: "m1", offset: 0, len: 500 * P }, read(505)]))).toEqual([[500, 512]]);
  });

  it("stays inside the VMA: a registered range next to it is another VMA", async () => {
    const s = await after([...shmem(), cache(0, 40), ...reg(["MINOR"], 16 * P, 2 * P), { op: "uffd_register", uffd: "u0", map: "m1", offset: 24 * P, len: 2 * P, mode: ["MINOR"] }, read(20)]);
    expect(mapped(s)).toEqual([[18, 24]]);
  });

  it("stops at i_size, and what it mapped stays when the fault itself SIGBUSes past EOF", async () => {
    const ops: Op[] = [{ op: "memfd", file: "f0", size: 18 * P }, { op: "mmap", map: "m1", file: "f0", offset: 0, length: 24 * P }, cache(16, 2), read(20)];
    const s = await after(ops);
    const last = step(ops.slice(0, -1).reduce((st, op) => step(st, op).state, initial(K618)), read(20));
    expect(last.outcome).toEqual({ result: "SIGBUS", code: "BUS_ADRERR" });
    expect(mapped(s)).toEqual([[16, 18]]);
  });

  it("skips pages fallocate added until they are initialized (a second fallocate, a write)", async () => {
    const falloc = (first: number, pages: number): Op => ({ op: "file_fallocate", file: "f0", mode: ["KEEP_SIZE"], offset: first * P, len: pages * P });
    const s = await after([...shmem(), falloc(16, 4), falloc(18, 1), { op: "pwrite", file: "f0", offset: 19 * P, len: 1, byte: 3 }, read(24)]);
    expect(mapped(s)).toEqual([[18, 20], [24, 25]]);
    expect(s.mm.files[0]!.falloced).toEqual([{ start: 16, end: 18, value: true }]);
  });

  it("is off in MINOR- or WP-registered VMAs, on in MISSING-only ones", async () => {
    expect(mapped(await after([...shmem(), cache(0, 40), ...reg(["MISSING"]), read(20)]))).toEqual([[16, 32]]);
    expect(mapped(await after([...shmem(), cache(0, 19), ...reg(["MINOR"]), read(20)]))).toEqual([[20, 21]]);
    expect(mapped(await after([...shmem(), cache(0, 40), ...reg(["WP"]), read(20)]))).toEqual([[20, 21]]);
  });

  it("maps read-only in a private mapping, and a vCPU's GUP read takes it too", async () => {
    const priv = await after([...shmem(2 * MiB, "m2", "f0", false), cache(0, 40), read(36, "m2")]);
    expect(mapped(priv, "m2")).toEqual([[32, 40]]);
    expect(priv.mm.maps.get("m2")!.ptes[0]!.value).toEqual({ target: "file", writable: false, page: { in: "file", file: 0, delta: 0 } });
    const vcpu = await after([
      ...shmem(),
      cache(0, 40),
      { op: "create_vm", vm: "v0" },
      { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 2 * MiB, userspace: "m1", userspace_offset: 0 },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 20 * P, kind: "read" },
    ]);
    expect(mapped(vcpu)).toEqual([[16, 32]]);
  });

  it("only shmem has ->map_pages: anonymous and guest_memfd mappings map just the faulting page", async () => {
    expect(mapped(await after([{ op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB }, { op: "access", map: "m0", offset: 22 * P, kind: "write", byte: 1 }, read(20, "m0")]), "m0")).toEqual([[20, 21], [22, 23]]);
    const gmem: Op[] = [
      { op: "create_vm", vm: "v0" },
      { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * MiB, flags: ["MMAP", "INIT_SHARED"] },
      { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: 2 * MiB },
      { op: "write_alias", map: "m5", offset: 0, len: 40 * P, byte: 1 },
      read(20, "m5"),
    ];
    expect(mapped(await after(gmem), "m5")).toEqual([[20, 21]]);
  });

  it("a page it mapped before a MINOR registration is read without a fault (D7)", async () => {
    const c = new Checker(K618);
    await c.applyAll([...shmem(), { op: "write_alias", map: "m1", offset: 0, byte: 1 }, read(1), ...reg(["MINOR"]), read(0)]);
    expect(c.trace.at(-1)!.model).toEqual({ result: "ok", value: 1 });
  });
});
