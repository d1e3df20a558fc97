import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { proveScope } from "../props/prove/prove.js";
import { PROOF_SCOPES, scopeNamed } from "../props/prove/scopes.js";
import { BEGIN, DOC, END, proofsMarkdown, withProofs } from "../tools/proofs-doc.js";

const RUN = { commit: "abc1234", date: "2026-12-07 18:00 UTC", wallS: 1, load: [1, 2] as const };

/** The rows of the generated table: their cells, without the header. */
function rows(doc: string): string[][] {
  const section = doc.slice(doc.indexOf(BEGIN), doc.indexOf(END));
  return section
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| scope |"))
    .map((l) => l.slice(2, -2).split(" | "));
}

describe("docs/RACES.md's library of proved scopes (npm run docs:proofs)", () => {
  it("names every scope of props/prove/scopes.ts once, in order, with a verdict and its counts", () => {
    const table = rows(readFileSync(DOC, "utf8"));
    expect(table.map((r) => r[0])).toEqual(PROOF_SCOPES.map((s) => s.name));
    for (const r of table) {
      expect(r, r[0]).toHaveLength(9);
      expect(r[2], r[0]).toMatch(/^(proved|\*\*refuted\*\*)$/);
      for (const n of r.slice(3)) expect(n, r[0]).toMatch(/^(\d+(\.\d)?|-)$/);
    }
  });

  it("renders a proof run: a row per scope, a refutation in bold, the run's commit and load", async () => {
    const { report } = await proveScope(scopeNamed("race-host-fault")!, { bugs: [] });
    const text = proofsMarkdown([report, { ...report, scope: "x", verdict: "refuted" }], RUN);
    expect(rows(text).map((r) => [r[0], r[2]])).toEqual([
      ["race-host-fault", "proved"],
      ["x", "**refuted**"],
    ]);
    expect(text).toContain("at commit abc1234, 2026-12-07 18:00 UTC: 2 scopes");
    expect(text).toContain("refuted as designed: x.");
  });

  it("replaces only the section between the markers, and refuses a doc without exactly one pair", () => {
    const section = `${BEGIN}\nnew\n${END}`;
    expect(withProofs(`a\n${BEGIN}\nold\n${END}\nb`, section)).toBe(`a\n${section}\nb`);
    for (const bad of ["no markers", `${END}\n${BEGIN}`, `${BEGIN}\n${BEGIN}\n${END}`]) expect(() => withProofs(bad, section), bad).toThrow(/expected one/);
  });
});
