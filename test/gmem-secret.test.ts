// Secret hiding (issue 20, item 5): write() to a guest_memfd at both sides of each of its checks, NO_DIRECT_MAP's flag,
// its GUP refusal and where folios leave and re-enter the direct map, and the seeded slips each new invariant finds alone.
import { describe, expect, it } from "vitest";
import { ALL_CHECKS, Checker, PropertyFailure, type Checks } from "../props/checker.js";
import { renderRaceDiagram } from "../props/concurrent/diagram.js";
import { GMEM_SECRET, GMEM_SECRET_SUITE, SECRET_CONFIG, SECRET_RACE } from "../props/gmem/secret.js";
import { setupOf } from "../props/layouts.js";
import { replay } from "../props/replay.js";
import { runSequentialSuite } from "../props/run.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { ONLY } from "./helpers/seeded-bugs.js";

const P = 4096;
const MiB = 1024 * 1024;
const SETUP = setupOf(GMEM_SECRET, GMEM_SECRET.vmType);

const write = (gmem: string, offset: number, len: number, byte = 7): Op => ({ op: "gmem_write", gmem, offset, len, byte });
const guestRead = (gpa: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "read" });
const kvmRead = (gpa: number): Op => ({ op: "kvm_access", vm: "v0", vcpu: 1, gpa, kind: "read" });
const hostRead = (map: string, page: number): Op => ({ op: "access", map, offset: page * P, kind: "read" });
const allocate = (gmem: string, offset: number, len = P): Op => ({ op: "gmem_fallocate", gmem, mode: ["KEEP_SIZE"], offset, len });
const punch = (gmem: string, offset: number, len = P): Op => ({ op: "gmem_fallocate", gmem, mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset, len });

/** Model and impl side by side (refinement and every invariant): the last step's outcome and the rules it fired. */
async function last(ops: readonly Op[], config: Config = SECRET_CONFIG, setup: readonly Op[] = SETUP, checks: Checks = ALL_CHECKS): Promise<{ outcome: Outcome; fired: readonly string[] }> {
  const c = new Checker(config, checks);
  await c.applyAll([...setup, ...ops]);
  const t = c.trace.at(-1)!;
  return { outcome: t.model, fired: t.fired };
}

interface Case {
  readonly name: string;
  readonly ops: readonly Op[];
  readonly outcome: Outcome;
  readonly rule: string;
  readonly config?: Config;
  readonly setup?: readonly Op[];
}

const TOP = 2 ** 63;
const K618_SETUP: readonly Op[] = [{ op: "create_vm", vm: "v0" }, { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * MiB, flags: ["MMAP", "INIT_SHARED"] }];

const WRITE_CASES: readonly Case[] = [
  { name: "offset 2^63 is negative as loff_t", ops: [write("g0", TOP, P)], outcome: { errno: "EINVAL" }, rule: "gmem.write-pos" },
  { name: "offset 2^63 - 8 KiB passes the sign check and is past i_size", ops: [write("g0", TOP - 2 * P, P)], outcome: { errno: "EINVAL" }, rule: "gmem.write-eof" },
  { name: "offset + len reaching 2^63 overflows loff_t", ops: [write("g0", TOP - P, P)], outcome: { errno: "EINVAL" }, rule: "gmem.write-overflow" },
  { name: "a closed name", ops: [write("g8", 0, P)], outcome: { errno: "EBADF" }, rule: "gmem.write-ebadf" },
  { name: "a VM fd", ops: [write("v0", 0, P)], outcome: { errno: "ENOTTY" }, rule: "faultline.gmem-write-not-gmem" },
  { name: "a kernel without the write() series", ops: [write("g0", 0, P)], config: PRESETS["kernel-6.18"], setup: K618_SETUP, outcome: { errno: "ESPIPE" }, rule: "gmem.write-espipe" },
  { name: "a file made without WRITE", ops: [write("g2", 0, P)], outcome: { errno: "ENODEV" }, rule: "gmem.write-enodev" },
  { name: "len 0 writes nothing", ops: [write("g0", 0, 0)], outcome: { result: "ok", value: 0 }, rule: "gmem.write-empty" },
  { name: "the last page of the file", ops: [write("g0", 4 * MiB - P, P)], outcome: { result: "ok", value: P }, rule: "gmem.write" },
  { name: "a page at i_size", ops: [write("g0", 4 * MiB, P)], outcome: { errno: "EINVAL" }, rule: "gmem.write-eof" },
  { name: "the last page and one past it: short", ops: [write("g0", 4 * MiB - P, 2 * P)], outcome: { result: "ok", value: P }, rule: "gmem.write-short" },
  { name: "an unaligned offset", ops: [write("g0", 1, P)], outcome: { errno: "EINVAL" }, rule: "gmem.write-align" },
  { name: "less than a page", ops: [write("g0", 0, P - 1)], outcome: { errno: "EINVAL" }, rule: "gmem.write-align" },
  { name: "a page and a byte: the byte is refused, the page written", ops: [write("g0", 0, P + 1)], outcome: { result: "ok", value: P }, rule: "gmem.write-short" },
  { name: "a folio fallocate allocated is not sealed", ops: [allocate("g0", 0), write("g0", 0, P)], outcome: { result: "ok", value: P }, rule: "gmem.write" },
  { name: "a folio a guest fault took out of the direct map", ops: [guestRead(0), write("g0", 0, P)], outcome: { errno: "EEXIST" }, rule: "gmem.write-sealed" },
  { name: "a folio KVM's own read faulted in through the hva", ops: [kvmRead(0), write("g0", 0, P)], outcome: { errno: "EEXIST" }, rule: "gmem.write-sealed" },
  { name: "a folio write() itself sealed", ops: [write("g0", 0, P), write("g0", 0, P)], outcome: { errno: "EEXIST" }, rule: "gmem.write-sealed" },
  { name: "a sealed page after a written one: short", ops: [guestRead(P), write("g0", 0, 3 * P)], outcome: { result: "ok", value: P }, rule: "gmem.write-short" },
  { name: "without NO_DIRECT_MAP a faulted page is written again", ops: [guestRead(4 * MiB), write("g1", 0, P)], outcome: { result: "ok", value: P }, rule: "gmem.write" },
  { name: "a punched folio is back in the direct map", ops: [guestRead(0), punch("g0", 0), write("g0", 0, P)], outcome: { result: "ok", value: P }, rule: "gmem.write" },
];

const SECRET_FLAGS: Config = { ...PRESETS.default, kernel: { ...PRESETS.default.kernel, gmemFlags: ["MMAP", "INIT_SHARED", "NO_DIRECT_MAP", "WRITE"] } };
const onVm = (type: number, flags: readonly ("MMAP" | "INIT_SHARED" | "NO_DIRECT_MAP" | "WRITE")[]): Op[] => [
  { op: "create_vm", vm: "v1", type },
  { op: "create_gmem", vm: "v1", gmem: "g8", size: 2 * MiB, flags: [...flags] },
];

const FLAG_CASES: readonly Case[] = [
  { name: "NO_DIRECT_MAP on a kernel without the series", ops: onVm(0, ["NO_DIRECT_MAP"]), config: PRESETS["kernel-6.18"], setup: [], outcome: { errno: "EINVAL" }, rule: "gmem.create-flags" },
  { name: "NO_DIRECT_MAP with the series", ops: onVm(0, ["NO_DIRECT_MAP"]), config: SECRET_FLAGS, setup: [], outcome: { result: "ok" }, rule: "gmem.no-direct-map-flag" },
  { name: "NO_DIRECT_MAP on a VM with private memory", ops: onVm(1, ["MMAP", "NO_DIRECT_MAP"]), config: SECRET_FLAGS, setup: [], outcome: { result: "ok" }, rule: "gmem.no-direct-map-flag" },
  { name: "WRITE goes with INIT_SHARED: refused where KVM keeps the attributes of a CoCo VM", ops: onVm(1, ["WRITE"]), config: SECRET_FLAGS, setup: [], outcome: { errno: "EINVAL" }, rule: "gmem.create-flags" },
  { name: "an unknown bit 4", ops: [{ op: "create_gmem", vm: "v0", gmem: "g8", size: P, flags: [16] }], outcome: { errno: "EINVAL" }, rule: "gmem.create-flags" },
  { name: "KVM_CAP_GUEST_MEMFD_FLAGS has bits 2 and 3", ops: [{ op: "check_extension", vm: "v0", cap: "GUEST_MEMFD_FLAGS" }], outcome: { result: "ok", value: 15 }, rule: "vm.check-extension" },
  { name: "a long-term pin of a NO_DIRECT_MAP mapping", ops: [{ op: "pin", map: "m5", offset: 0 }], outcome: { errno: "EFAULT" }, rule: "gmem.no-direct-map-gup" },
  { name: "a long-term pin without it", ops: [{ op: "pin", map: "m6", offset: 0 }], outcome: { result: "ok" }, rule: "pin" },
];

describe("write() to a guest_memfd and NO_DIRECT_MAP, model and impl alike", () => {
  for (const c of [...WRITE_CASES, ...FLAG_CASES]) {
    it(c.name, async () => {
      const r = await last(c.ops, c.config, c.setup);
      expect(r.outcome).toEqual(c.outcome);
      expect(r.fired).toContain(c.rule);
    });
  }

  it("what write() put in a page is what the guest and KVM read, and a later fault leaves it", async () => {
    expect((await last([write("g0", P, P, 0x5a), guestRead(P)])).outcome).toEqual({ result: "ok", value: 0x5a });
    expect((await last([write("g0", P, P, 0x5a), kvmRead(P)])).outcome).toEqual({ result: "ok", value: 0x5a });
    expect((await last([allocate("g1", 0), write("g1", 0, P, 0x33), hostRead("m6", 0)])).outcome).toEqual({ result: "ok", value: 0x33 });
  });

  it("each path that maps a page takes its folio out of the direct map first, and a punch puts it back", async () => {
    expect((await last([guestRead(0)])).fired).toContain("gmem.no-direct-map-zap-get-pfn");
    expect((await last([kvmRead(0)])).fired).toContain("gmem.no-direct-map-zap-fault");
    expect((await last([hostRead("m5", 0)])).fired).toContain("gmem.no-direct-map-zap-fault");
    expect((await last([write("g0", 0, P)])).fired).toContain("gmem.write-seal");
    expect((await last([guestRead(0), punch("g0", 0)])).fired).toContain("gmem.no-direct-map-restore");
  });
});

/** The property a run with one seeded bug fails first, with only that check on. */
async function failsWith(bug: string, ops: readonly Op[], check: string): Promise<string | undefined> {
  try {
    await last(ops, { ...SECRET_CONFIG, bugs: [bug] }, SETUP, ONLY(check));
    return undefined;
  } catch (e) {
    if (e instanceof PropertyFailure) return e.failure.property;
    throw e;
  }
}

describe("secret hiding's invariants each catch a seeded slip alone", () => {
  it("the smallest cases", async () => {
    expect(await failsWith("gmem-write-sealed", [guestRead(0), write("g0", 0, P)], "gmem-no-direct-map-access")).toBe("gmem-no-direct-map-access");
    expect(await failsWith("uaccess-gmem-direct", [guestRead(0), kvmRead(0)], "gmem-no-direct-map-access")).toBe("gmem-no-direct-map-access");
    expect(await failsWith("gmem-get-pfn-no-zap", [guestRead(0)], "gmem-mapped-out-of-direct-map")).toBe("gmem-mapped-out-of-direct-map");
    expect(await failsWith("gmem-write-no-uptodate", [write("g1", 0, P), guestRead(4 * MiB)], "gmem-read-keeps-contents")).toBe("gmem-read-keeps-contents");
    // Without the slips the same operations pass every check.
    await last([guestRead(0), write("g0", 0, P), kvmRead(0), write("g1", 0, P), guestRead(4 * MiB)]);
  });

  const FOUND: readonly { bug: string; check: string }[] = [
    { bug: "gmem-write-sealed", check: "gmem-no-direct-map-access" },
    { bug: "uaccess-gmem-direct", check: "gmem-no-direct-map-access" },
    { bug: "gmem-get-pfn-no-zap", check: "gmem-mapped-out-of-direct-map" },
    { bug: "gmem-write-no-uptodate", check: "gmem-read-keeps-contents" },
  ];
  for (const f of FOUND) {
    it(`${f.bug}: found by gmem-secret with ${f.check} alone`, async () => {
      const r = await runSequentialSuite(GMEM_SECRET_SUITE, { seed: 1, runs: 150, checks: ONLY(f.check), bugs: [f.bug] });
      expect(r.failure, `not found in ${r.stats.runs} runs`).toBeDefined();
      expect(r.failure!.property).toBe(f.check);
      expect(r.shrunkLength).toBeLessThanOrEqual(3);
    });
  }

  it("gmem-write-unlocked: found by race-gmem-secret (a fault between write_begin and the copy), replayed with a diagram", async () => {
    const r = await SECRET_RACE.run({ seed: 1, runs: 300, bugs: ["gmem-write-unlocked"] });
    expect(r.failure?.property).toBe("gmem-no-direct-map-access");
    expect(r.shrunkLength).toBeLessThanOrEqual(3);
    const replayed = await replay(r.counterexample!);
    expect(replayed.failure?.property).toBe(r.failure?.property);
    expect(renderRaceDiagram(r.counterexample!, replayed)).toMatch(/<-- detected/);
  });

  it("the implementation survives both suites", async () => {
    expect((await runSequentialSuite(GMEM_SECRET_SUITE, { seed: 3, runs: 40 })).failure).toBeUndefined();
    expect((await SECRET_RACE.run({ seed: 3, runs: 60 })).failure).toBeUndefined();
  });
});
