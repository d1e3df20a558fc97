// UFFDIO_MOVE: anonymous pages move between private anonymous VMAs; everywhere else it refuses, each refusal by the
// check of userfaultfd_move / move_pages that decides it. Through model and impl; checked on the running kernel
// (corpus uffd/move, uffd/move-refusals). The MOVE feature need not be asked for (userfaultfd_move never reads it).
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";

const P = 4096;
const H = 2 * 1024 * 1024;
const K618 = PRESETS["kernel-6.18"];

const move = (dstPage: number, srcPage: number, pages = 1, extra: object = {}, dst = "m0", src = "m1"): Op =>
  ({ op: "uffdio_move", uffd: "u0", map: dst, offset: dstPage * P, src, src_offset: srcPage * P, len: pages * P, ...extra }) as Op;
const anon = (map: string, prot: "rw" | "r" = "rw"): Op => ({ op: "mmap", map, file: "anon", offset: 0, length: 4 * P, prot });
const reg = (map: string, uffd = "u0"): Op => ({ op: "uffd_register", uffd, map, offset: 0, len: 4 * P, mode: ["MISSING"] });

/** dst m0 (registered MISSING with u0); src m1: page 0 holds 5, page 1 the zero page, pages 2 and 3 holes; m0 page 3 filled by COPY. */
const BASE: readonly Op[] = [
  { op: "uffd_open", uffd: "u0", features: [] },
  anon("m0"),
  reg("m0"),
  anon("m1"),
  { op: "access", map: "m1", offset: 0, kind: "write", byte: 5 },
  { op: "access", map: "m1", offset: P, kind: "read" },
  { op: "uffdio_copy", uffd: "u0", map: "m0", offset: 3 * P, len: P, byte: 9 },
];

interface Case {
  readonly name: string;
  readonly config?: Config;
  readonly setup: readonly Op[];
  readonly op: Op;
  readonly outcome: Outcome;
  readonly rule: string;
}

const CASES: readonly Case[] = [
  { name: "an anonymous page moves", setup: BASE, op: move(0, 0), outcome: { result: "ok", move: P }, rule: "uffd.move" },
  { name: "the zero page moves", setup: BASE, op: move(1, 1), outcome: { result: "ok", move: P }, rule: "uffd.move" },
  { name: "a src hole", setup: BASE, op: move(2, 2), outcome: { errno: "ENOENT", move: -2 }, rule: "uffd.move-src-hole" },
  { name: "a src hole with ALLOW_SRC_HOLES is skipped and counted", setup: BASE, op: move(0, 2, 2, { mode: ["ALLOW_SRC_HOLES"] }), outcome: { result: "ok", move: 2 * P }, rule: "uffd.move" },
  { name: "a dst page that is mapped", setup: BASE, op: move(3, 0), outcome: { errno: "EEXIST", move: -17 }, rule: "uffd.move-dst-exists" },
  { name: "a later dst page mapped: the pages before it moved", setup: BASE, op: move(2, 0, 2), outcome: { errno: "EAGAIN", move: P }, rule: "uffd.mfill-partial" },
  {
    name: "a poison marker at src",
    setup: [...BASE, { op: "uffdio_poison", uffd: "u0", map: "m0", offset: 2 * P, len: P }],
    op: move(1, 2, 1, { mode: ["ALLOW_SRC_HOLES"] }, "m0", "m0"),
    outcome: { errno: "EFAULT", move: -14 },
    rule: "uffd.move-src-marker",
  },
  {
    name: "a poison marker at dst",
    setup: [...BASE, { op: "uffdio_poison", uffd: "u0", map: "m0", offset: 2 * P, len: P }],
    op: move(2, 0),
    outcome: { errno: "EEXIST", move: -17 },
    rule: "uffd.move-dst-exists",
  },
  { name: "a dst VMA not registered", setup: BASE, op: move(2, 0, 1, {}, "m1", "m1"), outcome: { errno: "EINVAL", move: -22 }, rule: "uffd.move-dst-ctx" },
  {
    name: "a dst VMA registered with another userfaultfd",
    setup: [...BASE, { op: "uffd_open", uffd: "u1", features: [] }, anon("m2"), reg("m2", "u1")],
    op: move(0, 0, 1, {}, "m2"),
    outcome: { errno: "EINVAL", move: -22 },
    rule: "uffd.move-dst-ctx",
  },
  { name: "no dst VMA", setup: BASE, op: move(0, 0, 1, {}, "m5"), outcome: { errno: "ENOENT", move: -2 }, rule: "uffd.move-no-vma" },
  { name: "no src VMA", setup: BASE, op: move(0, 0, 1, {}, "m0", "m5"), outcome: { errno: "ENOENT", move: -2 }, rule: "uffd.move-no-vma" },
  { name: "src past its VMA's end", setup: BASE, op: move(0, 3, 2), outcome: { errno: "EINVAL", move: -22 }, rule: "uffd.move-vma-end" },
  { name: "dst past its VMA's end", setup: BASE, op: move(3, 0, 2), outcome: { errno: "EINVAL", move: -22 }, rule: "uffd.move-vma-end" },
  {
    name: "src is shmem (MAP_SHARED)",
    setup: [...BASE, { op: "memfd", file: "f0", size: 4 * P }, { op: "mmap", map: "m2", file: "f0", offset: 0, length: 4 * P }],
    op: move(0, 0, 1, {}, "m0", "m2"),
    outcome: { errno: "EINVAL", move: -22 },
    rule: "uffd.move-shared",
  },
  {
    name: "src is MAP_SHARED | MAP_ANONYMOUS",
    setup: [...BASE, { op: "mmap", map: "m2", file: "anon", offset: 0, length: 4 * P, shared: true }],
    op: move(0, 0, 1, {}, "m0", "m2"),
    outcome: { errno: "EINVAL", move: -22 },
    rule: "uffd.move-shared",
  },
  {
    name: "dst is shmem registered with this ctx",
    setup: [...BASE, { op: "memfd", file: "f0", size: 4 * P }, { op: "mmap", map: "m2", file: "f0", offset: 0, length: 4 * P }, reg("m2")],
    op: move(0, 0, 1, {}, "m2", "m1"),
    outcome: { errno: "EINVAL", move: -22 },
    rule: "uffd.move-shared",
  },
  {
    name: "src is a MAP_PRIVATE file mapping",
    setup: [...BASE, { op: "memfd", file: "f0", size: 4 * P }, { op: "mmap", map: "m2", file: "f0", offset: 0, length: 4 * P, shared: false }],
    op: move(0, 0, 1, {}, "m0", "m2"),
    outcome: { errno: "EINVAL", move: -22 },
    rule: "uffd.move-not-anon",
  },
  {
    name: "src is a MAP_PRIVATE hugetlbfs mapping",
    setup: [...BASE, { op: "memfd", file: "f1", size: H, hugetlb: true }, { op: "mmap", map: "m2", file: "f1", offset: 0, length: H, shared: false }],
    op: move(0, 0, 1, {}, "m0", "m2"),
    outcome: { errno: "EINVAL", move: -22 },
    rule: "uffd.move-hugetlb",
  },
  { name: "src is read-only", setup: [...BASE, anon("m2", "r")], op: move(0, 0, 1, {}, "m0", "m2"), outcome: { errno: "EINVAL", move: -22 }, rule: "uffd.move-prot" },
  // the prologue: move not written
  { name: "an unaligned dst", setup: BASE, op: { op: "uffdio_move", uffd: "u0", map: "m0", offset: 1, src: "m1", src_offset: 0, len: P }, outcome: { errno: "EINVAL", move: null }, rule: "uffd.range" },
  { name: "an unaligned src", setup: BASE, op: { op: "uffdio_move", uffd: "u0", map: "m0", offset: 0, src: "m1", src_offset: 1, len: P }, outcome: { errno: "EINVAL", move: null }, rule: "uffd.range" },
  { name: "len 0", setup: BASE, op: move(0, 0, 0), outcome: { errno: "EINVAL", move: null }, rule: "uffd.range" },
  { name: "a mode bit past ALLOW_SRC_HOLES", setup: BASE, op: move(0, 0, 1, { mode: [4] }), outcome: { errno: "EINVAL", move: null }, rule: "uffd.ioctl-mode" },
  { name: "before UFFDIO_API", setup: [anon("m0"), anon("m1"), { op: "uffd_create", uffd: "u0" }], op: move(0, 0), outcome: { errno: "EINVAL", move: null }, rule: "uffd.ioctl-before-api" },
  { name: "no such uffd", setup: [anon("m0")], op: move(0, 0), outcome: { errno: "EBADF", move: null }, rule: "uffd.ioctl-ebadf" },
];

describe("UFFDIO_MOVE", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const checker = new Checker(c.config ?? K618);
      await checker.applyAll([...c.setup, c.op]);
      const last = checker.trace[checker.trace.length - 1]!;
      expect(last.model).toEqual(c.outcome);
      expect(last.fired).toContain(c.rule);
    });
  }

  it("the page keeps its contents at dst and leaves a hole at src", async () => {
    const checker = new Checker(K618);
    await checker.applyAll([...BASE, move(0, 0), { op: "access", map: "m0", offset: 0, kind: "read" }, { op: "access", map: "m1", offset: 0, kind: "read" }]);
    expect(checker.trace.slice(-2).map((t) => t.model)).toEqual([{ result: "ok", value: 5 }, { result: "ok", value: 0 }]);
  });

  it("wakes the thread asleep on dst, unless DONTWAKE", async () => {
    const sleeper: Op = { op: "access", map: "m0", offset: 0, kind: "read", id: "a0" };
    const wake: Op = { op: "wake_check", id: "a0" };
    const woken = new Checker(K618);
    await woken.applyAll([...BASE, sleeper, move(0, 0), wake]);
    expect(woken.trace.at(-1)!.model).toEqual({ result: "completed", value: 5 });
    const asleep = new Checker(K618);
    await asleep.applyAll([...BASE, sleeper, move(0, 0, 1, { mode: ["DONTWAKE"] }), wake]);
    expect(asleep.trace.at(-1)!.model).toMatchObject({ result: "blocked" });
  });
});
