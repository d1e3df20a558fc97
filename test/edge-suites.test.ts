// The edge suites (props/gmem/edges.ts, props/uffd/edges.ts, props/kvm-edges.ts) exist for states the broad suites reach too seldom:
// `faultline check` on each alone finds a seeded bug, and passes on the correct implementation.
import { describe, expect, it } from "vitest";
import { faultline, scratch } from "./cli-child.js";

const CASES = [
  { suite: "gmem-edges", bug: "gmem-bind-end-exclusive", property: "refinement.outcome" },
  { suite: "gmem-edges-2m", bug: "gmem-split-misses-last-folio", property: "refinement.state" },
  { suite: "kvm-edges", bug: "gmem-huge-ignores-split", property: "stage2-in-slot" },
  { suite: "uffd-edges", bug: "uffd-move-keeps-src", property: "ptes-map-their-page" },
] as const;

const check = (suites: string, more: readonly string[]) => faultline(["check", "--suite", suites, "--seed", "1", "--workers", "1", ...more], scratch());

describe("the edge suites find what they exist for", () => {
  for (const c of CASES) {
    it(`check --suite ${c.suite} finds ${c.bug}`, () => {
      const r = check(c.suite, ["--bugs", c.bug]);
      expect(r.status).toBe(1);
      expect(r.stdout).toContain(`${c.suite}: `);
      expect(r.stdout).toContain(`FAILED ${c.property} `);
    });
  }

  it("they pass on the correct implementation", () => {
    const r = check(CASES.map((c) => c.suite).join(","), []);
    expect(r.stdout).not.toContain("FAILED");
    expect(r.status).toBe(0);
  });
});
