// write_alias through the second mapping: a store that runs into the page at i_size SIGBUSes there, and the bytes
// stored before it stay, for shmem and guest_memfd alike (model and impl; corpus guest_memfd/alias-past-eof).
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";

const P = 4096;

const cases: { name: string; setup: Op[]; map: string; read: Op }[] = [
  {
    name: "shmem",
    setup: [{ op: "memfd", file: "f0", size: 2 * P }, { op: "mmap", map: "m1", file: "f0", offset: 0, length: 4 * P }],
    map: "m1",
    read: { op: "pread", file: "f0", offset: 2 * P - 1 },
  },
  {
    name: "guest_memfd",
    setup: [
      { op: "create_vm", vm: "v0" },
      { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * P, flags: ["MMAP", "INIT_SHARED"] },
      { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 0, length: 4 * P },
    ],
    map: "m1",
    read: { op: "read_alias", map: "m1", offset: 2 * P - 1 },
  },
];

describe("an alias write past EOF", () => {
  for (const c of cases) {
    it(`${c.name}: SIGBUS at the page past EOF, the bytes before it stay`, async () => {
      for (const config of [PRESETS["kernel-6.18"], PRESETS.default]) {
        const checker = new Checker(config);
        await checker.applyAll([...c.setup, { op: "write_alias", map: c.map, offset: 2 * P - 2, len: 4, byte: 7 }, c.read]);
        expect(checker.trace.slice(-2).map((t) => t.model)).toEqual([{ result: "SIGBUS", code: "BUS_ADRERR" }, { result: "ok", value: 7 }]);
      }
    });
  }
});
