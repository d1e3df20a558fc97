// Conformance with the real kernel: the corpus and a random-sequence run, through the native helper, on whatever this
// machine's kernel offers. The host is probed while the file is collected, so a scenario the host cannot run is a
// skipped test whose title names the capability it needs. The same corpus also runs with capabilities taken out by
// the override (no /dev/kvm, no userfaultfd), so those paths are exercised on this machine too.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  corpusFiles,
  detectHost,
  hostOf,
  loadCorpusScenario,
  planScenario,
  runScenarioFile,
  scenarioDisagrees,
  startHelper,
  type Host,
  type ScenarioResult,
} from "../conformance/index.js";
import { isFailure } from "../conformance/compare.js";
import { randomOp, randomSetup, randomStepRuns, runRandom } from "../conformance/suite.js";
import { hostNeeds } from "../conformance/requirements.js";
import { stableStringify } from "../props/outcomes.js";
import fc from "fast-check";

const { helper, why } = startHelper();
const host: Host = await detectHost(helper, why);
const files = corpusFiles();
const nameOf = (file: string): string => file.split(/[\\/]/).slice(-2).join("/");
const skipWhy = (file: string, h: Host): string | undefined => {
  if (helper === undefined) return `needs the native helper: ${why}`;
  const plan = planScenario(loadCorpusScenario(file), h);
  return plan.run ? undefined : plan.skip;
};
const noHelperWhy = helper === undefined ? `needs the native helper: ${why}` : undefined;
const titled = (title: string, skip: string | undefined): string => (skip === undefined ? title : `${title} (skipped: ${skip})`);

afterAll(async () => {
  await helper?.close();
});

async function expectAgrees(file: string, h: Host): Promise<void> {
  const name = nameOf(file);
  const r: ScenarioResult = await runScenarioFile(helper, h, file);
  expect(r.skipped).toBeUndefined();
  const bad = r.reports
    .filter(isFailure)
    .map((s) => `step ${s.index} ${s.op.op}: ${s.verdict} model ${stableStringify(s.model)} kernel ${stableStringify(s.kernel)}${s.expectMismatch ? ` expected ${stableStringify(s.expectMismatch)}` : ""}`);
  if (r.scenario.expectedToFail !== undefined) {
    // A documented open disagreement (docs/CONFORMANCE.md): it must still show, or the file should drop the mark.
    expect(scenarioDisagrees(r), `${name} agrees now: remove expectedToFail`).toBe(true);
    expect(r.reports.filter((s) => s.expectMismatch !== undefined)).toEqual([]);
  } else {
    expect(bad).toEqual([]);
  }
  expect(r.reports.length).toBe(r.scenario.steps!.length);
}

describe(`conformance with this machine's kernel (${host.probe.kvm === "ok" ? `KVM API ${host.probe.api}` : "no KVM"}, userfaultfd ${host.probe.uffd})`, () => {
  it("the corpus covers every area", () => {
    const areas = new Set(files.map((f) => f.split(/[\\/]/).at(-2)));
    expect([...areas].sort()).toEqual(["fds", "guest_memfd", "host_memory", "memslots", "uffd"]);
  });

  for (const file of files) {
    const skip = skipWhy(file, host);
    it.skipIf(skip !== undefined)(titled(`corpus ${nameOf(file)}`, skip), () => expectAgrees(file, host));
  }

  it.skipIf(noHelperWhy !== undefined)(titled("500 random sequences agree (seeded; every family this host runs)", noHelperWhy), async () => {
    const found = mkdtempSync(join(tmpdir(), "faultline-found-"));
    try {
      const r = await runRandom(helper!, host, { runs: 500, seed: 20261121, foundDir: found });
      if (r.failure !== undefined) console.log(`shrunk disagreement: ${r.failure.file}`);
      expect(r.failure).toBeUndefined();
      expect(r.verdicts.agree).toBeGreaterThan(r.steps / 2);
      expect(readdirSync(found)).toEqual([]);
    } finally {
      rmSync(found, { recursive: true, force: true });
    }
  });
});

// The paths of a machine without /dev/kvm, and of one without userfaultfd, on this one: the override takes the
// capability out, and exactly the scenarios that need it are skipped, naming it; the others run against the kernel.
for (const [spec, capability] of [
  ["-KVM", "KVM"],
  ["-USERFAULTFD", "USERFAULTFD"],
] as const) {
  const narrowed = hostOf(host.probe, spec);
  describe(`conformance with the override "${spec}"`, () => {
    for (const file of files) {
      const skip = skipWhy(file, narrowed);
      it.skipIf(skip !== undefined)(titled(`corpus ${nameOf(file)}`, skip), () => expectAgrees(file, narrowed));
    }

    it(`every scenario with a step that needs ${capability} is skipped, saying so`, () => {
      let skipped = 0;
      for (const file of files) {
        const s = loadCorpusScenario(file);
        // Exactly those that run on this host as it is and have a step that needs the capability.
        if (!planScenario(s, host).run || !(s.steps ?? []).some((op) => hostNeeds(op).includes(capability))) continue;
        const plan = planScenario(s, narrowed);
        expect(plan.run ? "runs" : plan.skip, nameOf(file)).toContain(`needs ${capability} (taken out by the override)`);
        skipped++;
      }
      expect(skipped).toBeGreaterThan(10);
    });

    it(`random sequences draw no step that needs ${capability}`, () => {
      fc.assert(
        fc.property(randomOp(narrowed), (op) => randomStepRuns(narrowed, op) && !hostNeeds(op).includes(capability)),
        { numRuns: 2000, seed: 7 },
      );
      expect(randomSetup(narrowed).some((op) => hostNeeds(op).includes(capability))).toBe(false);
    });

    it.skipIf(noHelperWhy !== undefined)(titled("100 random sequences agree", noHelperWhy), async () => {
      const found = mkdtempSync(join(tmpdir(), "faultline-found-"));
      try {
        const r = await runRandom(helper!, narrowed, { runs: 100, seed: 20261207, foundDir: found });
        expect(r.failure).toBeUndefined();
        expect(r.steps).toBeGreaterThan(500);
      } finally {
        rmSync(found, { recursive: true, force: true });
      }
    });
  });
}
