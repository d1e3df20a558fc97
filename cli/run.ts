// faultline run FILE...: "what happens if": each step's outcome, the rules behind it, any disagreement.
import { replay } from "../props/replay.js";
import { FileError } from "../schema/scenario.js";
import { UsageError, parseArgs } from "./args.js";
import { loadScenario } from "./files.js";
import { describeConfig, describeFailure, printTrace } from "./trace.js";

const COMMAND = "run";

/** Runs one file; true when model and implementation agree, every expectation holds and no property fails. */
async function runFile(file: string): Promise<boolean> {
  const s = loadScenario(file);
  if (s.steps === undefined) throw new FileError(file, "actors", "running concurrent scenarios needs the race harness, which this build does not have yet");
  const r = await replay(s);
  console.log(`${file}: ${s.name}`);
  if (s.description !== undefined) console.log(`  ${s.description}`);
  console.log(`  config: ${describeConfig(s)}`);
  const t = printTrace(r.trace, { cite: true, ...(s.expect === undefined ? {} : { expect: s.expect }), ...(r.failure === undefined ? {} : { failure: r.failure }) });
  const notes = [
    t.disagreements === 0 ? "" : `${t.disagreements} step(s) where model and implementation DISAGREE`,
    t.unexpected === 0 ? "" : `${t.unexpected} step(s) differ from "expect"`,
    r.failure === undefined ? "" : `stopped: ${describeFailure(r.failure, r.trace)}`,
    r.trace.length < s.steps.length ? `${s.steps.length - r.trace.length} step(s) not run` : "",
  ].filter((n) => n !== "");
  console.log(`  ${notes.length === 0 ? `${r.trace.length} steps, model and implementation agree${s.expect === undefined ? "" : ", as expected"}` : notes.join("; ")}\n`);
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
