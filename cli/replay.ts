// faultline replay FILE...: the recorded failure, step by step (with the race diagram of a concurrent one),
// and whether it still reproduces.
import { renderRecordedRace, renderRecordedRaceSvg } from "../conformance/race-diagram.js";
import { scenarioShape } from "../conformance/race-runner.js";
import { checkRecording, stateAfter } from "../conformance/races.js";
import { renderRaceHtml, renderRaceSvg } from "../props/concurrent/diagram.js";
import type { ReplayResult } from "../props/replay.js";
import { resolveConfig } from "../schema/config.js";
import { FileError, printable } from "../schema/report.js";
import type { Scenario } from "../schema/scenario.js";
import { UsageError, parseArgs } from "./args.js";
import { loadScenario, writeNew } from "./files.js";
import { kindOf, replayScenario, verdictOf, type Verdict } from "./policy.js";
import { describeConfig, describeFailure, printRaceDiagram, printTrace } from "./trace.js";

const COMMAND = "replay";

interface Options {
  readonly withoutBugs: boolean;
  readonly svg?: string;
  readonly html?: string;
}

/** The cost model's counters that moved (impl/costs.ts), in one line. */
export function describeCosts(costs: Readonly<Record<string, number>>): string {
  const moved = Object.entries(costs).filter(([, n]) => n !== 0);
  return moved.length === 0 ? "none counted" : moved.map(([k, n]) => `${k} ${n}`).join(", ");
}

function explain(file: string, s: Scenario, v: Verdict, withoutBugs: boolean): string {
  const kind = kindOf(s);
  const bugs = (s.config.bugs ?? []).join(", ");
  if (v === "passes") {
    if (kind === "seeded" && !withoutBugs) return `does not reproduce, although seeded bugs ${bugs} are on: the demonstration no longer shows its failure`;
    if (kind === "design-flaw") return "does not reproduce: the documented design flaw no longer shows (update or remove expectedToFail)";
    return "does not reproduce: every property holds";
  }
  const what = v === "reproduces" ? "REPRODUCES" : "FAILS DIFFERENTLY";
  if (kind === "seeded" && !withoutBugs) return `${what}, as expected: seeded bugs ${bugs} are on (faultline replay --no-bugs ${printable(file)} replays the real implementation)`;
  if (kind === "design-flaw") return `${what}, as expected: a documented design flaw: ${s.expectedToFail}`;
  return `${what}: a failure of the real implementation`;
}

/** The text diagram always; SVG and HTML files when asked for, written atomically and never over another file. */
function diagrams(file: string, s: Scenario, r: ReplayResult, o: Options): void {
  if (s.actors === undefined) {
    if (o.svg !== undefined || o.html !== undefined) throw new FileError(file, "steps", "a race diagram (--svg, --html) needs a concurrent scenario (actors and schedule)");
    return;
  }
  printRaceDiagram(s, r);
  for (const [out, render] of [
    [o.svg, renderRaceSvg],
    [o.html, renderRaceHtml],
  ] as const) {
    if (out !== undefined) console.log(`  ${writeNew(out, render(s, r)) === "written" ? "wrote" : "unchanged"}: ${printable(out)}`);
  }
}

/**
 * A race recorded on the real kernel (faultline conform --races): no schedule to replay, so the recorded history is
 * checked against the model again and drawn on its real time axis.
 */
function replayRecorded(file: string, s: Scenario, o: Options): Verdict {
  const rec = s.recorded!;
  if (o.html !== undefined) {
    throw new FileError(file, "recorded", "a recorded race draws as text and --svg; --html draws a schedule's race");
  }
  const { setup, actors } = scenarioShape(s).draw(rec.seed);
  const v = checkRecording(stateAfter(resolveConfig(s.config), setup), actors, rec);
  const mark = v.kind === "illegal" || v.kind === "blocked" ? v.stuck : undefined;
  console.log(`${printable(file)}: ${s.name}`);
  if (s.description !== undefined) console.log(`  ${s.description}`);
  console.log(`  config: ${describeConfig(s)}`);
  const where = rec.host === undefined ? "" : ` on ${rec.host}`;
  console.log(`  recorded${where}, jitter seed ${rec.seed}${rec.watchdog ? ", ended by the watchdog" : ""}`);
  if (s.failure !== undefined) console.log(`  recorded failure: ${describeFailure(s, s.failure)}: ${s.failure.detail ?? ""}`);
  console.log("  the race on its real time axis (us from the actors' release; >> marks the operation no order explains):");
  console.log(renderRecordedRace(actors, rec, mark).replace(/^/gm, "    "));
  if (o.svg !== undefined) {
    const svg = renderRecordedRaceSvg(actors, rec, `${s.name}: ${v.kind === "ok" ? "linearizable" : v.kind}`, mark);
    console.log(`  ${writeNew(o.svg, svg) === "written" ? "wrote" : "unchanged"}: ${printable(o.svg)}`);
  }
  if (v.kind === "ok") {
    const devs = v.deviations.length > 0 ? ` (with the documented deviations ${[...new Set(v.deviations)].join(", ")})` : "";
    console.log(`  does not reproduce: the model explains the recorded history${devs}, in the order ${v.order.join(", ")}\n`);
    return "passes";
  }
  if (v.kind === "illegal") {
    const answered = `${v.stuck} answered ${JSON.stringify(v.actual)} where the model says ${JSON.stringify(v.expected)}`;
    console.log(`  REPRODUCES: after ${v.prefix.join(", ") || "nothing"}, ${answered}\n`);
  } else if (v.kind === "blocked") {
    console.log(`  REPRODUCES: ${v.stuck} stayed blocked in ${v.waits} where the model says it cannot block\n`);
  } else console.log("  undecided: the search ran out of budget\n");
  return "reproduces";
}

async function replayFile(file: string, o: Options): Promise<Verdict> {
  const s = loadScenario(file);
  if (s.recorded !== undefined) return replayRecorded(file, s, o);
  const r = await replayScenario(s, o.withoutBugs);
  console.log(`${printable(file)}: ${s.name}`);
  if (s.description !== undefined) console.log(`  ${s.description}`);
  console.log(`  config: ${describeConfig(s)}${o.withoutBugs && kindOf(s) === "seeded" ? " (switched off: --no-bugs)" : ""}`);
  if (s.failure !== undefined) console.log(`  recorded: ${describeFailure(s, s.failure)}`);
  if (s.actors !== undefined) console.log("  operations, in the order they returned:");
  printTrace(s, r, false);
  diagrams(file, s, r, o);
  if (r.costs !== undefined) console.log(`  costs: ${describeCosts(r.costs)}`);
  if (r.failure !== undefined) {
    console.log(`  violated: ${describeFailure(s, r.failure)}: ${r.failure.detail}`);
    console.log(`    expected ${JSON.stringify(r.failure.expected ?? null)}, actual ${JSON.stringify(r.failure.actual ?? null)}`);
  }
  const v = verdictOf(s, r);
  console.log(`  ${explain(file, s, v, o.withoutBugs)}\n`);
  return v;
}

export async function replayCommand(args: readonly string[]): Promise<number> {
  const p = parseArgs(COMMAND, args, { "--no-bugs": "flag", "--svg": "value", "--html": "value" });
  if (p.positional.length === 0) throw new UsageError(COMMAND, "give at least one counterexample file");
  const svg = p.values.get("--svg");
  const html = p.values.get("--html");
  if ((svg !== undefined || html !== undefined) && p.positional.length > 1) throw new UsageError(COMMAND, "--svg and --html draw one file's diagram: give one FILE");
  const o: Options = { withoutBugs: p.flags.has("--no-bugs"), ...(svg === undefined ? {} : { svg }), ...(html === undefined ? {} : { html }) };
  let failing = false;
  let fileErrors = false;
  for (const file of p.positional) {
    try {
      failing = (await replayFile(file, o)) !== "passes" || failing;
    } catch (e) {
      if (!(e instanceof FileError)) throw e;
      console.error(e.message);
      fileErrors = true;
    }
  }
  return fileErrors ? 2 : failing ? 1 : 0;
}
