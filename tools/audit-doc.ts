// docs/AUDIT.md, the rule audit: every rule of the model with its citation and a verdict on it, generated from the
// rules (model/rules-index.ts), the verdicts read from the sources (docs/audit/verdicts.json, kept by hand) and what
// the running kernel decided (docs/audit/kernel.json, from `npm run audit:kernel`). `npm run docs:audit` rewrites it;
// test/audit.test.ts fails when a rule has no verdict, a verdict or the kernel's evidence outlives its rule or its citation, or the
// file is stale.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { replaceAtomically } from "../cli/files.js";
import { RULES } from "../model/rules-index.js";
import type { Rule } from "../model/rules.js";
import { SERIES, messageIdsIn, versionOfMessageId } from "../model/sources.js";

export const DOC = "docs/AUDIT.md";
export const VERDICTS = "docs/audit/verdicts.json";
export const KERNEL = "docs/audit/kernel.json";

/**
 * source: the cited patch or kernel function was read and holds the condition and the errno; fixed: it did not, and
 * the rule was corrected (the note says how); assumption: the source is silent or unsafe and the rule is faultline's
 * named choice (the note says why); vocabulary: faultline's own operation vocabulary, no kernel source; unverified:
 * not yet read (the note says why).
 */
export type Verdict = "source" | "fixed" | "assumption" | "vocabulary" | "unverified";
export const VERDICT_KINDS: readonly Verdict[] = ["source", "fixed", "assumption", "vocabulary", "unverified"];

export interface ReadVerdict {
  readonly verdict: Verdict;
  /** What was read: a Message-ID and patch, or a kernel file and function with the tree it came from. */
  readonly read: string;
  readonly note: string;
  readonly date: string;
  /** The rule's citation when it was audited: a changed citation needs a new verdict. */
  readonly cite: string;
}

export interface KernelRow {
  readonly scenario: string;
  readonly step: number;
  readonly cite: string;
}
export interface KernelEvidenceFile {
  readonly kernel: string;
  readonly date: string;
  readonly rules: Readonly<Record<string, KernelRow>>;
}

/** The repository root, from source (tools/) or from dist/tools/. */
function root(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}
const readJson = <T>(path: string): T => JSON.parse(readFileSync(join(root(), path), "utf8")) as T;

export const loadVerdicts = (): Readonly<Record<string, ReadVerdict>> => readJson(VERDICTS);
export const loadKernel = (): KernelEvidenceFile => readJson(KERNEL);

/** A proposal's Message-ID in the citation: the running kernel cannot vouch for such a rule, only its patch can. */
export const citesProposal = (cite: string): boolean =>
  messageIdsIn(cite).some((id) => versionOfMessageId(id)?.version.use !== "merged") || /\[(RFC )?PATCH/.test(cite);

export type Row = { rule: Rule; kind: Verdict | "kernel"; read: string; note: string; date: string };

/** Each rule's audit row, or why it has none. */
export function auditRows(
  rules: Iterable<Rule> = RULES.values(),
  verdicts = loadVerdicts(),
  kernel = loadKernel(),
): { rows: Row[]; problems: string[] } {
  const rows: Row[] = [];
  const problems: string[] = [];
  const known = new Set<string>();
  for (const rule of rules) {
    known.add(rule.id);
    const v = verdicts[rule.id];
    const k = kernel.rules[rule.id];
    if (v !== undefined) {
      if (v.cite !== rule.cite) problems.push(`${rule.id}: its citation changed since the verdict of ${v.date}; audit it again`);
      else rows.push({ rule, kind: v.verdict, read: v.read, note: v.note, date: v.date });
    } else if (k !== undefined && !citesProposal(rule.cite)) {
      const stale = `${rule.id}: its citation changed since the kernel's evidence of ${kernel.date}; run npm run audit:kernel`;
      if (k.cite !== rule.cite) problems.push(stale);
      else rows.push({ rule, kind: "kernel", read: `conformance/corpus/${k.scenario}, step ${k.step}`, note: "", date: kernel.date });
    } else {
      problems.push(`${rule.id}: no verdict${k !== undefined ? " (it cites a proposal: the running kernel cannot vouch for it)" : ""}`);
    }
  }
  for (const id of Object.keys(verdicts)) if (!known.has(id)) problems.push(`${id}: a verdict for a rule the model no longer has`);
  return { rows, problems };
}

const cell = (s: string): string => s.replaceAll("|", "\\|").replaceAll("\n", " ");

const KIND_TEXT: Readonly<Record<Row["kind"], string>> = {
  kernel: "the running kernel agrees",
  source: "source read: holds",
  fixed: "fixed",
  assumption: "named assumption",
  vocabulary: "faultline vocabulary",
  unverified: "not yet read",
};

export function auditMarkdown(): string {
  const { rows, problems } = auditRows();
  if (problems.length > 0) throw new Error(`the audit is incomplete:\n${problems.join("\n")}`);
  const kernel = loadKernel();
  const count = (k: Row["kind"]): number => rows.filter((r) => r.kind === k).length;
  const byKind = (["kernel", ...VERDICT_KINDS] as Row["kind"][]).map((k) => `| ${KIND_TEXT[k]} | ${count(k)} |`);
  const flagged = rows.filter((r) => r.kind === "fixed" || r.kind === "assumption" || r.kind === "unverified");
  const proposals = SERIES.flatMap((s) => s.versions.filter((v) => v.use === "default" || v.use === "variant").map((v) => `${s.id} ${v.version}`));
  return [
    "# Rule audit: every rule against its source",
    "",
    "<!-- Generated by `npm run docs:audit` from model/rules-index.ts, docs/audit/verdicts.json and docs/audit/kernel.json;",
    "     test/audit.test.ts keeps it in step. -->",
    "",
    "Each rule of the model cites a source: a kernel file and function (merged behaviour) or a patch with its",
    "Message-ID (a proposal; docs/SOURCES.md lists the versions modelled). This audit gives each rule a verdict:",
    "",
    `- **the running kernel agrees**: a conformance corpus scenario's step that this rule decides gives the same`,
    `  outcome on Linux ${kernel.kernel} (${kernel.date}, \`npm run audit:kernel\`). This checks the behaviour, not the`,
    "  wording of the citation; a rule that cites a proposal never gets this verdict (this kernel lacks the proposals).",
    "- **source read: holds**: the cited patch (or kernel function) was read: it holds the condition and the errno.",
    "- **fixed**: it did not, and the rule was corrected (the note says how).",
    "- **named assumption**: the source is silent, or its answer is unsafe, and the rule is faultline's named choice;",
    "  the note gives the reason and the configuration variant, if any.",
    "- **faultline vocabulary**: faultline's own operations (docs/VOCABULARY.md), no kernel source.",
    "- **not yet read**: the citation was not checked; the note says why.",
    "",
    `Proposals modelled: ${proposals.join(", ")}. A new rule without a verdict, or a rule whose citation changed since`,
    "its verdict, fails test/audit.test.ts.",
    "",
    "| verdict | rules |",
    "|---|---:|",
    ...byKind,
    `| all | ${rows.length} |`,
    "",
    "## Findings, assumptions and what is left",
    "",
    "| rule | verdict | source read | note |",
    "|---|---|---|---|",
    ...flagged.map((r) => `| \`${r.rule.id}\` | ${KIND_TEXT[r.kind]} | ${cell(r.read)} | ${cell(r.note)} |`),
    "",
    "## Every rule",
    "",
    "| rule | errno | cites | verdict | evidence | date |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) => `| \`${r.rule.id}\` | ${r.rule.errno ?? ""} | ${cell(r.rule.cite)} | ${KIND_TEXT[r.kind]} | ${cell(r.read)}${r.note === "" ? "" : ` (${cell(r.note)})`} | ${r.date} |`),
    "",
  ].join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  replaceAtomically(DOC, auditMarkdown());
  console.log(`wrote ${DOC}`);
}
