// The conversion protocol end to end (issue 20, item 1): KVM_HC_MAP_GPA_RANGE's exit and refusals, pKVM's MEM_SHARE /
// MEM_UNSHARE, the VMM serving the exit under v8 and the 2024 RFC, and the seeded slips its three properties find.
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { CONVERSION_FOLIO_WHOLE, CONVERSION_KEEPS_CONTENTS, CONVERSION_PROTOCOL_SUITES, CONVERSION_TERMINATES, PKVM } from "../props/gmem/conversion.js";
import { GMEM_RFC, GMEM_V7 } from "../props/gmem/layouts.js";
import { setupOf } from "../props/layouts.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { ONLY } from "./helpers/seeded-bugs.js";

const P = 4096;
const V8 = PRESETS["gmem-v8"];
const suite = (name: string) => CONVERSION_PROTOCOL_SUITES.find((s) => s.name === name)!;
const call = (gpa: number, npages: number, nr: "MAP_GPA_RANGE" | "MEM_SHARE" | "MEM_UNSHARE" = "MAP_GPA_RANGE", enc = false): Op => ({
  op: "vcpu_hypercall",
  vm: "v0",
  vcpu: 0,
  nr,
  gpa,
  npages,
  ...(enc ? { attributes: ["ENCRYPTED" as const] } : {}),
});

/** Model and impl answers to the last op, which must agree. */
async function last(config: Config, ops: readonly Op[]): Promise<{ model: unknown; fired: readonly string[] }> {
  const checker = new Checker(config);
  await checker.applyAll(ops);
  const t = checker.trace[checker.trace.length - 1]!;
  expect(t.impl).toEqual(t.model);
  return { model: t.model, fired: t.fired };
}

describe("KVM_HC_MAP_GPA_RANGE", () => {
  const setup = setupOf(GMEM_V7, GMEM_V7.vmType);

  it("exits with the range; ENCRYPTED asks for private", async () => {
    const r = await last(V8, [...setup, call(2 * P, 3, "MAP_GPA_RANGE", true)]);
    expect(r.model).toEqual({ result: "exit", exit: "hypercall", gpa: 2 * P, npages: 3, flags: ["PRIVATE"] });
    expect(r.fired).toContain("hypercall.map-gpa-range");
    expect((await last(V8, [...setup, call(0, 1)])).model).toEqual({ result: "exit", exit: "hypercall", gpa: 0, npages: 1, flags: [] });
    // The last gfn before the wrap: KVM checks only gfn + npages against 2^64.
    expect((await last(V8, [...setup, call(4096 * P, 2 ** 64 - 8192)])).model).toMatchObject({ result: "exit", npages: 2 ** 64 - 8192 });
  });

  it("refuses inside KVM an unaligned gpa, no pages, a wrapping range; an unknown vCPU; arm64", async () => {
    for (const op of [call(1, 1), call(0, 0), call(4096 * P, 2 ** 64 - 4096)]) {
      const r = await last(V8, [...setup, op]);
      expect(r.model).toEqual({ errno: "EINVAL" });
      expect(r.fired).toContain("hypercall.map-gpa-range-einval");
    }
    expect((await last(V8, [...setup, { ...call(0, 1), vcpu: 2 } as Op])).model).toEqual({ errno: "EBADF" });
    expect((await last(PKVM, [...setupOf(GMEM_RFC, 0), call(0, 1)])).fired).toContain("hypercall.map-gpa-range-arm64");
    expect((await last(V8, [...setup, call(0, 1, "MEM_SHARE")])).fired).toContain("pkvm.not-protected");
  });
});

describe("pKVM's mode: the guest decides faultability", () => {
  const setup: Op[] = [...setupOf(GMEM_RFC, 0), call(0, 2, "MEM_SHARE"), { op: "access", map: "m5", offset: 0, kind: "write", byte: 9 }];

  it("MEM_SHARE makes the host able to fault; MEM_UNSHARE stops it without a word to the VMM", async () => {
    expect((await last(PKVM, [...setupOf(GMEM_RFC, 0), { op: "access", map: "m5", offset: 0, kind: "read" }])).model).toMatchObject({ result: "SIGBUS" });
    const unshared = await last(PKVM, [...setup, call(0, 2, "MEM_UNSHARE")]);
    expect(unshared.model).toEqual({ result: "ok" });
    expect(unshared.fired).toContain("pkvm.mem-unshare");
    expect((await last(PKVM, [...setup, call(0, 2, "MEM_UNSHARE"), { op: "access", map: "m5", offset: P, kind: "read" }])).model).toMatchObject({ result: "SIGBUS" });
    expect((await last(PKVM, [...setup, { op: "set_memory_attributes", vm: "v0", address: 0, size: P, attributes: ["PRIVATE"] }])).model).toEqual({ errno: "ENOTTY" });
  });

  it("a page the host still maps is mappable by nobody until the host lets go, and keeps its contents", async () => {
    const unshared = [...setup, call(0, 2, "MEM_UNSHARE")];
    const busy = await last(PKVM, [...unshared, { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" }]);
    expect(busy.model).toEqual({ errno: "EAGAIN" });
    expect(busy.fired).toContain("pkvm.guest-fault-eagain");
    const freed = await last(PKVM, [...unshared, { op: "madvise", map: "m5", offset: 0, len: 2 * P, advice: "DONTNEED" }, { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" }]);
    expect(freed.model).toEqual({ result: "ok", value: 9 });
  });
});

describe("the protocol's suites and the seeded slips their properties find alone", () => {
  it("every protocol suite passes on a few runs", async () => {
    for (const s of CONVERSION_PROTOCOL_SUITES) {
      const r = await s.run({ seed: 1, runs: 15 });
      expect(r.failure, `${s.name}: ${JSON.stringify(r.failure)}`).toBeUndefined();
    }
  });

  const cases = [
    { bug: "gmem-convert-error-offset-start", suite: "conversion-protocol-v8", property: CONVERSION_TERMINATES },
    { bug: "gmem-split-drops-outside-range", suite: "conversion-protocol-v8-2m", property: CONVERSION_KEEPS_CONTENTS },
    { bug: "gmem-merge-range-only", suite: "conversion-protocol-v8-2m", property: CONVERSION_FOLIO_WHOLE },
    { bug: "pkvm-unshare-counts-cache-ref", suite: "conversion-protocol-pkvm", property: CONVERSION_TERMINATES },
  ] as const;
  for (const c of cases) {
    it(`${c.bug}: found by ${c.property} alone in ${c.suite}`, async () => {
      const r = await suite(c.suite).run({ seed: 1, runs: 300, checks: ONLY(c.property), bugs: [c.bug] });
      expect(r.failure, `not found in ${r.stats.runs} runs`).toBeDefined();
      expect(r.failure!.property).toBe(c.property);
    });
  }
});
