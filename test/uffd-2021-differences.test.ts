// Where today's kernel differs from the text of the 2021 minor-fault series ("[PATCH 0/9] userfaultfd: add minor
// fault handling", 20210115190451.3135416-1-axelrasmussen@google.com; ../shared/spec/uffd-semantics.md §4.8):
// each claim of the cover letter next to what the model (the running 6.18 kernel, probed) does now.
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";

const P = 4096;
const H = 2 * 1024 * 1024;

/** A minor fault as the series defines it: m1 (not registered) filled page 0, m0 (MINOR) faults on it. */
function minorFault(kind: "shmem" | "hugetlb", shared = true): Op[] {
  const size = kind === "hugetlb" ? 2 * H : 2 * P;
  return [
    { op: "memfd", file: "f0", size, ...(kind === "hugetlb" ? { hugetlb: true } : {}) },
    { op: "mmap", map: "m0", file: "f0", offset: 0, length: size, shared },
    { op: "mmap", map: "m1", file: "f0", offset: 0, length: size, shared: true },
    { op: "uffd_open", uffd: "u0", features: [] },
    { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: size, mode: ["MINOR"] },
    { op: "write_alias", map: "m1", offset: 0, byte: 7 },
    { op: "access", map: "m0", offset: 0, kind: "read", id: "a0" },
  ];
}

async function run(steps: readonly Op[]): Promise<Outcome[]> {
  const c = new Checker(PRESETS["kernel-6.18"]);
  await c.applyAll(steps);
  return c.trace.map((t) => t.model);
}

const last = async (steps: readonly Op[]): Promise<Outcome> => (await run(steps)).at(-1)!;
const ioctl = (op: "uffdio_continue" | "uffdio_copy" | "uffdio_zeropage", offset: number, len: number): Op => ({ op, uffd: "u0", map: "m0", offset, len });

describe("the 2021 minor-fault series, and today's kernel", () => {
  it("the setup is a minor fault: the registered mapping's first touch reports MINOR", async () => {
    expect((await run(minorFault("shmem"))).at(-1)).toEqual({ result: "blocked", fault: { uffd: "u0", flags: ["MINOR"], address_offset: 0 } });
  });

  it("series: CONTINUE resolves it and the thread reads what the other mapping wrote (unchanged)", async () => {
    const out = await run([...minorFault("shmem"), ioctl("uffdio_continue", 0, P), { op: "wake_check", id: "a0" }]);
    expect(out.slice(-2)).toEqual([{ result: "ok", mapped: P }, { result: "completed", value: 7 }]);
  });

  it('series: "CONTINUE on a non-minor fault returns EINVAL for shmem"; today a shmem hole gives EFAULT (SGP_NOALLOC -ENOENT) [differs]', async () => {
    expect(await last([...minorFault("shmem"), ioctl("uffdio_continue", P, P)])).toEqual({ errno: "EFAULT", mapped: -14 });
  });

  it("series: CONTINUE on non-shared (anonymous) memory gives EINVAL; today too (MINOR cannot even be registered there) [same]", async () => {
    const steps: Op[] = [
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: P },
      { op: "uffd_open", uffd: "u0", features: [] },
      { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: P, mode: ["MINOR"] },
      { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: P, mode: ["MISSING"] },
      ioctl("uffdio_continue", 0, P),
    ];
    const out = await run(steps);
    expect(out.at(-3)).toEqual({ errno: "EINVAL" });
    expect(out.at(-1)).toEqual({ errno: "EINVAL", mapped: -22 });
  });

  it("series text does not cover a shmem page past EOF: the running kernel gives EINVAL (mm-2026 would give EFAULT)", async () => {
    const steps: Op[] = [...minorFault("shmem"), { op: "mmap", map: "m2", file: "f0", offset: 0, length: 4 * P, shared: true }, { op: "uffd_register", uffd: "u0", map: "m2", offset: 0, len: 4 * P, mode: ["MINOR"] }];
    expect(await last([...steps, { op: "uffdio_continue", uffd: "u0", map: "m2", offset: 3 * P, len: P }])).toEqual({ errno: "EINVAL", mapped: -22 });
  });

  it('series: "CONTINUE on a non-minor fault returns EFAULT for hugetlb" [same]', async () => {
    expect(await last([...minorFault("hugetlb"), ioctl("uffdio_continue", H, H)])).toEqual({ errno: "EFAULT", mapped: -14 });
  });

  it("not in the series: CONTINUE where a PTE is already present gives EEXIST [addition]", async () => {
    expect(await last([...minorFault("shmem"), ioctl("uffdio_continue", 0, P), ioctl("uffdio_continue", 0, P)])).toEqual({ errno: "EEXIST", mapped: -17 });
  });

  it('series: "COPY on a minor fault returns EEXIST"; today for a shared mapping [same]', async () => {
    expect(await last([...minorFault("shmem"), ioctl("uffdio_copy", 0, P)])).toEqual({ errno: "EEXIST", copy: -17 });
    expect(await last([...minorFault("hugetlb"), ioctl("uffdio_copy", 0, H)])).toEqual({ errno: "EEXIST", copy: -17 });
  });

  it("today COPY into a MAP_PRIVATE mapping ignores the page cache and succeeds, waking the thread on a private copy [differs]", async () => {
    const out = await run([...minorFault("shmem", false), ioctl("uffdio_copy", 0, P), { op: "wake_check", id: "a0" }, { op: "read_alias", map: "m1", offset: 0 }]);
    expect(out.slice(-3)).toEqual([{ result: "ok", copy: P }, { result: "completed", value: 0 }, { result: "ok", value: 7 }]);
  });

  it('series: "ZEROPAGE on a minor fault returns EEXIST (EINVAL for hugetlb)"; today for shared shmem and hugetlb [same]', async () => {
    expect(await last([...minorFault("shmem"), ioctl("uffdio_zeropage", 0, P)])).toEqual({ errno: "EEXIST", zeropage: -17 });
    expect(await last([...minorFault("hugetlb"), ioctl("uffdio_zeropage", 0, H)])).toEqual({ errno: "EINVAL", zeropage: -22 });
  });

  it("today ZEROPAGE into a MAP_PRIVATE shmem mapping maps the zero page and succeeds [differs]", async () => {
    const out = await run([...minorFault("shmem", false), ioctl("uffdio_zeropage", 0, P), { op: "wake_check", id: "a0" }]);
    expect(out.slice(-2)).toEqual([{ result: "ok", zeropage: P }, { result: "completed", value: 0 }]);
  });

  it('series: "WRITEPROTECT simply does not work with shared memory (ENOENT)"; since 5.19 it works on shmem registered with WP [differs]', async () => {
    const steps: Op[] = [
      ...minorFault("shmem"),
      { op: "uffdio_writeprotect", uffd: "u0", map: "m0", offset: 0, len: P, mode: ["WP"] },
      { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 2 * P, mode: ["MINOR", "WP"] },
      { op: "uffdio_continue", uffd: "u0", map: "m0", offset: 0, len: P },
      { op: "uffdio_writeprotect", uffd: "u0", map: "m0", offset: 0, len: P, mode: ["WP"] },
      { op: "access", map: "m0", offset: 0, kind: "write", byte: 3, id: "a1" },
    ];
    const out = await run(steps);
    expect(out.at(-5)).toEqual({ errno: "ENOENT" });
    expect(out.slice(-2)).toEqual([{ result: "ok" }, { result: "blocked", fault: { uffd: "u0", flags: ["WRITE", "WP"], address_offset: 0 } }]);
  });

  it("since 2021: UNREGISTER through a different userfaultfd fails with EINVAL (it used to succeed) [differs]", async () => {
    const steps: Op[] = [...minorFault("shmem"), { op: "uffd_open", uffd: "u1", features: [] }, { op: "uffd_unregister", uffd: "u1", map: "m0", offset: 0, len: P }];
    expect(await last(steps)).toEqual({ errno: "EINVAL" });
  });

  it("since 2021: CONTINUE takes MODE_WP, which needs a WP registration [addition]", async () => {
    const steps: Op[] = [...minorFault("shmem"), { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 2 * P, mode: ["MINOR", "WP"] }, { op: "uffdio_continue", uffd: "u0", map: "m0", offset: 0, len: P, mode: ["WP"] }, { op: "access", map: "m0", offset: 0, kind: "write", byte: 1, id: "a1" }];
    expect((await run(steps)).slice(-2)).toEqual([{ result: "ok", mapped: P }, { result: "blocked", fault: { uffd: "u0", flags: ["WRITE", "WP"], address_offset: 0 } }]);
  });
});
