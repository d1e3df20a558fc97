// mincore(2) as an observation: which pages of a range are resident, through model and impl. The outcomes follow
// mm/mincore.c and were checked on the running kernel (corpus host_memory/mincore).
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";

const P = 4096;
const K618 = PRESETS["kernel-6.18"];

const mincore = (offset: number, len: number, map = "m0"): Op => ({ op: "mincore", map, offset, len });
const read = (page: number, map = "m0"): Op => ({ op: "access", map, offset: page * P, kind: "read" });
const write = (page: number, map = "m0"): Op => ({ op: "access", map, offset: page * P, kind: "write", byte: 1 });
const ANON: readonly Op[] = [{ op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P }, read(0), write(1)];
/** A 4-page memfd: page 0 fallocated (not uptodate), page 1 written; m0 shared, m1 private. */
const SHMEM: readonly Op[] = [
  { op: "memfd", file: "f0", size: 4 * P },
  { op: "file_fallocate", file: "f0", mode: [], offset: 0, len: P },
  { op: "pwrite", file: "f0", offset: P, byte: 2, len: 1 },
  { op: "mmap", map: "m0", file: "f0", offset: 0, length: 4 * P },
  { op: "mmap", map: "m1", file: "f0", offset: 0, length: 4 * P, shared: false },
];

interface Case {
  readonly name: string;
  readonly setup: readonly Op[];
  readonly op: Op;
  readonly outcome: Outcome;
  readonly rule: string;
}

const CASES: readonly Case[] = [
  { name: "anonymous: the zero page and a written page are resident, untouched pages not", setup: ANON, op: mincore(0, 4 * P), outcome: { result: "ok", vec: "1100" }, rule: "mm.mincore" },
  { name: "a length that is not a page multiple covers its last page", setup: ANON, op: mincore(P, P + 1), outcome: { result: "ok", vec: "10" }, rule: "mm.mincore" },
  { name: "length 0 looks at nothing", setup: [], op: mincore(0, 0, "m9"), outcome: { result: "ok", vec: "" }, rule: "mm.mincore" },
  { name: "a start that is not page aligned", setup: ANON, op: mincore(1, P), outcome: { errno: "EINVAL", vec: "" }, rule: "mm.mincore-align" },
  { name: "a range past the user address space", setup: ANON, op: mincore(0, 2 ** 47), outcome: { errno: "ENOMEM", vec: "" }, rule: "mm.mincore-range" },
  { name: "a range running past the mapping: the entries before the hole are written", setup: ANON, op: mincore(0, 6 * P), outcome: { errno: "ENOMEM", vec: "1100" }, rule: "mm.mincore-enomem" },
  { name: "no mapping at all", setup: [], op: mincore(0, P), outcome: { errno: "ENOMEM", vec: "" }, rule: "mm.mincore-enomem" },
  {
    name: "an unmapped page in the middle",
    setup: [...ANON, { op: "munmap", map: "m0", offset: 2 * P, len: P }],
    op: mincore(0, 4 * P),
    outcome: { errno: "ENOMEM", vec: "11" },
    rule: "mm.mincore-enomem",
  },
  { name: "shmem: a fallocated page is not uptodate, a written one is resident without a PTE", setup: SHMEM, op: mincore(0, 4 * P), outcome: { result: "ok", vec: "0100" }, rule: "mm.mincore" },
  { name: "a private mapping of the file asks the page cache too", setup: SHMEM, op: mincore(0, 4 * P, "m1"), outcome: { result: "ok", vec: "0100" }, rule: "mm.mincore" },
  { name: "a read fault makes the fallocated page uptodate", setup: [...SHMEM, read(0)], op: mincore(0, 4 * P), outcome: { result: "ok", vec: "1100" }, rule: "mm.mincore" },
  {
    name: "MADV_DONTNEED drops an anonymous page, not a page-cache one",
    setup: [...SHMEM, read(2), { op: "madvise", map: "m0", offset: 0, len: 4 * P, advice: "DONTNEED" }],
    op: mincore(0, 4 * P),
    outcome: { result: "ok", vec: "0110" },
    rule: "mm.mincore",
  },
  {
    name: "a poison marker on anonymous memory: no PTE, no file, not resident",
    setup: [...ANON, { op: "uffd_open", uffd: "u0", features: [] }, { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 4 * P, mode: ["MISSING"] }, { op: "uffdio_poison", uffd: "u0", map: "m0", offset: 2 * P, len: P }],
    op: mincore(0, 4 * P),
    outcome: { result: "ok", vec: "1100" },
    rule: "mm.mincore",
  },
  {
    name: "hugetlbfs: not modeled (the answer depends on page tables the model does not keep)",
    setup: [{ op: "memfd", file: "f1", size: 2 * 1024 * 1024, hugetlb: true }, { op: "mmap", map: "m2", file: "f1", offset: 0, length: 2 * 1024 * 1024 }],
    op: mincore(0, P, "m2"),
    outcome: { errno: "ENOTTY" },
    rule: "faultline.not-modeled",
  },
];

describe("mincore", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const checker = new Checker(K618);
      await checker.applyAll([...c.setup, c.op]);
      const last = checker.trace[checker.trace.length - 1]!;
      expect(last.model).toEqual(c.outcome);
      expect(last.fired).toContain(c.rule);
    });
  }
});
