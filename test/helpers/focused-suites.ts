// Suites that exist for states the broad suites reach too seldom: `faultline check` on each alone finds its seeded
// bug with the named property, and all of them pass on the correct implementation.
import { describe, expect, it } from "vitest";
import { faultline, scratch } from "../cli-child.js";

export interface FocusedCase {
  readonly suite: string;
  readonly bug: string;
  readonly property: string;
}

const check = (suites: string, more: readonly string[]) => faultline(["check", "--suite", suites, "--seed", "1", "--workers", "1", ...more], scratch());

export function focusedSuiteTests(title: string, cases: readonly FocusedCase[]): void {
  describe(title, () => {
    for (const c of cases) {
      it(`check --suite ${c.suite} finds ${c.bug}`, () => {
        const r = check(c.suite, ["--bugs", c.bug]);
        expect(r.status).toBe(1);
        expect(r.stdout).toContain(`${c.suite}: `);
        expect(r.stdout).toContain(`FAILED ${c.property} `);
      });
    }

    it("they pass on the correct implementation", () => {
      const r = check(cases.map((c) => c.suite).join(","), []);
      expect(r.stdout).not.toContain("FAILED");
      expect(r.status).toBe(0);
    });
  });
}
