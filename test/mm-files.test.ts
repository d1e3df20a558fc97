// The host-memory suites of props/mm/files.ts exist for states the other suites reach too seldom: `faultline
// check` on each alone finds a seeded bug, and passes on the correct implementation.
import { describe, expect, it } from "vitest";
import { faultline, scratch } from "./cli-child.js";

const CASES = [
  { suite: "mm-fault-around", bug: "fault-around-next-folio", property: "ptes-map-their-page" },
  { suite: "mm-shmem-zaps", bug: "munmap-no-notify", property: "stage2-maps-current-page" },
  { suite: "mm-hugetlb-gmem", bug: "file-fallocate-len-inclusive", property: "refinement.outcome" },
] as const;

const check = (suites: string, more: readonly string[]) => faultline(["check", "--suite", suites, "--seed", "1", "--workers", "1", ...more], scratch());

describe("the host-memory suites find what they exist for", () => {
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
