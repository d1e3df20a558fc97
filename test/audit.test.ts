// The rule audit (tools/audit-doc.ts, docs/AUDIT.md): every rule has a verdict on its citation, no verdict outlives
// its rule or the citation it judged, and the document is generated from the verdicts.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RULES } from "../model/rules-index.js";
import { rule } from "../model/rules.js";
import { DOC, VERDICT_KINDS, auditMarkdown, auditRows, citesProposal, loadKernel, loadVerdicts } from "../tools/audit-doc.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

describe("the rule audit", () => {
  it("gives every rule of the model a verdict", () => {
    const { rows, problems } = auditRows();
    expect(problems).toEqual([]);
    expect(rows.length).toBe(RULES.size);
  });

  it("fails on a new rule without a verdict, and on a rule whose citation changed since its verdict", () => {
    const fresh = rule("kvm.new-rule", "virt/kvm/kvm_main.c (kvm_new_ioctl)", "a rule added after the audit", "EINVAL");
    expect(auditRows([...RULES.values(), fresh]).problems).toEqual(["kvm.new-rule: no verdict"]);
    const audited = [...RULES.values()].find((r) => loadVerdicts()[r.id] !== undefined)!;
    const recited = rule(audited.id, `${audited.cite}; mm/other.c (other)`, audited.text, audited.errno);
    const others = [...RULES.values()].filter((r) => r.id !== audited.id);
    const again = `${audited.id}: its citation changed since the verdict of ${loadVerdicts()[audited.id]!.date}; audit it again`;
    expect(auditRows([...others, recited]).problems).toEqual([again]);
  });

  it("fails on kernel evidence recorded under an older citation of its rule", () => {
    const kernel = loadKernel();
    const vouched = [...RULES.values()].find((r) => loadVerdicts()[r.id] === undefined && kernel.rules[r.id] !== undefined)!;
    const stale = { ...kernel, rules: { ...kernel.rules, [vouched.id]: { ...kernel.rules[vouched.id]!, cite: "an older citation" } } };
    expect(auditRows(RULES.values(), loadVerdicts(), stale).problems).toEqual([
      `${vouched.id}: its citation changed since the kernel's evidence of ${kernel.date}; run npm run audit:kernel`,
    ]);
  });

  it("does not let the running kernel vouch for a rule that cites a proposal", () => {
    const kernel = loadKernel();
    const proposalRule = [...RULES.values()].find((r) => citesProposal(r.cite) && kernel.rules[r.id] !== undefined)!;
    const verdicts = { ...loadVerdicts() };
    delete (verdicts as Record<string, unknown>)[proposalRule.id];
    expect(auditRows(RULES.values(), verdicts, kernel).problems).toEqual([
      `${proposalRule.id}: no verdict (it cites a proposal: the running kernel cannot vouch for it)`,
    ]);
  });

  it("keeps each verdict well formed: a known kind, what was read, a reason where it is not a plain match", () => {
    for (const [id, v] of Object.entries(loadVerdicts())) {
      expect(VERDICT_KINDS, id).toContain(v.verdict);
      expect(v.date, id).toMatch(/^\d{4}-\d\d-\d\d$/);
      expect(v.read.length, id).toBeGreaterThan(0);
      if (v.verdict !== "source" && v.verdict !== "vocabulary") expect(v.note.length, `${id} needs a reason`).toBeGreaterThan(10);
    }
  });

  it("is what docs/AUDIT.md says (npm run docs:audit)", () => {
    expect(readFileSync(`${ROOT}${DOC}`, "utf8")).toBe(auditMarkdown());
  });
});
