// faultline conform [FILE...]: scenarios through the model and the real kernel, step by step; with no files, the
// conformance corpus and then the random suite.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stableStringify } from "../props/outcomes.js";
import { resolveConfig } from "../schema/config.js";
import { BUG_IDS } from "../impl/bugs.js";
import { decodeScenario, type Scenario } from "../schema/scenario.js";
import { isFailure, runSteps, type StepReport, type Verdict } from "./compare.js";
import { hugePagesNeeded, reserveHugePages, usesHugetlb1G } from "./hugepages.js";
import { Helper } from "./native.js";
import { mismatches, probe, unusableReason, type Features } from "./probe.js";
import { runRandom } from "./suite.js";

export { DEVIATIONS, isFailure, runSteps, type StepReport, type Verdict } from "./compare.js";
export { Helper, buildHelper } from "./native.js";
export { probe, mismatches, unusableReason } from "./probe.js";
export { runRandom, RANDOM_SETUP } from "./suite.js";

/** conformance/corpus, found from this file whether it runs from source or from dist/. */
export function corpusDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    for (const c of [join(dir, "corpus"), join(dir, "conformance", "corpus")]) {
      try {
        if (statSync(c).isDirectory() && readdirSync(c).length > 0 && statSync(join(c, "..", "native")).isDirectory()) return c;
      } catch {
        /* keep looking */
      }
    }
    dir = resolve(dir, "..");
  }
  throw new Error("conformance/corpus not found");
}

/** Every corpus scenario file, sorted, as [area, path]. */
export function corpusFiles(dir = corpusDir()): string[] {
  const out: string[] = [];
  for (const area of readdirSync(dir).sort()) {
    const sub = join(dir, area);
    if (!statSync(sub).isDirectory()) continue;
    for (const f of readdirSync(sub).sort()) if (f.endsWith(".json")) out.push(join(sub, f));
  }
  return out;
}

export interface ScenarioResult {
  readonly file: string;
  readonly scenario: Scenario;
  readonly reports: readonly StepReport[];
  /** Why the scenario could not run here at all (e.g. 1 GiB pages), if so. */
  readonly skipped?: string;
}

/** A scenario fails when a step disagrees, unless the file documents an open disagreement (expectedToFail). */
export const scenarioDisagrees = (r: ScenarioResult): boolean => r.reports.some(isFailure);
export const scenarioFailed = (r: ScenarioResult): boolean => scenarioDisagrees(r) && r.scenario.expectedToFail === undefined;

export async function runScenarioFile(helper: Helper, file: string, onStep?: (r: StepReport) => void): Promise<ScenarioResult> {
  const scenario = decodeScenario(file, readFileSync(file, "utf8"), { bugs: BUG_IDS });
  if (scenario.steps === undefined) return { file, scenario, reports: [], skipped: "concurrent scenarios are not replayed against the kernel" };
  if (usesHugetlb1G(scenario.steps)) return { file, scenario, reports: [], skipped: "1 GiB huge pages are not reserved on these machines (model only)" };
  const reservation = reserveHugePages(hugePagesNeeded(scenario.steps));
  try {
    const reports = await runSteps(helper, resolveConfig(scenario.config), scenario.steps, scenario.expect ?? [], onStep === undefined ? {} : { onStep });
    await helper.send({ op: "__reset" });
    return { file, scenario, reports };
  } finally {
    reservation.release();
  }
}

export interface ConformOptions {
  /** Random sequences to run when no files are given (default 2000; 0 skips the random suite). */
  readonly runs?: number;
  readonly seed?: number;
  /** Print every step, not only the ones that do not agree. */
  readonly verbose?: boolean;
  readonly log?: (line: string) => void;
}

const MARK: Readonly<Record<Verdict, string>> = {
  agree: "agree",
  disagree: "DISAGREE",
  "model only": "model only",
  "model not yet": "model not yet",
  deviation: "deviation",
  error: "ERROR",
};

function formatStep(r: StepReport): string {
  const head = `  ${String(r.index).padStart(3)} ${r.op.op.padEnd(21)} ${MARK[r.verdict].padEnd(13)}`;
  const both =
    r.verdict === "agree" ? stableStringify(r.model) : `model ${stableStringify(r.model)}  kernel ${stableStringify(r.kernel)}`;
  const why = r.reason === undefined ? "" : `  (${r.reason})`;
  const exp = r.expectMismatch === undefined ? "" : `  EXPECTED ${stableStringify(r.expectMismatch)}`;
  return `${head} ${both}${why}${exp}`;
}

/** Area of a corpus file: its folder under corpus/ ("files" for files given on the command line elsewhere). */
const areaOf = (file: string): string => {
  const parts = relative(process.cwd(), file).split(/[\\/]/);
  const i = parts.lastIndexOf("corpus");
  return i >= 0 && parts.length > i + 2 ? parts[i + 1]! : "files";
};

/** Runs the given scenario files (or the corpus and the random suite) and prints the per-step report; returns the exit code. */
export async function conform(files: string[], opts: ConformOptions = {}): Promise<number> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const unusable = unusableReason();
  if (unusable !== undefined) {
    log(`faultline conform: ${unusable}; the real kernel cannot be run here`);
    return 2;
  }
  const helper = new Helper();
  try {
    const features: Features = await probe(helper);
    const diff = mismatches(features);
    log(`kernel: KVM API ${features.probe.api}, VM types [${features.probe.vmTypes.join(",")}], guest ${features.probe.guest}, userfaultfd ${features.probe.uffd}`);
    if (diff.length > 0) {
      log(`faultline conform: this machine's kernel is not the kernel-6.18 configuration the corpus is written for:\n  ${diff.join("\n  ")}`);
      return 2;
    }
    const chosen = files.length > 0 ? files : corpusFiles();
    const totals: Record<Verdict, number> = { agree: 0, disagree: 0, "model only": 0, "model not yet": 0, deviation: 0, error: 0 };
    const areas = new Map<string, { scenarios: number; failed: number }>();
    let failed = 0;
    let knownOpen = 0;
    for (const file of chosen) {
      const r = await runScenarioFile(helper, file);
      const area = areaOf(file);
      const a = areas.get(area) ?? { scenarios: 0, failed: 0 };
      const bad = scenarioFailed(r);
      const known = r.scenario.expectedToFail !== undefined;
      if (known) knownOpen++;
      areas.set(area, { scenarios: a.scenarios + 1, failed: a.failed + (bad ? 1 : 0) });
      if (bad) failed++;
      const counts = r.reports.reduce<Record<string, number>>((m, s) => ({ ...m, [s.verdict]: (m[s.verdict] ?? 0) + 1 }), {});
      for (const s of r.reports) totals[s.verdict]++;
      const summary = r.skipped ?? Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ");
      const mark = bad ? "FAIL" : known ? (scenarioDisagrees(r) ? "open" : "FIXD") : "ok  ";
      log(`${mark} ${relative(process.cwd(), file)}: ${r.scenario.name} [${summary}]`);
      if (known) log(`       ${scenarioDisagrees(r) ? "known open disagreement" : "agrees now: remove expectedToFail"}: ${r.scenario.expectedToFail}`);
      const notYet = r.reports.filter((s) => s.verdict === "model not yet").length;
      for (const s of r.reports) {
        if (s.verdict === "model not yet" && !opts.verbose) continue;
        if (opts.verbose || s.verdict !== "agree" || s.expectMismatch !== undefined) log(formatStep(s));
      }
      if (notYet > 0 && !opts.verbose) log(`       ${notYet} step(s) model not yet: the kernel's outcomes are kept in the file's expect list (--verbose shows them)`);
    }
    log(`\nscenarios: ${chosen.length}, failed: ${failed}, documented open disagreements: ${knownOpen}`);
    for (const [area, a] of [...areas].sort()) log(`  ${area.padEnd(10)} ${String(a.scenarios).padStart(4)} scenarios, ${a.failed} failed`);
    log(`steps: ${Object.entries(totals).map(([k, v]) => `${v} ${k}`).join(", ")}`);
    let randomFailed = false;
    const runs = opts.runs ?? 2000;
    if (files.length === 0 && runs > 0) {
      const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
      log(`\nrandom sequences: ${runs} runs, seed ${seed}`);
      const r = await runRandom(helper, features, { runs, seed });
      log(`  ${r.sequences} sequences, ${r.steps} steps in ${(r.durationMs / 1000).toFixed(1)} s: ${Object.entries(r.verdicts).map(([k, v]) => `${v} ${k}`).join(", ")}`);
      if (r.failure !== undefined) {
        randomFailed = true;
        log(`  DISAGREEMENT, shrunk to ${r.failure.file}:`);
        for (const s of r.failure.reports) if (s.verdict !== "agree" || opts.verbose) log(formatStep(s));
      }
    }
    return failed > 0 || randomFailed ? 1 : 0;
  } finally {
    await helper.close();
  }
}
