// Invariant strength for model/uffd/invariants.ts: each clause fails on a state built by real ops (threads asleep
// in handle_userfault included) and then broken by one edit, holds on the near miss at its edge, and reports
// nonVacuous only when it was exercised for real.
import { describe, expect, it } from "vitest";
import { fill } from "../model/bytes.js";
import { step, type State } from "../model/index.js";
import type { MemFile } from "../model/mm/types.js";
import type { UffdThread } from "../model/uffd/types.js";
import { UFFD_STEP_INVARIANTS } from "../model/uffd/invariants.js";
import { PRESETS } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { build, stepFrom, withFile, withMap } from "./helpers/invariants.js";

const P = 4096;
const X86 = PRESETS.default;
const OK: Outcome = { result: "ok" };
const BASE = "0x20000000000"; // m0's address (MAP_BASE)

const checkStep = (name: string) => {
  const inv = UFFD_STEP_INVARIANTS.find((i) => i.name === name)!;
  return (a: ReturnType<typeof stepFrom>) => inv.check(a.pre, a.op, a.outcome, a.post);
};

/** One access that must sleep on a userfault. */
const sleep = (s: State, op: Op): State => {
  const r = step(s, op);
  expect(r.outcome, JSON.stringify(op)).toMatchObject({ result: "blocked" });
  return r.state;
};
const sleepAll = (s: State, ops: readonly Op[]): State => ops.reduce(sleep, s);
const withThreads = (s: State, threads: readonly UffdThread[]): State => ({ ...s, uffd: { ...s.uffd, threads } });
const fileData = (s: State, file: number, index: number, page: MemFile["data"] extends ReadonlyMap<number, infer B> ? B | undefined : never): State => {
  const data = new Map(s.mm.files[file]!.data);
  if (page === undefined) data.delete(index);
  else data.set(index, page);
  return withFile(s, file, { data });
};

const access = (map: string, offset: number, kind: "read" | "write", id?: string, byte = 9): OpOf<"access"> => ({
  op: "access", map, offset, kind, ...(kind === "write" ? { byte } : {}), ...(id === undefined ? {} : { id }),
});
const ioctl = <K extends "uffdio_continue" | "uffdio_copy" | "uffdio_zeropage" | "uffdio_poison" | "uffdio_wake">(op: K, offset: number, len: number, extra: object = {}, map = "m0") =>
  ({ op, uffd: "u0", map, offset, len, ...extra }) as OpOf<K>;
const wp = (mode: ("WP" | "DONTWAKE")[], offset = 0, len = P): Op => ({ op: "uffdio_writeprotect", uffd: "u0", map: "m0", offset, len, mode });
const open = (uffd = "u0"): Op => ({ op: "uffd_open", uffd, features: [] });
const reg = (map: string, mode: ("MISSING" | "MINOR" | "WP")[], offset = 0, len = 4 * P, uffd = "u0"): Op => ({ op: "uffd_register", uffd, map, offset, len, mode });
const unreg = (offset: number, len: number, map = "m0"): Op => ({ op: "uffd_unregister", uffd: "u0", map, offset, len });

// MINOR on shmem: m0 and m2 map f0 (4 pages) and are registered MINOR; m1 is the unregistered alias, through which
// pages 0 and 1 hold 7 from byte 5 on (page 2 holds 7 in bytes 0-4). a0 reads m0 page 0 (byte 5), b0 writes 9
// at byte 5 of m0 page 1: both asleep.
const MINOR_OPS = [{ op: "memfd", file: "f0", size: 4 * P }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: 4 * P, shared: true },
  { op: "mmap", map: "m1", file: "f0", offset: 0, length: 4 * P, shared: true }, { op: "mmap", map: "m2", file: "f0", offset: 0, length: 4 * P, shared: true },
  open(), reg("m0", ["MINOR"]), reg("m2", ["MINOR"]), { op: "write_alias", map: "m1", offset: 5, byte: 7, len: 2 * P }] satisfies Op[];
const MINOR = () => build(X86, MINOR_OPS);
const A0 = () => sleep(MINOR(), access("m0", 5, "read", "a0"));
const AB = () => sleep(A0(), access("m0", P + 5, "write", "b0"));

// MISSING on anonymous memory: a0 reads page 0 (byte 5), b0 reads page 1.
const ANON = () => build(X86, [{ op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P }, open(), reg("m0", ["MISSING"])]);
const ANON_A0 = () => sleep(ANON(), access("m0", 5, "read", "a0"));
const ANON_AB = () => sleep(ANON_A0(), access("m0", P + 5, "read", "b0"));

describe("uffd-no-early-map", () => {
  const check = checkStep("uffd-no-early-map");

  it("CONTINUE and COPY/ZEROPAGE mapping the pages they fill hold and are exercised", () => {
    expect(check(stepFrom(A0(), ioctl("uffdio_continue", 0, P)))).toEqual({ holds: true, nonVacuous: true });
    expect(check(stepFrom(AB(), ioctl("uffdio_continue", P, P)))).toEqual({ holds: true, nonVacuous: true });
    expect(check(stepFrom(ANON_A0(), ioctl("uffdio_copy", 0, P, { byte: 3 })))).toEqual({ holds: true, nonVacuous: true });
    expect(check(stepFrom(ANON_A0(), ioctl("uffdio_zeropage", 0, P)))).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks when another op maps a page the registration should have reported, naming the reason", () => {
    const minor = stepFrom(A0(), ioctl("uffdio_continue", 0, P));
    expect(check({ ...minor, op: ioctl("uffdio_wake", 0, P) })).toEqual({ holds: false, nonVacuous: true, detail: "uffdio_wake mapped m0 page 0, which the MINOR registration should have reported first" });
    const missing = stepFrom(ANON_A0(), ioctl("uffdio_copy", 0, P, { byte: 3 }));
    expect(check({ ...missing, op: ioctl("uffdio_wake", 0, P) })).toEqual({ holds: false, nonVacuous: true, detail: "uffdio_wake mapped m0 page 0, which the MISSING registration should have reported first" });
  });

  it("breaks on a page just outside the range the ioctl filled, on either side", () => {
    const both = stepFrom(AB(), ioctl("uffdio_continue", 0, 2 * P));
    expect(check({ ...both, op: ioctl("uffdio_continue", 0, P) })).toMatchObject({ holds: false, detail: "uffdio_continue mapped m0 page 1, which the MINOR registration should have reported first" });
    expect(check({ ...both, op: ioctl("uffdio_continue", P, P) })).toMatchObject({ holds: false, detail: "uffdio_continue mapped m0 page 0, which the MINOR registration should have reported first" });
    // A range ending one byte into page 1 fills page 1.
    expect(check({ ...both, op: ioctl("uffdio_continue", 0, P + 1) })).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks when the page is mapped in another registered mapping than the one filled", () => {
    const a = stepFrom(A0(), ioctl("uffdio_continue", 0, P));
    const post = withMap(a.post, "m2", { ptes: a.post.mm.maps.get("m0")!.ptes });
    expect(check({ ...a, post })).toMatchObject({ holds: false, detail: "uffdio_continue mapped m2 page 0, which the MINOR registration should have reported first" });
  });

  it("a fault on a page the registration does not report maps it, exercised", () => {
    // MINOR only and page 3 not cached: shmem allocates it without a userfault.
    const a = stepFrom(MINOR(), access("m0", 3 * P, "read"));
    expect(a.outcome).toEqual({ result: "ok", value: 0 });
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  it("a page its registration left in the same step may be mapped (one edit)", () => {
    const a = stepFrom(A0(), ioctl("uffdio_continue", 0, P));
    const post = withMap(a.post, "m0", { uffd: [{ start: 1, end: 4, value: { ctx: 0, modes: ["MINOR"] } }] });
    expect(check({ ...a, op: ioctl("uffdio_wake", 0, P), post })).toEqual({ holds: true, nonVacuous: true });
  });

  it("is not exercised by pages mapped before, not live before, of a new mapping, of an unregistered one or WP-only", () => {
    const mapped = stepFrom(A0(), ioctl("uffdio_continue", 0, P)).post;
    expect(check(stepFrom(mapped, ioctl("uffdio_wake", 0, P)))).toEqual({ holds: true, nonVacuous: false });
    const a = { ...stepFrom(A0(), ioctl("uffdio_continue", 0, P)), op: ioctl("uffdio_wake", 0, P) };
    expect(check({ ...a, pre: withMap(a.pre, "m0", { live: [{ start: 1, end: 4, value: true }] }) })).toEqual({ holds: true, nonVacuous: false });
    const gone = new Map(a.pre.mm.maps);
    gone.delete("m0");
    expect(check({ ...a, pre: { ...a.pre, mm: { ...a.pre.mm, maps: gone } } })).toEqual({ holds: true, nonVacuous: false });
    expect(check({ ...a, post: withMap(a.post, "m0", { uffd: undefined }) })).toEqual({ holds: true, nonVacuous: false });
    const wpOnly = build(X86, [{ op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P }, open(), reg("m0", ["WP"])]);
    expect(check(stepFrom(wpOnly, access("m0", 0, "read")))).toEqual({ holds: true, nonVacuous: false });
  });
});

describe("uffd-woken-read", () => {
  const check = checkStep("uffd-woken-read");
  const resolved = () => stepFrom(A0(), ioctl("uffdio_continue", 0, P));
  const a0 = (s: State): UffdThread => s.uffd.threads.find((t) => t.name === "a0")!;

  it("a woken read of what the alias wrote holds and is exercised", () => {
    expect(a0(resolved().post).status).toEqual({ kind: "done", outcome: { result: "ok", value: 7 } });
    expect(check(resolved())).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks when the woken thread read something else, naming it (or not, once its name is gone)", () => {
    const lie = (t: UffdThread): UffdThread => ({ ...t, status: { kind: "done", outcome: { result: "ok", value: 3 } } });
    const r = resolved();
    const post = withThreads(r.post, r.post.uffd.threads.map((t) => (t.name === "a0" ? lie(t) : t)));
    expect(check({ ...r, post })).toEqual({ holds: false, nonVacuous: true, detail: "thread a0 read 3 after its wakeup where its page holds 7" });
    const unnamed = (s: State) => withThreads(s, s.uffd.threads.map((t) => ({ ...t, name: null })));
    expect(check({ ...r, pre: unnamed(r.pre), post: unnamed(post) })).toMatchObject({ holds: false, detail: "thread (unnamed) read 3 after its wakeup where its page holds 7" });
  });

  it("a woken write, or a read without a value, is not exercised", () => {
    expect(check(stepFrom(AB(), ioctl("uffdio_continue", P, P)))).toEqual({ holds: true, nonVacuous: false });
    const poisoned = stepFrom(ANON_A0(), ioctl("uffdio_poison", 0, P));
    expect(a0(poisoned.post).status).toEqual({ kind: "done", outcome: { result: "SIGBUS", code: "BUS_MCEERR_AR" } });
    expect(check(poisoned)).toEqual({ holds: true, nonVacuous: false });
    // A null value (what pread reports past EOF) is no byte read (one edit).
    const r = resolved();
    const post = withThreads(r.post, r.post.uffd.threads.map((t) => (t.name === "a0" ? { ...t, status: { kind: "done", outcome: { result: "ok", value: null } } } : t)));
    expect(check({ ...r, post })).toEqual({ holds: true, nonVacuous: false });
  });

  it("a read racing a woken write to its byte is not checked; to the next byte it is", () => {
    const race = sleep(A0(), access("m0", 5, "write", "c0"));
    expect(check(stepFrom(race, ioctl("uffdio_continue", 0, P)))).toEqual({ holds: true, nonVacuous: false });
    const next = sleep(A0(), access("m0", 6, "write", "c0"));
    expect(check(stepFrom(next, ioctl("uffdio_continue", 0, P)))).toEqual({ holds: true, nonVacuous: true });
  });

  it("a write that finished before the step does not excuse a read of its byte", () => {
    const written = stepFrom(sleep(MINOR(), access("m0", 5, "write", "b0")), ioctl("uffdio_continue", 0, P)).post;
    const dropped = step(written, { op: "madvise", map: "m0", offset: 0, len: P, advice: "DONTNEED" }).state;
    const a = stepFrom(sleep(dropped, access("m0", 5, "read", "a0")), ioctl("uffdio_continue", 0, P));
    expect(a0(a.post).status).toEqual({ kind: "done", outcome: { result: "ok", value: 9 } });
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  it("a thread that finished in an earlier step is not checked again", () => {
    const a = stepFrom(resolved().post, { op: "write_alias", map: "m1", offset: 5, byte: 8 });
    expect(check(a)).toEqual({ holds: true, nonVacuous: false });
  });

  it("nor while another thread still sleeps, even one asleep on the very same access", () => {
    // b0 (another access) sleeps on while the alias rewrites what a0 read.
    const other = stepFrom(stepFrom(AB(), ioctl("uffdio_continue", 0, P)).post, { op: "write_alias", map: "m1", offset: 5, byte: 8 });
    expect(a0(other.pre).status.kind).toBe("done");
    expect(check(other)).toEqual({ holds: true, nonVacuous: false });
    // The same access object sleeps twice: the first sleeper (left unnamed, on u0 after MINOR unregistration kept
    // it asleep) outlives the second (a0, on u1), which CONTINUE through u1 finishes.
    const r = access("m0", 5, "read", "a0");
    const twin = sleep(step(step(step(sleep(MINOR(), r), unreg(0, 4 * P)).state, open("u1")).state, reg("m0", ["MINOR"], 0, 4 * P, "u1")).state, r);
    const done = step(twin, ioctl("uffdio_continue", 0, P, { uffd: "u1" })).state;
    expect(done.uffd.threads.map((t) => [t.name, t.status.kind, t.op === r])).toEqual([[null, "blocked", true], ["a0", "done", true]]);
    expect(check(stepFrom(done, { op: "write_alias", map: "m1", offset: 5, byte: 8 }))).toEqual({ holds: true, nonVacuous: false });
  });

  it("a thread finished under the name of a sleeper but with another access is not that sleeper (one edit)", () => {
    const r = resolved();
    const post = withThreads(r.post, r.post.uffd.threads.map((t) => (t.name === "a0" ? { ...t, op: access("m0", 6, "read", "a0") } : t)));
    expect(check({ ...r, post })).toEqual({ holds: true, nonVacuous: false });
  });

  it("a thread whose mapping is gone after the step is not checked", () => {
    const a = stepFrom(AB(), ioctl("uffdio_continue", 0, 2 * P));
    const maps = new Map(a.post.mm.maps);
    maps.delete("m0");
    expect(check({ ...a, post: { ...a.post, mm: { ...a.post.mm, maps } } })).toEqual({ holds: true, nonVacuous: false });
  });
});

describe("uffd-no-lost-wakeup", () => {
  const check = checkStep("uffd-no-lost-wakeup");
  const stuck = (a: ReturnType<typeof stepFrom>) => ({ ...a, post: a.pre });
  const notWoken = (op: string, name: string, at = BASE) => ({ holds: false, nonVacuous: true, detail: `${op} should have woken thread ${name} (access at ${at}), which still sleeps on an old message` });

  it("CONTINUE wakes the thread on its first page, not the one right after its range; breaks if it does not", () => {
    const a = stepFrom(AB(), ioctl("uffdio_continue", 0, P));
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    expect(check(stuck(a))).toEqual(notWoken("uffdio_continue", "a0"));
    // a0 has finished by the next fill: only sleepers count.
    expect(check(stepFrom(a.post, ioctl("uffdio_continue", P, P)))).toEqual({ holds: true, nonVacuous: true });
  });

  it("UFFDIO_WAKE: the thread faults again with one message more; breaks if it still sleeps on the old one", () => {
    const a = stepFrom(AB(), ioctl("uffdio_wake", 0, P));
    expect(a.post.uffd.threads.find((t) => t.name === "a0")!.faults).toBe(2);
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    expect(check(stuck(a))).toEqual(notWoken("uffdio_wake", "a0"));
  });

  it("COPY, ZEROPAGE and POISON wake by the count they report", () => {
    for (const op of [ioctl("uffdio_copy", 0, P, { byte: 3 }), ioctl("uffdio_zeropage", 0, P), ioctl("uffdio_poison", 0, P)]) {
      const a = stepFrom(ANON_AB(), op);
      expect(check(a)).toEqual({ holds: true, nonVacuous: true });
      expect(check(stuck(a))).toEqual(notWoken(op.op, "a0"));
    }
  });

  it("a partial (EAGAIN) fill wakes the part it filled; other failures wake nothing", () => {
    const a = stepFrom(AB(), ioctl("uffdio_continue", 0, P));
    expect(check({ ...a, op: ioctl("uffdio_continue", 0, 2 * P), outcome: { errno: "EAGAIN", mapped: P } })).toEqual({ holds: true, nonVacuous: true });
    expect(check({ ...stuck(a), outcome: { errno: "ENOMEM", mapped: P } })).toEqual({ holds: true, nonVacuous: false });
    expect(check({ ...stuck(a), outcome: { errno: "EEXIST", mapped: -17 } })).toEqual({ holds: true, nonVacuous: false });
  });

  it("DONTWAKE wakes nothing", () => {
    const a = stepFrom(A0(), ioctl("uffdio_continue", 0, P, { mode: ["DONTWAKE"] }));
    expect(a.outcome).toEqual({ result: "ok", mapped: P });
    expect(check(a)).toEqual({ holds: true, nonVacuous: false });
  });

  it("a fill where nobody sleeps is not exercised", () => {
    expect(check(stepFrom(A0(), ioctl("uffdio_continue", P, P)))).toEqual({ holds: true, nonVacuous: false });
  });

  it("a failed UFFDIO_WAKE wakes nothing", () => {
    expect(check({ ...stuck(stepFrom(A0(), ioctl("uffdio_wake", 0, P))), outcome: { errno: "EINVAL" } })).toEqual({ holds: true, nonVacuous: false });
  });

  it("close wakes every sleeper of its uffd and none of another; a failed close wakes nothing", () => {
    const other = sleep(build(X86, [...MINOR_OPS, { op: "mmap", map: "m3", file: "anon", offset: 0, length: P }, open("u1"), reg("m3", ["MISSING"], 0, P, "u1")]), access("m3", 0, "read", "c0"));
    const s = sleepAll(other, [access("m0", 5, "read", "a0")]);
    const a = stepFrom(s, { op: "close", uffd: "u0" });
    expect(a.post.uffd.threads.find((t) => t.name === "c0")!.status.kind).toBe("blocked");
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    expect(check(stuck(a))).toEqual(notWoken("close", "a0"));
    expect(check({ ...stuck(a), outcome: { errno: "EBADF" } })).toEqual({ holds: true, nonVacuous: false });
  });

  it("opening or registering wakes nothing", () => {
    expect(check(stepFrom(A0(), open()))).toEqual({ holds: true, nonVacuous: false });
    expect(check(stepFrom(ANON_A0(), reg("m0", ["MISSING"])))).toEqual({ holds: true, nonVacuous: false });
  });

  it("unregistering wakes the MISSING sleepers of its range only", () => {
    const a = stepFrom(ANON_AB(), unreg(P, P));
    expect(a.post.uffd.threads.find((t) => t.name === "a0")!.status.kind).toBe("blocked");
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    expect(check(stuck(a))).toEqual(notWoken("uffd_unregister", "b0", "0x20000001000"));
    // MINOR sleepers stay asleep (userfaultfd_unregister wakes only for VM_UFFD_MISSING).
    const m = stepFrom(A0(), unreg(0, 4 * P));
    expect(m.post.uffd.threads.find((t) => t.name === "a0")!.status.kind).toBe("blocked");
    expect(check(m)).toEqual({ holds: true, nonVacuous: false });
  });

  it("UFFDIO_WRITEPROTECT wakes when it clears WP without DONTWAKE", () => {
    const s = sleep(build(X86, [{ op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P }, open(), reg("m0", ["WP"]), access("m0", 5, "write", undefined, 1), wp(["WP"])]), access("m0", 5, "write", "a0"));
    const a = stepFrom(s, wp([]));
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    expect(check(stuck(a))).toEqual(notWoken("uffdio_writeprotect", "a0"));
    expect(check(stepFrom(s, wp(["WP"])))).toEqual({ holds: true, nonVacuous: false });
    expect(check(stepFrom(s, wp(["DONTWAKE"])))).toEqual({ holds: true, nonVacuous: false });
  });

  it("each of two identical sleepers needs its own new message", () => {
    const anonRead = access("m0", 5, "read");
    const twice = sleep(step(sleep(ANON(), anonRead), ioctl("uffdio_wake", 0, P)).state, anonRead);
    expect(twice.uffd.threads.map((t) => t.faults)).toEqual([2, 1]);
    const a = stepFrom(twice, ioctl("uffdio_wake", 0, P));
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    const post = withThreads(a.post, a.post.uffd.threads.map((t) => ({ ...t, faults: 2 })));
    expect(check({ ...a, post })).toEqual(notWoken("uffdio_wake", "(unnamed)"));
  });
});

describe("uffd-keeps-contents", () => {
  const check = checkStep("uffd-keeps-contents");

  it("CONTINUE over the page cache holds and is exercised; the other ops hold unexercised", () => {
    expect(check(stepFrom(A0(), ioctl("uffdio_continue", 0, P)))).toEqual({ holds: true, nonVacuous: true });
    expect(check(stepFrom(A0(), ioctl("uffdio_wake", 0, P)))).toEqual({ holds: true, nonVacuous: false });
  });

  it("a CONTINUE without page-cache pages is not exercised", () => {
    const empty = build(X86, [{ op: "memfd", file: "f0", size: 4 * P }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: 4 * P, shared: true }, open(), reg("m0", ["MINOR"])]);
    expect(check(stepFrom(empty, ioctl("uffdio_continue", 0, P)))).toEqual({ holds: true, nonVacuous: false });
  });

  it("breaks when any of its ops changes a page-cache byte, naming page, byte and values", () => {
    const ops: Op[] = [ioctl("uffdio_continue", 0, P), ioctl("uffdio_wake", 0, P), wp([]), reg("m0", ["MINOR"]), unreg(0, P), open("u1"), { op: "wake_check", id: "a0" }];
    for (const op of ops) {
      const a = stepFrom(A0(), op);
      expect(check({ ...a, post: fileData(a.post, 0, 0, undefined) })).toEqual({ holds: false, nonVacuous: true, detail: `${op.op} changed f0/0 at byte 5: 7 -> 0` });
    }
  });

  it("breaks on a page that appears in the cache", () => {
    const a = stepFrom(A0(), ioctl("uffdio_continue", 0, P));
    const page0 = a.pre.mm.files[0]!.data.get(0)!;
    expect(check({ ...a, post: fileData(a.post, 0, 3, page0) })).toMatchObject({ holds: false, detail: "uffdio_continue changed f0/3 at byte 5: 0 -> 7" });
  });

  it("a thread it wakes may store its byte, and only that byte", () => {
    const a = stepFrom(AB(), ioctl("uffdio_continue", P, P));
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    const more = fill(a.post.mm.files[0]!.data.get(1), 6, 7, 3);
    expect(check({ ...a, post: fileData(a.post, 0, 1, more) })).toMatchObject({ holds: false, detail: "uffdio_continue changed f0/1 at byte 6: 7 -> 3" });
  });

  it("guards guest_memfd pages too", () => {
    const s = sleep(build(X86, [{ op: "create_vm", vm: "v0" }, { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * P, flags: ["MMAP", "INIT_SHARED"] },
      { op: "gmem_mmap", gmem: "g0", map: "m0", offset: 0, length: 4 * P }, { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 0, length: 4 * P },
      open(), reg("m0", ["MINOR"]), { op: "write_alias", map: "m1", offset: P + 5, byte: 6 }]), access("m0", P + 5, "read", "a0"));
    const a = stepFrom(s, ioctl("uffdio_continue", P, P));
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    const post = { ...a.post, gmem: { ...a.post.gmem, inodes: a.post.gmem.inodes.map((g) => ({ ...g, data: new Map() })) } };
    expect(check({ ...a, post })).toMatchObject({ holds: false, detail: "uffdio_continue changed g0/1 at byte 5: 6 -> 0" });
  });

  it("ops that may change contents are not its business", () => {
    expect(check(stepFrom(A0(), { op: "write_alias", map: "m1", offset: 5, byte: 8 }))).toEqual({ holds: true, nonVacuous: false });
  });
});

describe("alias-writes-stick", () => {
  const check = checkStep("alias-writes-stick");
  // m1 maps f0 from page 1 on; m2 is anonymous.
  const ALIAS = () => build(X86, [{ op: "memfd", file: "f0", size: 4 * P }, { op: "mmap", map: "m1", file: "f0", offset: P, length: 3 * P, shared: true },
    { op: "mmap", map: "m2", file: "anon", offset: 0, length: P }]);
  const alias = (offset: number, extra: { byte?: number; len?: number } = { byte: 7 }, map = "m1"): Op => ({ op: "write_alias", map, offset, ...extra });
  const stuck = (at: number, left: string, map = "m1") => ({ holds: false, nonVacuous: true, detail: `write_alias of 7 at ${map}+${at} left ${left} in the page cache` });

  it("a write over two pages, ending at a page boundary, holds and is exercised", () => {
    expect(check(stepFrom(ALIAS(), alias(5, { byte: 7, len: 2 * P - 5 })))).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks on the first and last byte of each page the write covers", () => {
    const a = stepFrom(ALIAS(), alias(5, { byte: 7, len: 2 * P - 5 }));
    const p1 = a.post.mm.files[0]!.data.get(1)!;
    expect(check({ ...a, post: fileData(a.post, 0, 1, undefined) })).toEqual(stuck(5, "0"));
    expect(check({ ...a, post: fileData(a.post, 0, 1, fill(p1, P - 1, P, 0)) })).toEqual(stuck(P - 1, "0"));
    expect(check({ ...a, post: fileData(a.post, 0, 2, undefined) })).toEqual(stuck(P, "0"));
    expect(check({ ...a, post: fileData(a.post, 0, 2, fill(undefined, 0, P - 1, 7)) })).toEqual(stuck(2 * P - 1, "0"));
  });

  it("one byte by default", () => {
    const a = stepFrom(ALIAS(), alias(P + 5));
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    expect(check({ ...a, post: fileData(a.post, 0, 2, undefined) })).toEqual(stuck(P + 5, "0"));
  });

  it("a write of zeros (the default byte) holds but is not exercised", () => {
    expect(check(stepFrom(ALIAS(), alias(5, {})))).toEqual({ holds: true, nonVacuous: false });
  });

  it("a guest_memfd alias holds", () => {
    const s = build(X86, [{ op: "create_vm", vm: "v0" }, { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * P, flags: ["MMAP", "INIT_SHARED"] },
      { op: "gmem_mmap", gmem: "g0", map: "m1", offset: P, length: 3 * P }]);
    expect(check(stepFrom(s, alias(P + 5)))).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks on a success without a page cache behind it, or without a mapping", () => {
    const anon = stepFrom(ALIAS(), alias(5, { byte: 7 }, "m2"));
    expect(anon.outcome).toMatchObject({ errno: "EINVAL" });
    expect(check(anon)).toEqual({ holds: true, nonVacuous: false });
    expect(check({ ...anon, outcome: OK })).toEqual(stuck(5, "undefined", "m2"));
    expect(check({ ...stepFrom(ALIAS(), alias(5, { byte: 7 }, "m9")), outcome: OK })).toEqual({ holds: false, nonVacuous: true, detail: "write_alias succeeded without a mapping" });
  });

  it("other ops are not its business", () => {
    const s = step(ALIAS(), alias(5)).state;
    expect(check(stepFrom(s, { op: "access", map: "m1", offset: 5, kind: "read" }))).toEqual({ holds: true, nonVacuous: false });
  });
});
