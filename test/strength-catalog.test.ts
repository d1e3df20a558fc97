// The seeded-bug catalog is complete and honest: every bug has its metadata, its switch sits in the file it
// names, its suite exists (a concurrent one for a kernel race), the catalog covers every area with enough races,
// and docs/BUGS.md is what the catalog generates.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUGS, BUG_IDS, type SeededBug } from "../impl/bugs.js";
import { SUITES } from "../props/registry.js";
import { DOC, bugsMarkdown } from "../tools/bugs-doc.js";

const sources = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });

/** Every `bugs.has("id")` in the implementation and the post-copy VMM, by file. */
function switchSites(): Map<string, Set<string>> {
  const sites = new Map<string, Set<string>>();
  for (const file of [...sources("impl"), ...sources("props")]) {
    for (const m of readFileSync(file, "utf8").matchAll(/bugs\.has\("([a-z0-9-]+)"\)/g)) {
      sites.set(m[1]!, (sites.get(m[1]!) ?? new Set()).add(file));
    }
  }
  return sites;
}

describe("the seeded-bug catalog", () => {
  const sites = switchSites();

  for (const id of BUG_IDS) {
    it(`${id}: described, cited, switched where it says, found by a suite that exists`, () => {
      const b = BUGS[id];
      expect(b.description.length, "a kernel-style description").toBeGreaterThan(30);
      expect(b.source, "a source: a patch or review (Message-ID or series) or a plausible slip").toMatch(/@|PATCH|plausible slip/);
      expect([...(sites.get(id) ?? [])], `bugs.has("${id}") in ${b.file}`).toContain(b.file);
      const suite = SUITES.find((s) => s.name === b.suite);
      expect(suite, `suite ${b.suite}`).toBeDefined();
      // A kernel race needs the race harness; a VMM race needs the post-copy flow, whose actors interleave.
      if (b.kind === "race") expect(suite!.kind === "concurrent" || suite!.area === "postcopy", `${b.suite} interleaves threads`).toBe(true);
    });
  }

  it("every switch in the code is catalogued", () => {
    expect([...sites.keys()].filter((id) => !(BUG_IDS as readonly string[]).includes(id))).toEqual([]);
  });

  it("covers every area of the issue, at least 30 bugs, a third of them races (besides the off-by-ones at the bounds)", () => {
    const areas = new Set(BUG_IDS.map((id) => BUGS[id].area));
    for (const a of ["memslots", "userfault-bitmap", "exits", "gmem-conversion", "gmem-locks", "huge-folios", "uffd", "postcopy"] as const) expect(areas, a).toContain(a);
    expect(BUG_IDS.length).toBeGreaterThanOrEqual(30);
    // Each bound of the model has its own slip (test/bounds.test.ts): a family of one-line sequential mistakes.
    const others = BUG_IDS.filter((id) => (BUGS[id] as SeededBug).bound === undefined);
    expect(others.filter((id) => BUGS[id].kind === "race").length * 3).toBeGreaterThanOrEqual(others.length);
  });

  // One case per kernel race (found by a concurrent suite) and sequential suite of its area: together they take
  // minutes on a busy machine, and the post-copy area alone has a dozen suites.
  const kernelRaces = BUG_IDS.filter((b) => BUGS[b].kind === "race" && SUITES.find((s) => s.name === BUGS[b].suite)?.kind === "concurrent");
  for (const id of kernelRaces) {
    const area = SUITES.find((s) => s.name === BUGS[id].suite)!.area;
    for (const s of SUITES.filter((x) => x.kind === "sequential" && x.area === area && !x.name.startsWith("refusals-"))) {
      it(`race ${id} leaves ${s.name} passing`, async () => {
        const r = await s.run({ seed: 5, runs: 12, bugs: [id] });
        expect(r.failure, `${id} shows in ${s.name}: ${JSON.stringify(r.failure)}`).toBeUndefined();
      }, 300_000); // the 2 MiB post-copy suites take 20-50 s idle and passed 120 s at load 10
    }
  }

  it(`${DOC} is generated from the catalog (npm run docs:bugs)`, () => {
    expect(readFileSync(DOC, "utf8")).toBe(bugsMarkdown());
  });
});
