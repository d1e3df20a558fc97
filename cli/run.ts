// faultline run FILE...: "what happens if": each step's outcome, the rules behind it, any disagreement.
import { replay } from "../props/replay.js";
import { FileError, printable } from "../schema/report.js";
import { UsageError, parseArgs } from "./args.js";
import { loadScenario } from "./files.js";
import { describeConfig, describeFailure, printRaceDiagram, printTrace } from "./trace.js";

const COMMAND = "run";

/** Runs one file; true when model and implementation agree, every expectation holds and no property fails. */
async function runFile(file: string): Promise<boolean> {
  const s = loadScenario(file);
  const r = await replay(s);
  console.log(`${printable(file)}: ${s.name}`);
  if (s.description !== undefined) console.log(`  ${s.description}`);
  console.log(`  config: ${describeConfig(s)}`);
  if (s.actors !== undefined) console.log("  operations, in the order they returned (the model's outcome where the linearization placed them):");
  const t = printTrace(s, r, true);
  if (s.actors !== undefined) printRaceDiagram(s, r);
  const planned = s.steps?.length ?? (s.actors ?? []).reduce((n, a) => n + a.steps.length, 0);
  const notes = [
    t.disagreements === 0 ? "" : `${t.disagreements} step(s) where model and implementation DISAGREE`,
    t.unexpected === 0 ? "" : `${t.unexpected} step(s) differ from "expect"`,
    r.failure === undefined ? "" : `stopped: ${describeFailure(s, r.failure)}: ${r.failure.detail}`,
    t.operations < planned ? `${planned - t.operations} step(s) not run` : "",
  ].filter((n) => n !== "");
  console.log(`  ${notes.length === 0 ? `${t.operations} steps, model and implementation agree${s.expect === undefined ? "" : ", as expected"}` : notes.join("; ")}\n`);
  return notes.length === 0;
}

export async function runCommand(args: readonly string[]): Promise<number> {
  const p = parseArgs(COMMAND, args, {});
  if (p.positional.length === 0) throw new UsageError(COMMAND, "give at least one scenario file");
  let ok = true;
  let fileErrors = false;
  for (const file of p.positional) {
    try {
      ok = (await runFile(file)) && ok;
    } catch (e) {
      if (!(e instanceof FileError)) throw e;
      console.error(e.message);
      fileErrors = true;
    }
  }
  return fileErrors ? 2 : ok ? 0 : 1;
}
