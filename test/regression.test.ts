// The regression corpus: every file in counterexamples/ is replayed under the policy of docs/CLI.md.
// Fixed failures must not reproduce, documented design flaws must, seeded-bug demonstrations must reproduce
// with their bugs and pass without them.
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { failureIdentity } from "../cli/counterexample.js";
import { loadScenario } from "../cli/files.js";
import { corpusProblems, kindOf } from "../cli/policy.js";
import type { Scenario } from "../schema/scenario.js";

const DIR = fileURLToPath(new URL("../counterexamples/", import.meta.url));
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".json")).sort();

describe("counterexamples/", () => {
  it("holds the corpus (files are never deleted)", () => {
    expect(FILES.length).toBeGreaterThan(0);
  });

  for (const file of FILES) {
    it(file, async () => {
      const s = loadScenario(join(DIR, file));
      expect(basename(file), "the name is <suite>--<property>--<hash of the failure>.json").toMatch(
        new RegExp(`--${s.failure?.property.replace(/[^\w.-]+/g, "_").replace(/\./g, "\\.")}--${failureIdentity(s)}(-\\d+)?\\.json$`),
      );
      expect(await corpusProblems(s)).toEqual([]);
    });
  }
});

describe("the policy", () => {
  const seeded = (): Scenario => {
    const file = FILES.find((f) => kindOf(loadScenario(join(DIR, f))) === "seeded");
    expect(file, "the corpus has a seeded-bug demonstration").toBeDefined();
    return loadScenario(join(DIR, file!));
  };

  it("tells the three kinds apart", () => {
    const s = seeded();
    expect(kindOf(s)).toBe("seeded");
    expect(kindOf({ ...s, config: { ...s.config, bugs: [] } })).toBe("fixed");
    expect(kindOf({ ...s, config: { ...s.config, bugs: [] }, expectedToFail: "a flaw of the proposal" })).toBe("design-flaw");
  });

  it("a demonstration without its bugs is a fixed failure: it passes", async () => {
    const s = seeded();
    expect(await corpusProblems({ ...s, config: { ...s.config, bugs: [] } })).toEqual([]);
  });

  it("a design flaw that no longer reproduces is reported", async () => {
    const s = seeded();
    expect(await corpusProblems({ ...s, config: { ...s.config, bugs: [] }, expectedToFail: "a flaw of the proposal" })).toEqual([
      "a design-flaw counterexample must reproduce, but it passes",
    ]);
  });

  it("a demonstration that fails at another property than recorded is reported", async () => {
    const s = seeded();
    expect(await corpusProblems({ ...s, failure: { ...s.failure!, property: "another-property" } })).toEqual([
      "a seeded counterexample must reproduce, but it fails differently",
    ]);
  });
});
