// Outcomes the kernel may give besides step()'s are admitted only with a cause running at the same time.
import { describe, expect, it } from "vitest";
import { initial, step, type State } from "../model/index.js";
import { explain } from "../props/concurrent/history.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";

const MiB = 1024 * 1024;
const SETUP: Op[] = [
  { op: "create_vm", vm: "v0", type: 1 },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * MiB, flags: ["MMAP", "INIT_SHARED"] },
  { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: 4 * MiB },
  { op: "write_alias", map: "m5", offset: 4096, byte: 7 },
];
const convert: Op = { op: "gmem_convert", gmem: "g0", offset: 0, size: 2 * 4096, to: "private" };
const busyAt = (page: number) => ({ errno: "EAGAIN" as const, error_offset: page * 4096 });

function setup(): State {
  return SETUP.reduce((s, op) => step(s, op).state, initial(PRESETS["gmem-v7"]));
}

describe("transient references in a v7 conversion", () => {
  it("alone, the conversion succeeds and nothing else explains an EAGAIN", () => {
    const s = setup();
    expect(step(s, convert).outcome).toEqual({ result: "ok" });
    expect(explain(s, convert, busyAt(1))).toBeUndefined();
  });

  it("a host fault on page 1 in flight explains EAGAIN at page 1, not at page 0", () => {
    const s = setup();
    const fault: Op = { op: "access", map: "m5", offset: 4096, kind: "read" };
    const r = explain(s, convert, busyAt(1), [fault]);
    expect(r?.fired).toContain("gmem.convert-transient-ref");
    expect(explain(s, convert, busyAt(0), [fault])).toBeUndefined();
  });

  it("the failed conversion changes nothing but the host mappings it unmapped first", () => {
    const s = setup();
    const r = explain(s, convert, busyAt(1), [{ op: "read_alias", map: "m5", offset: 4096 }])!;
    expect(r.state.gmem).toEqual(s.gmem);
  });
});
