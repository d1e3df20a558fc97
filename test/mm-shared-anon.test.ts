// MAP_SHARED | MAP_ANONYMOUS memory is an unnamed shmem file (shmem_zero_setup), in model and impl alike: page
// cache semantics for DONTNEED and REMOVE, shmem for userfaultfd, and no fd to map it a second time.
import { describe, expect, it } from "vitest";
import { initial, step } from "../model/index.js";
import { Checker } from "../props/checker.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";

const P = 4096;
const K618 = PRESETS["kernel-6.18"];
const shared: Op = { op: "mmap", map: "m3", file: "anon", offset: P, length: 3 * P + 1, shared: true };

async function run(ops: readonly Op[]): Promise<Checker> {
  const c = new Checker(K618);
  await c.applyAll(ops);
  return c;
}

describe("shared anonymous memory is shmem", () => {
  it("mmap creates an unnamed shmem file of the rounded length, at file offset 0", () => {
    const r = step(initial(K618), shared);
    expect(r.fired).toContain("mm.mmap-shared-anon");
    expect(r.state.mm.files).toEqual([expect.objectContaining({ kind: "shmem", size: 4 * P, anon: true })]);
    expect(r.state.mm.names.size).toBe(0);
    expect(r.state.mm.maps.get("m3")!.backing).toEqual({ kind: "memfd", file: 0, offset: 0 });
  });

  it("MADV_DONTNEED keeps the data in the page cache; MADV_REMOVE punches it", async () => {
    const c = await run([
      shared,
      { op: "access", map: "m3", offset: P, kind: "write", byte: 7 },
      { op: "madvise", map: "m3", offset: P, len: P, advice: "DONTNEED" },
      { op: "access", map: "m3", offset: P, kind: "read" },
      { op: "madvise", map: "m3", offset: P, len: P, advice: "REMOVE" },
      { op: "access", map: "m3", offset: P, kind: "read" },
    ]);
    expect(c.trace.slice(-4).map((t) => t.model)).toEqual([{ result: "ok" }, { result: "ok", value: 7 }, { result: "ok" }, { result: "ok", value: 0 }]);
  });

  it("takes a MINOR registration, and a fault on a cached page is a MINOR message", async () => {
    const c = await run([
      shared,
      { op: "access", map: "m3", offset: 0, kind: "write", byte: 7 },
      { op: "madvise", map: "m3", offset: 0, len: P, advice: "DONTNEED" },
      { op: "uffd_open", uffd: "u0", features: [] },
      { op: "uffd_register", uffd: "u0", map: "m3", offset: 0, len: 4 * P, mode: ["MINOR"] },
      { op: "access", map: "m3", offset: 0, kind: "read", id: "a0" },
    ]);
    const [reg, fault] = c.trace.slice(-2);
    expect(reg!.fired).toContain("uffd.register");
    expect(fault!.model).toEqual({ result: "blocked", fault: { uffd: "u0", flags: ["MINOR"], address_offset: 0 } });
  });

  it("has no fd, so no alias mapping", async () => {
    const c = await run([shared, { op: "write_alias", map: "m3", offset: 0, byte: 1 }]);
    expect(c.trace[1]!.model).toEqual({ errno: "EINVAL" });
    expect(c.trace[1]!.fired).toContain("faultline.no-alias");
  });
});
