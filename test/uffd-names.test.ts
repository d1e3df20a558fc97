// The uffd named in a blocked outcome: the name the ctx was opened under while it still names that ctx, else
// "unnamed" (docs/VOCABULARY.md), in model and impl; corpus uffd/rebound-name checks the same on the kernel.
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";

const P = 4096;
const setup: Op[] = [
  { op: "uffd_open", uffd: "u0", features: [] },
  { op: "memfd", file: "f0", size: 4 * P },
  { op: "mmap", map: "m1", file: "f0", offset: 0, length: 4 * P },
  { op: "write_alias", map: "m1", offset: 0, byte: 1, len: 2 * P },
  { op: "uffd_register", uffd: "u0", map: "m1", offset: 0, len: 4 * P, mode: ["MINOR"] },
];
const fault = (id: string, page = 0): Op => ({ op: "access", map: "m1", offset: page * P, kind: "read", id });

async function run(ops: readonly Op[]): Promise<Checker> {
  const c = new Checker(PRESETS["kernel-6.18"]);
  await c.applyAll([...setup, ...ops]);
  return c;
}

describe("which name a userfault message carries", () => {
  it("the ctx's own name while it names it", async () => {
    const c = await run([fault("a0")]);
    expect(c.trace.at(-1)!.model).toEqual({ result: "blocked", fault: { uffd: "u0", flags: ["MINOR"], address_offset: 0 } });
  });

  it("unnamed once the name was opened again: the old ctx keeps the registration and gets the fault", async () => {
    const c = await run([fault("a0"), { op: "uffd_open", uffd: "u0", features: [] }, fault("a1", 1), { op: "wake_check", id: "a0" }]);
    const unnamed = (page: number) => ({ result: "blocked", fault: { uffd: "unnamed", flags: ["MINOR"], address_offset: page * P } });
    expect(c.trace.slice(-2).map((t) => t.model)).toEqual([unnamed(1), unnamed(0)]);
  });

  it("a resolution through the new ctx maps the page but wakes only its own waiters", async () => {
    const c = await run([{ op: "uffd_open", uffd: "u0", features: [] }, fault("a0"), { op: "uffdio_continue", uffd: "u0", map: "m1", offset: 0, len: P }, { op: "wake_check", id: "a0" }, fault("a1")]);
    expect(c.trace.slice(-3).map((t) => t.model)).toEqual([
      { result: "ok", mapped: P },
      { result: "blocked", fault: { uffd: "unnamed", flags: ["MINOR"], address_offset: 0 } },
      { result: "ok", value: 1 },
    ]);
  });
});
