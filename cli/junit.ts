// --junit FILE: the check's report as JUnit XML, the format CI dashboards read. One test case per suite, the
// failure message naming the property and the counterexample with its replay command, and one test case for the
// coverage minimums (skipped on a narrowed check, where they do not apply).
import { describeUnmet } from "../props/minimums.js";
import { printable } from "../schema/report.js";
import { replaceAtomically } from "./files.js";
import type { CheckReport } from "./report.js";

/** Text as XML character data or an attribute value; control characters are not XML 1.0, so they are spelled out. */
const xml = (text: string): string =>
  printable(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

const secondsOf = (ms: number): string => (ms / 1000).toFixed(3);

export function junitXml({ doc, coverage }: CheckReport): string {
  const shard = doc.shard === null ? "" : ` --shard ${doc.shard.index}/${doc.shard.count}`;
  const name = `faultline check --seed ${doc.seed}${shard}`;
  const cases = doc.suites.map((s) => {
    const out = `<system-out>${xml(`${s.runs}/${s.plannedRuns} runs, ${s.commands} commands, ${s.distinctStates} distinct states${s.interrupted ? ", interrupted by the time budget" : ""}`)}</system-out>`;
    const head = `    <testcase classname="faultline.check" name="${xml(s.suite)}" time="${secondsOf(s.durationMs)}">`;
    if (s.failure === null) return `${head}\n      ${out}\n    </testcase>`;
    const f = s.failure;
    const where = s.counterexample === null ? "no counterexample file" : `counterexample: ${s.counterexample.path}`;
    const message = `${f.property} failed at step ${f.step} (run ${f.run}): ${f.detail}; ${where}`;
    const body = [
      `${f.property} failed at step ${f.step} of run ${f.run}: ${f.detail}`,
      `expected: ${JSON.stringify(f.expected ?? null)}`,
      `actual:   ${JSON.stringify(f.actual ?? null)}`,
      ...(s.writeError === undefined ? [] : [s.writeError]),
      ...(s.counterexample === null ? [] : [`counterexample: ${s.counterexample.path}`, `replay: faultline replay ${s.counterexample.path}`]),
    ].join("\n");
    return `${head}\n      <failure type="${xml(f.property)}" message="${xml(message)}">${xml(body)}</failure>\n      ${out}\n    </testcase>`;
  });
  const unmet = doc.coverage.enforced && coverage.unmet.length > 0;
  const minimums = doc.coverage.enforced
    ? unmet
      ? `<failure type="coverage" message="${coverage.unmet.length} coverage minimum(s) not met">${xml(coverage.unmet.map(describeUnmet).join("\n"))}</failure>`
      : ""
    : `<skipped message="${xml(`not enforced: narrowed check (${doc.narrowed.join(", ")})`)}"/>`;
  cases.push(`    <testcase classname="faultline.coverage" name="coverage minimums" time="0.000">${minimums}</testcase>`);
  const failures = doc.failures + (unmet ? 1 : 0);
  const counts = `tests="${cases.length}" failures="${failures}" errors="0" skipped="${doc.coverage.enforced ? 0 : 1}" time="${secondsOf(doc.durationMs)}"`;
  const properties = [
    ["seed", String(doc.seed)],
    ["shard", doc.shard === null ? "none" : `${doc.shard.index}/${doc.shard.count}`],
    ["bugs", doc.bugs.join(",")],
    ["faultline", doc.faultline],
  ].map(([k, v]) => `      <property name="${k}" value="${xml(v!)}"/>`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="faultline" ${counts}>`,
    `  <testsuite name="${xml(name)}" ${counts}>`,
    "    <properties>",
    ...properties,
    "    </properties>",
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}

/** Writes the JUnit file in one step: a dashboard reading it sees the old report or the new one. */
export function writeJunit(path: string, report: CheckReport): void {
  replaceAtomically(path, junitXml(report));
}
