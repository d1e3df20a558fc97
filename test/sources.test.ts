// The sources ledger (model/sources.ts, docs/SOURCES.md): every Message-ID and patch tag a rule or a seeded bug
// cites belongs to a version the ledger lists as modelled, and the document is the ledger's.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BUGS, BUG_IDS } from "../impl/bugs.js";
import { RULES } from "../model/rules-index.js";
import { SERIES, messageIdsIn, modelled, patchTagsIn, versionOfMessageId, type SeriesVersion } from "../model/sources.js";
import { DOC, sourcesMarkdown } from "../tools/sources-doc.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Why a citation is not backed by a version of the ledger, or undefined when it is. Rules must cite modelled versions;
 * a seeded bug may come from the review of an older one (`known`), as long as the ledger lists it.
 */
function unlisted(cite: string, need: "modelled" | "known" = "modelled"): string | undefined {
  const ok = (v: SeriesVersion): boolean => need === "known" || modelled(v);
  for (const id of messageIdsIn(cite)) {
    const found = versionOfMessageId(id);
    if (found === undefined) return `${id} is of no version in model/sources.ts`;
    if (!ok(found.version)) return `${id} is of ${found.series.id} ${found.version.version}, which the ledger does not list as modelled`;
  }
  for (const tag of patchTagsIn(cite)) {
    const versions = SERIES.flatMap((s) => s.versions.filter((v) => v.tag?.test(tag) === true));
    if (versions.length === 0) return `${tag} is the tag of no version in model/sources.ts`;
    if (!versions.every(ok)) return `${tag} is of a version the ledger does not list as modelled`;
  }
  return undefined;
}

describe("the sources ledger", () => {
  it("backs every Message-ID and patch tag a rule cites with a modelled version", () => {
    const bad = [...RULES.values()].flatMap((r) => {
      const why = unlisted(r.cite);
      return why === undefined ? [] : [`${r.id}: ${why}`];
    });
    expect(bad).toEqual([]);
  });

  it("knows every Message-ID and patch tag a seeded bug cites", () => {
    const bad = BUG_IDS.flatMap((id) => {
      const why = unlisted(BUGS[id].source, "known");
      return why === undefined ? [] : [`${id}: ${why}`];
    });
    expect(bad).toEqual([]);
  });

  it("refuses a citation of a version that is not modelled, or unknown", () => {
    expect(unlisted("[PATCH v6 09/43] 20260507-gmem-inplace-conversion-v6-9-91ab5a8b19a4@google.com")).toMatch(/not list as modelled/);
    expect(unlisted("20250109204929.1106563-5-jthoughton@google.com")).toMatch(/kvm-userfault v2/);
    expect(unlisted("20990101000000.1-1-someone@example.org")).toMatch(/of no version/);
    expect(unlisted("[PATCH v9 13/46] KVM: guest_memfd: something")).toMatch(/tag of no version/);
    expect(unlisted("[PATCH v8 13/46] KVM: guest_memfd: Add base support for KVM_SET_MEMORY_ATTRIBUTES2")).toBeUndefined();
  });

  it("lists each series' modelled versions with a date checked and the searches behind it", () => {
    for (const s of SERIES) {
      expect(s.versions.some(modelled), s.id).toBe(true);
      expect(s.checked, s.id).toMatch(/^\d{4}-\d\d-\d\d$/);
      expect(s.searches.length, s.id).toBeGreaterThan(0);
      for (const v of s.versions) expect(v.ids.test(v.cover) || v.cover.startsWith("cover."), `${s.id} ${v.version}`).toBe(true);
    }
  });

  it("is what docs/SOURCES.md says (npm run docs:sources)", () => {
    expect(readFileSync(`${ROOT}${DOC}`, "utf8")).toBe(sourcesMarkdown());
  });
});
