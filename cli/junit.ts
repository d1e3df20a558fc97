// --junit FILE: the check's report as JUnit XML, the format CI dashboards read. One test case per suite, the
// failure message naming the property and the counterexample with its replay command (a suite with an undecided
// history segment fails too), and one test case for the coverage minimums (skipped on a narrowed check, where they
// do not apply).
import { describeUnmet } from "../props/minimums.js";
import { printable } from "../schema/report.js";
import { replaceAtomically } from "./files.js";
import type { SuiteReportDoc } from "../schema/check-report.js";
import { suiteFailed, type CheckReport } from "./report.js";

/** Text as XML character data or an attribute value; control characters are not XML 1.0, so they are spelled out. */
const xml = (text: string): string =>
  printable(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

const secondsOf = (ms: number): string => (ms / 1000).toFixed(3);

/** ` a="v" b="w"`, values escaped. */
const attributes = (attrs: Readonly<Record<string, string>>): string =>
  Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${xml(v)}"`)
    .join("");

/** An element: `<name attr="v">text</name>`, or `<name attr="v"/>` without text. */
const element = (name: string, attrs: Readonly<Record<string, string>>, text?: string): string =>
  text === undefined ? `<${name}${attributes(attrs)}/>` : `<${name}${attributes(attrs)}>${xml(text)}</${name}>`;

/** One test case per suite: its counts as output, its failure with the counterexample and how to replay it. */
function testcase(s: SuiteReportDoc): string {
  const extra = s.interrupted ? ", interrupted by the time budget" : "";
  const undecided = `${s.undecided} undecided history segment(s)`;
  const counts = `${s.runs}/${s.plannedRuns} runs, ${s.commands} commands, ${s.distinctStates} distinct states, ${undecided}${extra}`;
  const out = element("system-out", {}, counts);
  const head = `    <testcase classname="faultline.check" name="${xml(s.suite)}" time="${secondsOf(s.durationMs)}">`;
  if (!suiteFailed(s)) return `${head}\n      ${out}\n    </testcase>`;
  const f = s.failure;
  if (f === null) {
    // Not from faultline's own runs (an undecided segment fails its run), but a shard's report may say so.
    const message = `${undecided}: nothing past them was checked; no failure recorded`;
    return `${head}\n      ${element("failure", { type: "undecided", message }, message)}\n      ${out}\n    </testcase>`;
  }
  const ce = s.counterexample;
  const where = ce === null ? "no counterexample file" : `counterexample: ${ce.path}; replay: faultline replay ${ce.path}`;
  const message = `${f.property} failed at step ${f.step} (run ${f.run}): ${f.detail}; ${where}`;
  const body = [
    `${f.property} failed at step ${f.step} of run ${f.run}: ${f.detail}`,
    `expected: ${JSON.stringify(f.expected ?? null)}`,
    `actual:   ${JSON.stringify(f.actual ?? null)}`,
    ...(s.undecided === 0 ? [] : [undecided]),
    ...(s.writeError === undefined ? [] : [s.writeError]),
    ...(ce === null ? [] : [`counterexample: ${ce.path}`, `replay: faultline replay ${ce.path}`]),
  ].join("\n");
  return `${head}\n      ${element("failure", { type: f.property, message }, body)}\n      ${out}\n    </testcase>`;
}

export function junitXml({ doc, coverage }: CheckReport): string {
  const shard = doc.shard === null ? "" : ` --shard ${doc.shard.index}/${doc.shard.count}`;
  const cases = doc.suites.map(testcase);
  const unmet = doc.coverage.enforced && coverage.unmet.length > 0;
  const unmetText = coverage.unmet.map(describeUnmet).join("\n");
  const minimums = !doc.coverage.enforced
    ? element("skipped", { message: `not enforced: narrowed check (${doc.narrowed.join(", ")})` })
    : unmet
      ? element("failure", { type: "coverage", message: `${coverage.unmet.length} coverage minimum(s) not met` }, unmetText)
      : "";
  cases.push(`    <testcase classname="faultline.coverage" name="coverage minimums" time="0.000">${minimums}</testcase>`);
  const counts = {
    tests: String(cases.length),
    failures: String(doc.failures + (unmet ? 1 : 0)),
    errors: "0",
    skipped: doc.coverage.enforced ? "0" : "1",
    time: secondsOf(doc.durationMs),
  };
  const properties = {
    seed: String(doc.seed),
    shard: doc.shard === null ? "none" : `${doc.shard.index}/${doc.shard.count}`,
    bugs: doc.bugs.join(","),
    faultline: doc.faultline,
  };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="faultline"${attributes(counts)}>`,
    `  <testsuite${attributes({ name: `faultline check --seed ${doc.seed}${shard}`, ...counts })}>`,
    "    <properties>",
    ...Object.entries(properties).map(([name, value]) => `      ${element("property", { name, value })}`),
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
