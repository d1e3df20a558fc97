// npm run coverage: code coverage of the test suites (vitest, coverage-v8, thresholds in vitest.config.ts) and of
// the built CLI's default check (V8 coverage read back by c8 through the source maps: c8 cannot see inside
// vitest's workers), merged into one report, and the check's invariant and rule coverage (docs/COVERAGE.md).
//   coverage/tests/      vitest: HTML, lcov, text summary, JSON
//   coverage/check/      c8 over `faultline check --seed 1 --workers 1`: JSON, and the check's own JSON report
//   coverage/merged/     both: HTML, lcov.info, coverage-summary.json, a text summary on stdout
//   coverage/invariants/ invariants.json and index.html: each invariant, linearizability check, exit and errno rule
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import libCoverage from "istanbul-lib-coverage";
import libReport from "istanbul-lib-report";
import reports from "istanbul-reports";
import { replaceAtomically } from "../cli/files.js";
import { invariantReportHtml, type CheckJson } from "./invariant-report.js";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const OUT = join(ROOT, "coverage");
const bin = (name: string): string => join(ROOT, "node_modules", ".bin", name);
/** The sources the reports cover, as globs relative to the repository. */
export const SOURCES = ["model/**/*.ts", "impl/**/*.ts", "props/**/*.ts", "schema/**/*.ts", "cli/**/*.ts"];
/** The check whose code and invariant coverage is reported. */
export const CHECK_ARGS = ["check", "--seed", "1", "--workers", "1", "--json"];

function run(what: string, command: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { status: number; stdout: string } {
  console.log(`\n== ${what}: ${[command, ...args].join(" ")}`);
  const r = spawnSync(command, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 28 });
  if (r.error !== undefined) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout };
}

/** 1. The test suites under @vitest/coverage-v8; thresholds from vitest.config.ts. */
function testCoverage(): number {
  const r = run("test suites (vitest, coverage-v8)", bin("vitest"), ["run", "--coverage"]);
  process.stdout.write(r.stdout.split("\n").filter((l) => /^(Statements|Branches|Functions|Lines)\s*:|ERROR: Coverage|threshold/i.test(l)).join("\n") + "\n");
  return r.status;
}

/** 2. The built CLI's check with V8 coverage on, in a scratch directory (a failure writes its counterexample there); c8 maps it to the .ts sources. */
function checkCoverage(): { status: number; check: CheckJson } {
  const dir = join(OUT, "check");
  const tmp = join(dir, "v8");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), "faultline-coverage-"));
  const r = run("the default check (V8 coverage)", process.execPath, [join(ROOT, "dist", "cli", "main.js"), ...CHECK_ARGS], { cwd: scratch, env: { ...process.env, NODE_V8_COVERAGE: tmp } });
  replaceAtomically(join(dir, "check.json"), r.stdout);
  const c8 = run("c8 report", bin("c8"), ["report", "--temp-directory", tmp, "--report-dir", dir, "--reporter", "json", "--exclude-after-remap", ...SOURCES.flatMap((g) => ["--include", g])]);
  rmSync(tmp, { recursive: true, force: true });
  if (c8.status !== 0) throw new Error(`c8 report exited ${c8.status}`);
  return { status: r.status, check: JSON.parse(r.stdout) as CheckJson };
}

/** 3. One coverage map from both, written as HTML, lcov.info and coverage-summary.json; the summary on stdout. */
function merge(): void {
  const map = libCoverage.createCoverageMap({});
  for (const part of ["tests", "check"]) map.merge(JSON.parse(readFileSync(join(OUT, part, "coverage-final.json"), "utf8")) as libCoverage.CoverageMapData);
  const dir = join(OUT, "merged");
  rmSync(dir, { recursive: true, force: true });
  const context = libReport.createContext({ dir, coverageMap: map, defaultSummarizer: "nested" });
  for (const r of ["html", "lcovonly", "json-summary", "text-summary"] as const) reports.create(r).execute(context);
  console.log(`\nmerged report: ${join(dir, "index.html")}`);
}

/** 4. The check's invariant, linearizability, exit and errno-rule coverage with the minimums. */
function invariantReport(check: CheckJson): void {
  const dir = join(OUT, "invariants");
  mkdirSync(dir, { recursive: true });
  replaceAtomically(join(dir, "invariants.json"), JSON.stringify({ seed: check.seed, ...check.coverage }, null, 2));
  replaceAtomically(join(dir, "index.html"), invariantReportHtml(check));
  console.log(`invariant coverage: ${join(dir, "index.html")} (${check.coverage.unmet.length === 0 ? "every minimum met" : `${check.coverage.unmet.length} minimum(s) NOT met`})`);
}

const tests = testCoverage();
const { status, check } = checkCoverage();
merge();
invariantReport(check);
if (tests !== 0) console.error("coverage: the test suites failed or a coverage threshold was not met");
if (status !== 0) console.error("coverage: the check failed (a property, or an invariant or rule minimum)");
process.exitCode = tests !== 0 || status !== 0 ? 1 : 0;
