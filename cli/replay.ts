// faultline replay FILE...: the recorded failure, step by step, and whether it still reproduces.
import { FileError, type Scenario } from "../schema/scenario.js";
import { UsageError, parseArgs } from "./args.js";
import { loadScenario } from "./files.js";
import { kindOf, replayScenario, verdictOf, type Verdict } from "./policy.js";
import { describeConfig, describeFailure, printTrace } from "./trace.js";

const COMMAND = "replay";

function explain(file: string, s: Scenario, v: Verdict, withoutBugs: boolean): string {
  const kind = kindOf(s);
  const bugs = (s.config.bugs ?? []).join(", ");
  if (v === "passes") {
    if (kind === "seeded" && !withoutBugs) return `does not reproduce, although seeded bugs ${bugs} are on: the demonstration no longer shows its failure`;
    if (kind === "design-flaw") return "does not reproduce: the documented design flaw no longer shows (update or remove expectedToFail)";
    return "does not reproduce: every property holds";
  }
  const what = v === "reproduces" ? "REPRODUCES" : "FAILS DIFFERENTLY";
  if (kind === "seeded" && !withoutBugs) return `${what}, as expected: seeded bugs ${bugs} are on (faultline replay --no-bugs ${file} replays the real implementation)`;
  if (kind === "design-flaw") return `${what}, as expected: a documented design flaw: ${s.expectedToFail}`;
  return `${what}: a failure of the real implementation`;
}

async function replayFile(file: string, withoutBugs: boolean): Promise<Verdict> {
  const s = loadScenario(file);
  if (s.steps === undefined) throw new FileError(file, "actors", "replaying concurrent scenarios needs the race harness, which this build does not have yet");
  const r = await replayScenario(s, withoutBugs);
  console.log(`${file}: ${s.name}`);
  if (s.description !== undefined) console.log(`  ${s.description}`);
  console.log(`  config: ${describeConfig(s)}${withoutBugs && kindOf(s) === "seeded" ? " (switched off: --no-bugs)" : ""}`);
  if (s.failure !== undefined) console.log(`  recorded: ${s.failure.property} at step ${s.failure.step}`);
  printTrace(r.trace, { cite: false, ...(r.failure === undefined ? {} : { failure: r.failure }) });
  if (r.failure !== undefined) {
    console.log(`  violated: ${describeFailure(r.failure, r.trace)}`);
    console.log(`    expected ${JSON.stringify(r.failure.expected)}, actual ${JSON.stringify(r.failure.actual)}`);
  }
  const v = verdictOf(s, r);
  console.log(`  ${explain(file, s, v, withoutBugs)}\n`);
  return v;
}

export async function replayCommand(args: readonly string[]): Promise<number> {
  const p = parseArgs(COMMAND, args, { "--no-bugs": "flag" });
  if (p.positional.length === 0) throw new UsageError(COMMAND, "give at least one counterexample file");
  let failing = false;
  let fileErrors = false;
  for (const file of p.positional) {
    try {
      failing = (await replayFile(file, p.flags.has("--no-bugs"))) !== "passes" || failing;
    } catch (e) {
      if (!(e instanceof FileError)) throw e;
      console.error(e.message);
      fileErrors = true;
    }
  }
  return fileErrors ? 2 : failing ? 1 : 0;
}
