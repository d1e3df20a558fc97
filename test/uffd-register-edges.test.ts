// Edges of UFFDIO_REGISTER / UFFDIO_UNREGISTER and uffd_wp_range (fs/userfaultfd.c, mm/userfaultfd.c, mm/mprotect.c)
// that decide an outcome or a PTE bit: TASK_SIZE bounds, vma_can_userfault with WP_ASYNC, hugetlbfs splits, holes
// between VMAs, which sleepers unregister wakes, and what resolving uffd-wp leaves behind. Model and impl run together.
import { describe, expect, it } from "vitest";
import { MAP_BASE, PAGE_SIZE as P, TASK_SIZE } from "../model/consts.js";
import type { State } from "../model/index.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, UffdFeatureName, UffdModeName } from "../schema/ops.js";
import { levelAt, runBoth } from "./helpers/run.js";

const H = 2 * 1024 * 1024;
const RICH = PRESETS.default;
const K618 = PRESETS["kernel-6.18"];
const BASIC = ["WAKE", "COPY", "ZEROPAGE", "MOVE", "POISON"];
const WITH_WP = ["WAKE", "COPY", "ZEROPAGE", "MOVE", "WRITEPROTECT", "POISON"];

const open = (features: UffdFeatureName[] = [], uffd = "u0"): Op => ({ op: "uffd_open", uffd, features });
const reg = (mode: UffdModeName[], offset = 0, len = 4 * P, uffd = "u0", map = "m0"): Op => ({ op: "uffd_register", uffd, map, offset, len, mode });
const unreg = (offset = 0, len = 4 * P, uffd = "u0", map = "m0"): Op => ({ op: "uffd_unregister", uffd, map, offset, len });
const wp = (offset: number, len: number, on = true): Op => ({ op: "uffdio_writeprotect", uffd: "u0", map: "m0", offset, len, mode: on ? ["WP"] : [] });
const touch = (offset: number, kind: "read" | "write" = "write", id?: string): Op => ({ op: "access", map: "m0", offset, kind, byte: 3, ...(id === undefined ? {} : { id }) });
const anon = (pages = 4): Op => ({ op: "mmap", map: "m0", file: "anon", offset: 0, length: pages * P });
/** A 2-page memfd behind m0 (shared unless said otherwise). */
const shmem = (over: { shared?: boolean; prot?: "rw" | "r" } = {}): Op[] => [
  { op: "memfd", file: "f0", size: 2 * P },
  { op: "mmap", map: "m0", file: "f0", offset: 0, length: 2 * P, shared: over.shared ?? true, ...(over.prot === undefined ? {} : { prot: over.prot }) },
];
const hugetlb: Op[] = [{ op: "memfd", file: "f0", size: 2 * H, hugetlb: true }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: 2 * H, shared: true }];

const run = (ops: readonly Op[], config: Config = RICH) => runBoth(config, ops);
const m0 = (s: State) => s.mm.maps.get("m0")!;
const pte = (s: State, page: number) => m0(s).ptes.find((sp) => page >= sp.start && page < sp.end)?.value;
const marker = (s: State, page: number) => m0(s).markers?.find((sp) => page >= sp.start && page < sp.end)?.value;
const regAt = (s: State, page: number) => m0(s).uffd?.find((sp) => page >= sp.start && page < sp.end)?.value;

describe("validate_range at TASK_SIZE", () => {
  const toTop = TASK_SIZE.x86 - MAP_BASE;

  it("a range ending exactly at TASK_SIZE is valid (len > task_size - start is the refusal)", async () => {
    const { outcomes, state } = await run([anon(), open(), reg(["MISSING"], 0, toTop), unreg(0, toTop)]);
    expect(outcomes.slice(-2)).toEqual([{ result: "ok", ioctls: BASIC }, { result: "ok" }]);
    expect(m0(state).uffd).toBeUndefined();
  });

  it("one page further is refused before any VMA is looked at, though the mapping is inside", async () => {
    const { outcomes, fired, state } = await run([anon(), open(), reg(["MISSING"], P, toTop)]);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
    expect(fired.at(-1)).toContain("uffd.range");
    expect(regAt(state, 1)).toBeUndefined();
  });
});

describe("vma_can_userfault: WP_ASYNC admits exactly WP-only", () => {
  it("WP-only on guest_memfd without WP_ASYNC is refused on the running kernel", async () => {
    const gm: Op[] = [{ op: "create_vm", vm: "v0" }, { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * P, flags: ["MMAP", "INIT_SHARED"] }, { op: "gmem_mmap", gmem: "g0", map: "m0", offset: 0, length: 2 * P }];
    const { outcomes } = await run([...gm, open(), reg(["WP"], 0, 2 * P)], K618);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
  });

  it("WP_ASYNC does not admit WP|MINOR on anonymous memory", async () => {
    const { outcomes } = await run([anon(), open(["WP_ASYNC"]), reg(["WP", "MINOR"])]);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
  });

  it("WP_ASYNC does not admit MINOR-only on anonymous memory", async () => {
    const { outcomes } = await run([anon(), open(["WP_ASYNC"]), reg(["MINOR"])]);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
  });
});

describe("hugetlbfs registration and splits", () => {
  it("the end-alignment check runs only on the VMA holding end: an earlier VMA owned by another uffd gives EBUSY", async () => {
    const { outcomes, state } = await run([...hugetlb, open(), open([], "u1"), reg(["MISSING"], 0, H, "u1"), reg(["MISSING"], 0, H + P)]);
    expect(outcomes.at(-1)).toEqual({ errno: "EBUSY" });
    expect(regAt(state, 512)).toBeUndefined();
  });

  it("unregister splits at a huge page boundary: from an aligned non-zero start, and up to an aligned end", async () => {
    const { outcomes, state } = await run([...hugetlb, open(), reg(["MISSING"], 0, 2 * H), unreg(H, H), reg(["MISSING"], 0, 2 * H), unreg(0, H)]);
    expect(outcomes.slice(-3)).toEqual([{ result: "ok" }, { result: "ok", ioctls: ["WAKE", "COPY", "POISON"] }, { result: "ok" }]);
    expect(regAt(state, 0)).toBeUndefined();
    expect(regAt(state, 512)?.modes).toEqual(["MISSING"]);
  });

  it("a failed split still resolved uffd-wp on the huge page it covered (userfaultfd_clear_vma resolves first)", async () => {
    const { outcomes, state } = await run([...hugetlb, open(), reg(["WP"], 0, 2 * H), touch(0), wp(0, H), unreg(0, H + P)]);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
    expect(pte(state, 0)).toMatchObject({ writable: true });
    expect(pte(state, 0)?.uffdWp).toBeUndefined();
    expect(regAt(state, 0)?.modes).toEqual(["WP"]);
  });

  it("a failed split resolves the whole huge page holding its end (hugetlb_change_protection steps whole pages)", async () => {
    const { outcomes, state } = await run([...hugetlb, open(), reg(["WP"], 0, 2 * H), touch(0), touch(H), wp(0, 2 * H), unreg(0, H + P)]);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
    for (const page of [0, H / P, 2 * H / P - 1]) expect(pte(state, page)).toMatchObject({ writable: true });
    expect(pte(state, 2 * H / P - 1)?.uffdWp).toBeUndefined();
  });

  it("a failed split resolves no huge page past the one holding its end", async () => {
    const three: Op[] = [{ op: "memfd", file: "f0", size: 3 * H, hugetlb: true }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: 3 * H, shared: true }];
    const { outcomes, state } = await run([...three, open(), reg(["WP"], 0, 3 * H), touch(0), touch(2 * H), wp(0, 3 * H), unreg(0, H + P)]);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
    expect(pte(state, 0)?.uffdWp).toBeUndefined();
    expect(pte(state, 2 * H / P)).toMatchObject({ writable: false, uffdWp: true });
  });

  it("a failed split of a VMA re-registered MISSING-only leaves its stale uffd-wp bit (userfaultfd_wp(vma) is false)", async () => {
    const { outcomes, state } = await run([...hugetlb, open(), reg(["WP"], 0, 2 * H), touch(0), wp(0, H), reg(["MISSING"], 0, 2 * H), unreg(0, H + P)]);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
    expect(pte(state, 0)).toMatchObject({ writable: false, uffdWp: true });
  });
});

describe("VMAs across holes and registrations", () => {
  it("writeprotect skips a hole before the first registered VMA", async () => {
    const { outcomes } = await run([anon(), { op: "munmap", map: "m0", offset: 0, len: P }, open(), reg(["WP"], P, 3 * P), wp(0, 4 * P)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
  });

  it("writeprotect skips a hole after the last registered VMA", async () => {
    const { outcomes } = await run([anon(), { op: "munmap", map: "m0", offset: 3 * P, len: P }, open(), reg(["WP"], 0, 3 * P), wp(0, 4 * P)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
  });

  it("writeprotect crosses two adjacent VMAs registered with different modes", async () => {
    const { outcomes } = await run([anon(), open(), reg(["WP"], 0, 2 * P), reg(["MISSING", "WP"], 2 * P, 2 * P), wp(0, 4 * P)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
  });
});

describe("which sleepers unregister wakes", () => {
  it("MINOR-only sleepers stay asleep (only userfaultfd_missing VMAs are woken)", async () => {
    const ops: Op[] = [
      ...shmem(),
      { op: "mmap", map: "m1", file: "f0", offset: 0, length: 2 * P, shared: true },
      { op: "write_alias", map: "m1", offset: 0, byte: 7 },
      open(),
      reg(["MINOR"], 0, 2 * P),
      touch(0, "read", "a0"),
      unreg(0, 2 * P),
      { op: "wake_check", id: "a0" },
    ];
    const { outcomes } = await run(ops);
    expect(outcomes.at(-3)).toMatchObject({ result: "blocked" });
    expect(outcomes.at(-1)).toMatchObject({ result: "blocked" });
  });

  it("unregistering the upper half of a MISSING range leaves a sleeper in the lower half asleep", async () => {
    const { outcomes } = await run([anon(), open(), reg(["MISSING"]), touch(P, "read", "a0"), unreg(2 * P, 2 * P), { op: "wake_check", id: "a0" }]);
    expect(outcomes.at(-3)).toMatchObject({ result: "blocked" });
    expect(outcomes.at(-1)).toMatchObject({ result: "blocked" });
  });
});

describe("writeprotect changes only the PTEs in its range", () => {
  it("writeprotect of one page leaves the present pages on both sides alone", async () => {
    const { state } = await run([anon(), open(), reg(["WP"]), touch(0), touch(P), touch(2 * P), wp(P, P)]);
    expect([pte(state, 0), pte(state, 1), pte(state, 2)]).toEqual([
      { target: "anon", writable: true, page: { in: "anon", map: "m0", delta: 0 } },
      { target: "anon", writable: false, page: { in: "anon", map: "m0", delta: 0 }, uffdWp: true },
      { target: "anon", writable: true, page: { in: "anon", map: "m0", delta: 0 } },
    ]);
  });
});

describe("resolving uffd-wp restores exactly the write bit the PTE would have", () => {
  it("unregister resolves a write-protected anonymous page", async () => {
    const { state } = await run([anon(), open(), reg(["WP"]), touch(0), wp(0, P), unreg()]);
    expect(pte(state, 0)).toEqual({ target: "anon", writable: true, page: { in: "anon", map: "m0", delta: 0 } });
  });

  it("a VMA re-registered MISSING-only keeps the stale uffd-wp bit through unregister", async () => {
    const { outcomes, state } = await run([anon(), open(), reg(["WP"]), touch(0), wp(0, P), reg(["MISSING"]), unreg()]);
    expect(outcomes.at(-2)).toEqual({ result: "ok", ioctls: BASIC });
    expect(pte(state, 0)).toEqual({ target: "anon", writable: false, page: { in: "anon", map: "m0", delta: 0 }, uffdWp: true });
  });

  it("the zero page stays read-only", async () => {
    const { state } = await run([anon(), open(), reg(["WP"]), touch(0, "read"), wp(0, P), unreg()]);
    expect(pte(state, 0)).toEqual({ target: "zero", writable: false, page: { in: "zero" } });
  });

  it("a page-cache page of a private file mapping stays read-only (can_change_pte_writable: not anon)", async () => {
    const { state } = await run([...shmem({ shared: false }), open(), reg(["WP"], 0, 2 * P), touch(0, "read"), wp(0, P), unreg(0, 2 * P)]);
    expect(pte(state, 0)).toEqual({ target: "file", writable: false, page: { in: "file", file: 0, delta: 0 } });
  });

  it("a shared mapping without PROT_WRITE stays read-only", async () => {
    const { outcomes, state } = await run([...shmem({ prot: "r" }), open(), reg(["WP"], 0, 2 * P), touch(0, "read"), wp(0, P), unreg(0, 2 * P)]);
    expect(outcomes.at(-4)).toEqual({ result: "ok", ioctls: WITH_WP });
    expect(pte(state, 0)).toEqual({ target: "file", writable: false, page: { in: "file", file: 0, delta: 0 } });
  });
});

describe("uffd-wp markers", () => {
  it("anonymous memory without WP_UNPOPULATED gets no marker on an empty page", async () => {
    const { state } = await run([anon(), open(), reg(["WP"]), wp(0, 2 * P)]);
    expect(marker(state, 0)).toBeUndefined();
  });

  it("shmem gets markers on the holes around a present page, and unregister clears them", async () => {
    const { state: mid } = await run([...shmem(), open(), reg(["WP"], 0, 2 * P), touch(1 * P, "read"), wp(0, 2 * P)]);
    expect([marker(mid, 0), pte(mid, 1)?.uffdWp]).toEqual(["wp", true]);
    const { state } = await run([...shmem(), open(), reg(["WP"], 0, 2 * P), touch(1 * P, "read"), wp(0, 2 * P), unreg(0, 2 * P)]);
    expect(m0(state).markers).toBeUndefined();
    expect(pte(state, 1)).toEqual({ target: "file", writable: true, page: { in: "file", file: 0, delta: 0 } });
  });

  it("a poison marker survives writeprotect and resolution", async () => {
    const ops: Op[] = [...shmem(), open(), reg(["MISSING", "WP"], 0, 2 * P), { op: "uffdio_poison", uffd: "u0", map: "m0", offset: P, len: P }, wp(0, 2 * P)];
    const { state: mid } = await run(ops);
    expect([marker(mid, 0), marker(mid, 1)]).toEqual(["wp", "poison"]);
    const { state } = await run([...ops, unreg(0, 2 * P)]);
    expect([marker(state, 0), marker(state, 1)]).toEqual([undefined, "poison"]);
  });
});

describe("KVM is told about exactly the write-protected range", () => {
  it("writeprotect of page 1 zaps its stage-2 mapping and leaves page 0's", async () => {
    const ops: Op[] = [
      anon(),
      { op: "create_vm", vm: "v0" },
      { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 4 * P, userspace: "m0", userspace_offset: 0 },
      touch(0),
      touch(P),
      open(),
      reg(["WP"]),
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: P, kind: "read" },
    ];
    const { state: before } = await run(ops);
    expect([levelAt(before, 0), levelAt(before, 1)]).toEqual([0, 0]);
    const { outcomes, state } = await run([...ops, wp(P, P)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
    expect([levelAt(state, 0), levelAt(state, 1)]).toEqual([0, undefined]);
  });
});
