// Mappings made through a read-only fd: a memfd opened again through /proc/self/fd with O_RDONLY (or O_WRONLY), and
// what read, write, fallocate, mmap, userfaultfd registration and MADV_REMOVE do through it or on its mappings.
// Through model and impl; checked on the running kernel (corpus host_memory/reopen-readonly, uffd/readonly-mapping).
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";

const P = 4096;
const H = 2 * 1024 * 1024;
const K618 = PRESETS["kernel-6.18"];

/** memfd f0 (4 pages, page 0 holds 5), reopened as r0 (O_RDONLY) and w0 (O_WRONLY); uffd u0. */
const FILES: readonly Op[] = [
  { op: "memfd", file: "f0", size: 4 * P },
  { op: "pwrite", file: "f0", offset: 0, byte: 5, len: 1 },
  { op: "reopen", file: "r0", from: "f0", mode: "r" },
  { op: "reopen", file: "w0", from: "f0", mode: "w" },
  { op: "uffd_open", uffd: "u0", features: [] },
];
const map = (file: string, shared: boolean, prot: "rw" | "r", m = "m0"): Op => ({ op: "mmap", map: m, file, offset: 0, length: 4 * P, shared, prot });
/** m0: r0 shared, read-only; m1: r0 private, read-write. */
const MAPS: readonly Op[] = [...FILES, map("r0", true, "r"), map("r0", false, "rw", "m1")];
const register = (m: string, mode: ("MISSING" | "MINOR")[] = ["MISSING"]): Op => ({ op: "uffd_register", uffd: "u0", map: m, offset: 0, len: 4 * P, mode });

interface Case {
  readonly name: string;
  readonly config?: Config;
  readonly setup: readonly Op[];
  readonly op: Op;
  readonly outcome: Outcome;
  readonly rule: string;
}

const CASES: readonly Case[] = [
  // opening again
  { name: "a memfd opens again O_RDONLY", setup: FILES, op: { op: "reopen", file: "r1", from: "f0", mode: "r" }, outcome: { result: "ok" }, rule: "mm.reopen" },
  { name: "/proc/self/fd has no entry for a name no fd has", setup: FILES, op: { op: "reopen", file: "r1", from: "f9", mode: "r" }, outcome: { errno: "ENOENT" }, rule: "mm.reopen-enoent" },
  { name: "a userfaultfd cannot be opened again", setup: FILES, op: { op: "reopen", file: "r1", from: "u0", mode: "r" }, outcome: { errno: "ENXIO" }, rule: "mm.reopen-enxio" },
  { name: "a VM fd cannot be opened again", setup: [{ op: "create_vm", vm: "v0" }], op: { op: "reopen", file: "r1", from: "v0", mode: "rw" }, outcome: { errno: "ENXIO" }, rule: "mm.reopen-enxio" },
  {
    name: "a guest_memfd cannot be opened again",
    setup: [{ op: "create_vm", vm: "v0" }, { op: "create_gmem", vm: "v0", gmem: "g0", size: P, flags: [] }],
    op: { op: "reopen", file: "r1", from: "g0", mode: "rw" },
    outcome: { errno: "ENXIO" },
    rule: "mm.reopen-enxio",
  },
  // read and write through the fds
  { name: "pwrite through O_RDONLY", setup: FILES, op: { op: "pwrite", file: "r0", offset: 0, byte: 1, len: 1 }, outcome: { errno: "EBADF" }, rule: "mm.pwrite-ebadf" },
  { name: "pread through O_WRONLY", setup: FILES, op: { op: "pread", file: "w0", offset: 0 }, outcome: { errno: "EBADF" }, rule: "mm.pread-ebadf" },
  { name: "pread through O_RDONLY sees the page cache", setup: FILES, op: { op: "pread", file: "r0", offset: 0 }, outcome: { result: "ok", value: 5 }, rule: "mm.pread" },
  {
    name: "pwrite through an O_RDONLY hugetlbfs fd: EBADF before hugetlbfs's EINVAL",
    setup: [{ op: "memfd", file: "f1", size: H, hugetlb: true }, { op: "reopen", file: "r1", from: "f1", mode: "r" }],
    op: { op: "pwrite", file: "r1", offset: 0, byte: 1, len: 1 },
    outcome: { errno: "EBADF" },
    rule: "mm.pwrite-ebadf",
  },
  { name: "fallocate through O_RDONLY", setup: FILES, op: { op: "file_fallocate", file: "r0", mode: ["KEEP_SIZE"], offset: 0, len: P }, outcome: { errno: "EBADF" }, rule: "fd.fallocate-ebadf" },
  { name: "fallocate through O_RDONLY: the mode first", setup: FILES, op: { op: "file_fallocate", file: "r0", mode: ["NO_HIDE_STALE"], offset: 0, len: P }, outcome: { errno: "EOPNOTSUPP" }, rule: "vfs.fallocate-mode-unknown" },
  { name: "fallocate through O_WRONLY", setup: FILES, op: { op: "file_fallocate", file: "w0", mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset: 0, len: P }, outcome: { result: "ok" }, rule: "mm.punch-hole" },
  // mmap through them
  { name: "a writable MAP_SHARED of an O_RDONLY fd", setup: FILES, op: map("r0", true, "rw"), outcome: { errno: "EACCES" }, rule: "fd.mmap-eacces" },
  { name: "gmem_mmap naming an O_RDONLY memfd (MAP_SHARED, read-write)", setup: FILES, op: { op: "gmem_mmap", gmem: "r0", map: "m2", offset: 0, length: P }, outcome: { errno: "EACCES" }, rule: "fd.mmap-eacces" },
  { name: "a read-only MAP_SHARED of an O_RDONLY fd", setup: FILES, op: map("r0", true, "r"), outcome: { result: "ok" }, rule: "mm.mmap" },
  { name: "a writable MAP_PRIVATE of an O_RDONLY fd", setup: FILES, op: map("r0", false, "rw"), outcome: { result: "ok" }, rule: "mm.mmap" },
  { name: "any mapping of an O_WRONLY fd", setup: FILES, op: map("w0", false, "r"), outcome: { errno: "EACCES" }, rule: "mm.mmap-not-readable" },
  { name: "MAP_FIXED_NOREPLACE comes before the fd's mode", setup: MAPS, op: map("w0", true, "r"), outcome: { errno: "EEXIST" }, rule: "mm.mmap-noreplace" },
  // the mappings
  { name: "a read of the O_RDONLY MAP_SHARED mapping reads the file", setup: MAPS, op: { op: "access", map: "m0", offset: 0, kind: "read" }, outcome: { result: "ok", value: 5 }, rule: "mm.file-fault" },
  { name: "a write to it: SEGV_ACCERR", setup: MAPS, op: { op: "access", map: "m0", offset: 0, kind: "write", byte: 1 }, outcome: { result: "SIGSEGV", code: "SEGV_ACCERR" }, rule: "mm.segv-prot" },
  { name: "a write to the MAP_PRIVATE one copies the page", setup: MAPS, op: { op: "access", map: "m1", offset: 0, kind: "write", byte: 1 }, outcome: { result: "ok" }, rule: "mm.cow" },
  { name: "UFFDIO_REGISTER of the MAP_SHARED one: no VM_MAYWRITE", setup: MAPS, op: register("m0"), outcome: { errno: "EPERM" }, rule: "uffd.register-maywrite" },
  { name: "MINOR registration of it: the same EPERM", setup: MAPS, op: register("m0", ["MINOR"]), outcome: { errno: "EPERM" }, rule: "uffd.register-maywrite" },
  { name: "UFFDIO_REGISTER of the MAP_PRIVATE one", setup: MAPS, op: register("m1"), outcome: { result: "ok", ioctls: ["WAKE", "COPY", "ZEROPAGE", "MOVE", "POISON"] }, rule: "uffd.register" },
  {
    name: "a read-only MAP_SHARED of an O_RDWR fd registers (VM_MAYWRITE)",
    setup: [...FILES, map("f0", true, "r", "m2")],
    op: register("m2"),
    outcome: { result: "ok", ioctls: ["WAKE", "COPY", "ZEROPAGE", "MOVE", "POISON"] },
    rule: "uffd.register",
  },
  { name: "MADV_REMOVE on the O_RDONLY MAP_SHARED mapping", setup: MAPS, op: { op: "madvise", map: "m0", offset: 0, len: P, advice: "REMOVE" }, outcome: { errno: "EACCES" }, rule: "mm.madvise-remove-private" },
  { name: "a write_alias of it still goes through a writable second mapping", setup: MAPS, op: { op: "write_alias", map: "m0", offset: P, byte: 6 }, outcome: { result: "ok" }, rule: "mm.alias" },
  // names
  { name: "a closed O_RDONLY fd", setup: [...FILES, { op: "close", file: "r0" }], op: { op: "pwrite", file: "r0", offset: 0, byte: 1, len: 1 }, outcome: { errno: "EBADF" }, rule: "mm.ebadf" },
  {
    name: "reopening onto the name of the fd itself: f0 is O_RDONLY from then on",
    setup: [...FILES, { op: "reopen", file: "f0", from: "f0", mode: "r" }],
    op: { op: "pwrite", file: "f0", offset: 0, byte: 1, len: 1 },
    outcome: { errno: "EBADF" },
    rule: "mm.pwrite-ebadf",
  },
  {
    name: "an O_RDONLY name re-bound to a new memfd is O_RDWR again",
    setup: [...FILES, { op: "memfd", file: "r0", size: P }],
    op: { op: "pwrite", file: "r0", offset: 0, byte: 1, len: 1 },
    outcome: { result: "ok" },
    rule: "mm.pwrite",
  },
];

describe("read-only fds and their mappings", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const checker = new Checker(c.config ?? K618);
      await checker.applyAll([...c.setup, c.op]);
      const last = checker.trace[checker.trace.length - 1]!;
      expect(last.model).toEqual(c.outcome);
      expect(last.fired).toContain(c.rule);
    });
  }

  it("the private mapping's copy leaves the file alone", async () => {
    const checker = new Checker(K618);
    await checker.applyAll([...MAPS, { op: "access", map: "m1", offset: 0, kind: "write", byte: 1 }, { op: "pread", file: "r0", offset: 0 }]);
    expect(checker.trace.at(-1)!.model).toEqual({ result: "ok", value: 5 });
  });
});
