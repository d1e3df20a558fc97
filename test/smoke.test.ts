import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { initial, step } from "../model/index.js";

function run(ops: Op[]) {
  let s = initial(DEFAULT_CONFIG);
  return ops.map((op) => {
    const r = step(s, op);
    s = r.state;
    return { outcome: r.outcome, fired: r.fired };
  });
}

describe("smoke", () => {
  it("runs a basic userfault flow", () => {
    const out = run([
      { op: "create_vm", vm: "v0" },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 1 << 21 },
      { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 1 << 21, userspace: "m0" },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "write", byte: 7 },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "read" },
      { op: "access", map: "m0", offset: 4096, kind: "read" },
      { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 2, npages: 1 },
      { op: "set_memory_region", vm: "v0", slot: 0, flags: ["USERFAULT"], guest_phys_addr: 0, memory_size: 1 << 21, userspace: "m0" },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 8192, kind: "read" },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "read" },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 1 << 30, kind: "read" },
    ]);
    console.log(JSON.stringify(out.map((o) => o.outcome)));
    expect(out[4]!.outcome).toEqual({ result: "ok", value: 7 });
    expect(out[8]!.outcome).toMatchObject({ result: "exit", exit: "memory_fault", flags: ["USERFAULT"] });
  });
});
