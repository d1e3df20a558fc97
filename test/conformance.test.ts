// Conformance with the real kernel: the corpus and a random-sequence run, through the native helper.
// Runs where /dev/kvm and userfaultfd are usable; elsewhere the whole file is skipped with one line saying why.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corpusFiles, runScenarioFile, scenarioDisagrees, type ScenarioResult } from "../conformance/index.js";
import { isFailure } from "../conformance/compare.js";
import { Helper } from "../conformance/native.js";
import { mismatches, probe, unusableReason, type Features } from "../conformance/probe.js";
import { runRandom } from "../conformance/suite.js";
import { stableStringify } from "../props/outcomes.js";

const unusable = unusableReason();

describe.skipIf(unusable !== undefined)(`conformance with the real kernel${unusable === undefined ? "" : ` (skipped: ${unusable})`}`, () => {
  let helper: Helper;
  let features: Features;

  beforeAll(async () => {
    helper = new Helper();
    features = await probe(helper);
  });
  afterAll(async () => {
    await helper?.close();
  });

  it("the machine runs the kernel-6.18 configuration and the helper's guest", () => {
    expect(mismatches(features)).toEqual([]);
    expect(features.probe.guest).toBe("ok");
  });

  const files = corpusFiles();

  it("the corpus covers every area", () => {
    const areas = new Set(files.map((f) => f.split(/[\\/]/).at(-2)));
    expect([...areas].sort()).toEqual(["guest_memfd", "host_memory", "memslots", "uffd"]);
  });

  for (const file of files) {
    const name = file.split(/[\\/]/).slice(-2).join("/");
    it(`corpus ${name}`, async () => {
      const r: ScenarioResult = await runScenarioFile(helper, file);
      const bad = r.reports.filter(isFailure).map((s) => `step ${s.index} ${s.op.op}: ${s.verdict} model ${stableStringify(s.model)} kernel ${stableStringify(s.kernel)}${s.expectMismatch ? ` expected ${stableStringify(s.expectMismatch)}` : ""}`);
      if (r.scenario.expectedToFail !== undefined) {
        // A documented open disagreement (docs/CONFORMANCE.md): it must still show, or the file should drop the mark.
        expect(scenarioDisagrees(r), `${name} agrees now: remove expectedToFail`).toBe(true);
        expect(r.reports.filter((s) => s.expectMismatch !== undefined)).toEqual([]);
      } else {
        expect(bad).toEqual([]);
      }
      expect(r.reports.length).toBe(r.scenario.steps!.length);
    });
  }

  it("500 random sequences agree (seeded; memslots, guest_memfd, host memory, userfaultfd)", async () => {
    const r = await runRandom(helper, features, { runs: 500, seed: 20261121 });
    if (r.failure !== undefined) console.log(`shrunk disagreement: ${r.failure.file}`);
    expect(r.failure).toBeUndefined();
    expect(r.verdicts.agree).toBeGreaterThan(r.steps / 2);
  });
});
