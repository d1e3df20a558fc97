// The running kernel's part of the rule audit: runs the conformance corpus through the native helper and records,
// for each rule, the first corpus step it decided on which the model and this kernel agree. `npm run audit:kernel`
// rewrites docs/audit/kernel.json; tools/audit-doc.ts reads it for docs/AUDIT.md. Only a kernel with the feature can
// decide: rules of proposals this kernel lacks stay with the verdicts read from their patches (docs/audit/verdicts.json).
import { execFileSync } from "node:child_process";
import { relative } from "node:path";
import { pathToFileURL } from "node:url";
import { replaceAtomically } from "../cli/files.js";
import { corpusDir, corpusFiles, detectHost, planScenario, runScenarioFile, startHelper } from "../conformance/index.js";
import { initial, step, type State } from "../model/index.js";
import { RULES } from "../model/rules-index.js";
import { stringifyExact } from "../schema/json.js";

export const KERNEL_EVIDENCE = "docs/audit/kernel.json";

export interface KernelEvidence {
  /** uname -r of the kernel the corpus ran on, and the day. */
  readonly kernel: string;
  readonly date: string;
  /** Rule id -> the corpus scenario (path under conformance/corpus) and step index it decided, in agreement. */
  readonly rules: Readonly<Record<string, { readonly scenario: string; readonly step: number; readonly cite: string }>>;
}

export async function kernelEvidence(log: (line: string) => void = () => {}): Promise<KernelEvidence> {
  const { helper, why } = startHelper();
  if (helper === undefined) throw new Error(why);
  try {
    const host = await detectHost(helper, why, "");
    const rules: Record<string, { scenario: string; step: number; cite: string }> = {};
    const dir = corpusDir();
    for (const file of corpusFiles(dir)) {
      const r = await runScenarioFile(helper, host, file);
      if (r.skipped !== undefined) continue;
      const plan = planScenario(r.scenario, host);
      if (!plan.run) continue;
      let state: State = initial(plan.config);
      for (const report of r.reports) {
        const m = step(state, report.op);
        state = m.state;
        if (report.verdict !== "agree") continue;
        for (const id of m.fired) {
          const rule = RULES.get(id);
          if (rule !== undefined && rules[id] === undefined) rules[id] = { scenario: relative(dir, file), step: report.index, cite: rule.cite };
        }
      }
      log(`${relative(dir, file)}: ${r.reports.length} steps`);
    }
    const sorted = Object.fromEntries(Object.entries(rules).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const kernel = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim();
    return { kernel, date: new Date().toISOString().slice(0, 10), rules: sorted };
  } finally {
    await helper.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const evidence = await kernelEvidence();
  replaceAtomically(KERNEL_EVIDENCE, `${stringifyExact(evidence)}\n`);
  console.log(`wrote ${KERNEL_EVIDENCE}: ${Object.keys(evidence.rules).length} rules decided on ${evidence.kernel}`);
}
