// Small-scope exhaustive exploration: every run of the decision tree of the actors' yield points, depth first
// (stateless enumeration, as CHESS does).
import { runRace, type RaceActor, type RaceRun } from "../../props/concurrent/harness.js";
import type { Config } from "../../schema/config.js";

/** Each interleaving's run that begins with the choices `from`, at most `limit` of them. */
export async function* interleavings(config: Config, actors: readonly RaceActor[], limit: number, from: readonly number[] = []): AsyncGenerator<RaceRun> {
  const pending: number[][] = [[...from]];
  for (let runs = 0; pending.length > 0 && runs < limit; runs++) {
    const prefix = pending.pop()!;
    const run = await runRace(config, actors, { kind: "choices", choices: prefix });
    yield run;
    // Decisions past the prefix took choice 0 (stay on the current actor); each could have switched instead.
    for (let i = run.schedule.length - 1; i >= prefix.length; i--) pending.push([...run.schedule.slice(0, i), 1]);
  }
}

/** Runs until the first failure; how many runs it took and that failure, if any. */
export async function firstFailure(config: Config, actors: readonly RaceActor[], limit: number): Promise<{ runs: number; failure?: RaceRun }> {
  let runs = 0;
  for await (const run of interleavings(config, actors, limit)) {
    runs++;
    if (run.failure !== undefined) return { runs, failure: run };
  }
  return { runs };
}
