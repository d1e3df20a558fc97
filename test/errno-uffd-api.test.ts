// The userfaultfd fd and its UFFDIO_API handshake in full: creating the fd both ways with each flag, the ioctls
// before the handshake, an unknown api number, unknown feature bits, a second handshake, and what the kernel writes
// back each time. Through model and impl; the outcomes were checked on the running kernel (corpus uffd/handshake).
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS } from "../schema/config.js";
import { UFFD_FEATURES, type Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";

const P = 4096;
const K618 = PRESETS["kernel-6.18"];
const ALL = { features: [...UFFD_FEATURES], ioctls: ["REGISTER", "UNREGISTER", "API"] };
const ZEROED = { api: 0, features: [], ioctls: [] };

const create = (extra: object = {}): Op => ({ op: "uffd_create", uffd: "u0", ...extra });
const api = (features: (string | number)[] = [], extra: object = {}): Op => ({ op: "uffdio_api", uffd: "u0", features, ...extra }) as Op;
const ANON: Op = { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P };
const range = { map: "m0", offset: 0, len: P };

interface Case {
  readonly name: string;
  readonly setup: readonly Op[];
  readonly op: Op;
  readonly outcome: Outcome;
  readonly rule: string;
}

const CASES: readonly Case[] = [
  // creating the fd
  { name: "userfaultfd(2) with every flag it takes", setup: [], op: create({ flags: ["USER_MODE_ONLY", "NONBLOCK", "CLOEXEC"] }), outcome: { result: "ok" }, rule: "uffd.create" },
  { name: "USERFAULTFD_IOC_NEW on /dev/userfaultfd", setup: [], op: create({ dev: true, flags: ["CLOEXEC"] }), outcome: { result: "ok" }, rule: "uffd.create" },
  { name: "userfaultfd(2) with O_RDWR's bit (2)", setup: [], op: create({ flags: [2] }), outcome: { errno: "EINVAL" }, rule: "uffd.create-flags" },
  { name: "USERFAULTFD_IOC_NEW with an unknown flag", setup: [], op: create({ dev: true, flags: [65536] }), outcome: { errno: "EINVAL" }, rule: "uffd.create-flags" },
  { name: "uffd_open with an unknown flag creates nothing", setup: [], op: { op: "uffd_open", uffd: "u0", features: [], flags: [2] }, outcome: { errno: "EINVAL" }, rule: "uffd.create-flags" },
  // every other ioctl before the handshake
  { name: "UFFDIO_REGISTER before UFFDIO_API", setup: [ANON, create()], op: { op: "uffd_register", uffd: "u0", ...range, mode: ["MISSING"] }, outcome: { errno: "EINVAL" }, rule: "uffd.ioctl-before-api" },
  { name: "UFFDIO_UNREGISTER before UFFDIO_API", setup: [ANON, create()], op: { op: "uffd_unregister", uffd: "u0", ...range }, outcome: { errno: "EINVAL" }, rule: "uffd.ioctl-before-api" },
  { name: "UFFDIO_WAKE before UFFDIO_API, even with a bad range", setup: [create()], op: { op: "uffdio_wake", uffd: "u0", map: "m0", offset: 1, len: 0 }, outcome: { errno: "EINVAL" }, rule: "uffd.ioctl-before-api" },
  { name: "UFFDIO_COPY before UFFDIO_API: copy not written", setup: [ANON, create()], op: { op: "uffdio_copy", uffd: "u0", ...range }, outcome: { errno: "EINVAL", copy: null }, rule: "uffd.ioctl-before-api" },
  { name: "UFFDIO_WRITEPROTECT before UFFDIO_API", setup: [ANON, create()], op: { op: "uffdio_writeprotect", uffd: "u0", ...range, mode: ["WP"] }, outcome: { errno: "EINVAL" }, rule: "uffd.ioctl-before-api" },
  // the handshake
  { name: "UFFDIO_API", setup: [create()], op: api(["SIGBUS"]), outcome: { result: "ok", api: 0xaa, ...ALL }, rule: "uffd.api" },
  { name: "UFFDIO_API with features as raw bits", setup: [create()], op: api([2 ** 7 + 2 ** 15]), outcome: { result: "ok", api: 0xaa, ...ALL }, rule: "uffd.api" },
  { name: "an api number other than 0xAA: the struct comes back zeroed", setup: [create()], op: api([], { api: 0xab }), outcome: { errno: "EINVAL", ...ZEROED }, rule: "uffd.api-version" },
  { name: "a feature bit past MOVE (1 << 17)", setup: [create()], op: api([2 ** 17]), outcome: { errno: "EINVAL", ...ZEROED }, rule: "uffd.api-features" },
  { name: "feature bit 40", setup: [create()], op: api(["SIGBUS", 2 ** 40]), outcome: { errno: "EINVAL", ...ZEROED }, rule: "uffd.api-features" },
  { name: "a second handshake", setup: [create(), api()], op: api(), outcome: { errno: "EINVAL", ...ZEROED }, rule: "uffd.api-again" },
  { name: "a second handshake with a bad api number: the api check comes first", setup: [create(), api()], op: api([], { api: 0 }), outcome: { errno: "EINVAL", ...ZEROED }, rule: "uffd.api-version" },
  { name: "a handshake after a refused one", setup: [create(), api([2 ** 20])], op: api(), outcome: { result: "ok", api: 0xaa, ...ALL }, rule: "uffd.api" },
  { name: "uffd_open after uffd_open: each fd has its own handshake", setup: [{ op: "uffd_open", uffd: "u1", features: [] }], op: { op: "uffd_open", uffd: "u0", features: [] }, outcome: { result: "ok", ...ALL }, rule: "uffd.open" },
  { name: "uffd_open with an unknown feature: the fd exists, zeroed write-back", setup: [], op: { op: "uffd_open", uffd: "u0", features: [2 ** 17] }, outcome: { errno: "EINVAL", features: [], ioctls: [] }, rule: "uffd.api-features" },
  { name: "UFFDIO_API on uffd_open's fd", setup: [{ op: "uffd_open", uffd: "u0", features: [] }], op: api(), outcome: { errno: "EINVAL", ...ZEROED }, rule: "uffd.api-again" },
  // UFFDIO_API on what is no userfaultfd: nothing written back
  { name: "UFFDIO_API on a name no fd has", setup: [], op: api(), outcome: { errno: "EBADF" }, rule: "uffd.ioctl-ebadf" },
  { name: "UFFDIO_API on a memfd", setup: [{ op: "memfd", file: "u0", size: P }], op: api(), outcome: { errno: "ENOTTY" }, rule: "fd.ioctl-enotty" },
  { name: "UFFDIO_API on a VM fd (x86)", setup: [{ op: "create_vm", vm: "u0" }], op: api(), outcome: { errno: "ENOTTY" }, rule: "fd.ioctl-vm-enotty" },
];

describe("the userfaultfd fd and UFFDIO_API", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const checker = new Checker(K618);
      await checker.applyAll([...c.setup, c.op]);
      const last = checker.trace[checker.trace.length - 1]!;
      expect(last.model).toEqual(c.outcome);
      expect(last.fired).toContain(c.rule);
    });
  }

  it("a refused uffd_open leaves an fd before its handshake: register through it is EINVAL, UFFDIO_API then works", async () => {
    const checker = new Checker(K618);
    const reg: Op = { op: "uffd_register", uffd: "u0", ...range, mode: ["MISSING"] };
    await checker.applyAll([ANON, { op: "uffd_open", uffd: "u0", features: [2 ** 17] }, reg, api(), reg]);
    expect(checker.trace.slice(-3).map((t) => t.model)).toEqual([{ errno: "EINVAL" }, { result: "ok", api: 0xaa, ...ALL }, expect.objectContaining({ result: "ok" })]);
  });

  it("a second handshake keeps the first one's features: a SIGBUS ctx stays one", async () => {
    const checker = new Checker(K618);
    await checker.applyAll([ANON, create(), api(["SIGBUS"]), api([]), { op: "uffd_register", uffd: "u0", ...range, mode: ["MISSING"] }, { op: "access", map: "m0", offset: 0, kind: "read" }]);
    expect(checker.trace.at(-1)!.model).toEqual({ result: "SIGBUS", code: "BUS_ADRERR" });
  });
});
