#!/usr/bin/env node
// faultline: run the property suites, run scenario files through model and impl.
import { readFileSync } from "node:fs";
import { sameOutcome, stableStringify } from "../props/outcomes.js";
import { SUITES } from "../props/registry.js";
import { replay } from "../props/replay.js";
import type { SuiteResult } from "../props/suite.js";
import { FileError, decodeScenario } from "../schema/scenario.js";
import { writeCounterexample } from "./counterexample.js";

const USAGE = `usage: faultline <command> [options]

commands:
  check [--suite NAME] [--runs N] [--seed S]   run the property suites (embedded default configuration)
  run FILE...                                  run scenario files through model and impl, step by step

examples:
  faultline check
  faultline check --suite kvm-hugetlb-x86 --runs 2000 --seed 7
  faultline run scenarios/userfault-basic.json
`;

class UsageError extends Error {}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new UsageError(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

function integer(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${name}: expected an integer >= ${min}, found ${JSON.stringify(v)}`);
  return n;
}

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

async function check(args: string[]): Promise<number> {
  const only = option(args, "--suite");
  const runs = integer("--runs", option(args, "--runs"), 1);
  const seed = integer("--seed", option(args, "--seed"), 0) ?? Math.floor(Math.random() * 2 ** 31);
  if (args.length > 0) throw new UsageError(`check: unexpected ${args.join(" ")}`);
  const suites = SUITES.filter((s) => only === undefined || s.name === only);
  if (suites.length === 0) throw new UsageError(`--suite: no suite "${only}"; suites: ${SUITES.map((s) => s.name).join(", ")}`);
  console.log(`faultline check: ${suites.length} suite(s), seed ${seed}`);
  const results: SuiteResult[] = [];
  for (const s of suites) {
    const r = await s.run({ seed, runs: runs ?? s.runs });
    results.push(r);
    const verdict = r.failure === undefined ? "ok" : `FAILED: ${r.failure.property}`;
    console.log(`  ${s.name}: ${r.stats.runs} runs, ${r.stats.commands} commands, ${Math.round(r.durationMs)} ms, ${verdict}`);
    if (r.counterexample !== undefined) console.log(`    counterexample: ${writeCounterexample(s.name, r.counterexample)}`);
  }
  console.log(`\n${"suite".padEnd(20)} ${pad("runs", 6)} ${pad("commands", 9)} ${pad("states", 7)} ${pad("failures", 8)} ${pad("time", 8)}`);
  for (const r of results) {
    console.log(`${r.suite.padEnd(20)} ${pad(r.stats.runs, 6)} ${pad(r.stats.commands, 9)} ${pad(r.stats.distinctStates, 7)} ${pad(r.failure ? 1 : 0, 8)} ${pad(`${(r.durationMs / 1000).toFixed(1)}s`, 8)}`);
  }
  const total = results.reduce((n, r) => n + r.stats.commands, 0);
  const secs = results.reduce((n, r) => n + r.durationMs, 0) / 1000;
  console.log(`\n${total} commands in ${secs.toFixed(1)} s (${Math.round(total / secs)} commands/s)`);
  console.log("\ninvariants (non-vacuous / checked):");
  const inv = new Map<string, { checked: number; nonVacuous: number }>();
  for (const r of results) for (const [k, v] of r.stats.invariants) inv.set(k, { checked: (inv.get(k)?.checked ?? 0) + v.checked, nonVacuous: (inv.get(k)?.nonVacuous ?? 0) + v.nonVacuous });
  for (const [k, v] of [...inv].sort()) console.log(`  ${k.padEnd(22)} ${pad(v.nonVacuous, 8)} / ${v.checked}`);
  return results.some((r) => r.failure !== undefined) ? 1 : 0;
}

async function run(args: string[]): Promise<number> {
  if (args.length === 0) throw new UsageError("run: give at least one scenario file");
  let failed = false;
  for (const file of args) {
    const scenario = decodeScenario(file, readFileSync(file, "utf8"));
    console.log(`${file}: ${scenario.name}`);
    const r = await replay(scenario);
    if (r.failure !== undefined) {
      failed = true;
      console.log(`  ${r.failure.property} failed at step ${r.failure.step}: ${r.failure.detail}`);
    }
    r.trace.forEach((t, i) => {
      const agree = sameOutcome(t.model, t.impl);
      const expected = scenario.expect?.[i];
      const unexpected = expected !== undefined && !sameOutcome(expected, t.model);
      if (!agree || unexpected) failed = true;
      console.log(`  ${pad(i, 3)} ${t.op.op.padEnd(22)} model ${stableStringify(t.model)}${agree ? "" : `  impl ${stableStringify(t.impl)}  DISAGREE`}${unexpected ? `  expected ${stableStringify(expected)}` : ""}`);
    });
  }
  return failed ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === "--help" || command === "help") {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (args.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  if (command === "check") return check(args);
  if (command === "run") return run(args);
  throw new UsageError(`unknown command "${command}"`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) console.error(`faultline: ${e.message}\n\n${USAGE}`);
    else if (e instanceof FileError) console.error(e.message);
    else console.error(e);
    process.exit(2);
  },
);
