// Harness overhead: commands per second of a refinement suite (model + impl + checks) next to a bare
// fast-check fc.commands run over a trivial counter model, measured in the same process.
import fc from "fast-check";
import { SEQUENTIAL_SUITES } from "../props/suites.js";
import type { Row } from "./scale.js";

class Counter {
  n = 0;
}

class Inc implements fc.Command<Counter, Counter> {
  check(): boolean {
    return true;
  }
  run(m: Counter, r: Counter): void {
    m.n++;
    r.n++;
    if (m.n !== r.n) throw new Error("counter diverged");
  }
  toString(): string {
    return "inc";
  }
}

function bareCommandsPerSecond(runs: number, maxCommands: number): { commands: number; ms: number } {
  let commands = 0;
  const t0 = performance.now();
  fc.assert(
    fc.property(fc.commands([fc.constant(new Inc())], { maxCommands, size: "max" }), (cmds) => {
      const model = new Counter();
      fc.modelRun(() => ({ model, real: new Counter() }), cmds);
      commands += model.n;
    }),
    { numRuns: runs, seed: 1 },
  );
  return { commands, ms: performance.now() - t0 };
}

export async function harnessBench(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runs of [100, 300, 1000]) {
    const bare = bareCommandsPerSecond(runs, 60);
    const suite = SEQUENTIAL_SUITES[0]!;
    const ours = await suite.run({ seed: 1, runs });
    const bareUs = (bare.ms * 1000) / bare.commands;
    const oursUs = (ours.durationMs * 1000) / ours.stats.commands;
    rows.push({
      bench: "harness overhead",
      size: `${runs} runs`,
      bareCommandsPerSec: Math.round(bare.commands / (bare.ms / 1000)),
      suiteCommandsPerSec: Math.round(ours.stats.commands / (ours.durationMs / 1000)),
      bareUsPerCommand: +bareUs.toFixed(2),
      suiteUsPerCommand: +oursUs.toFixed(2),
      ratio: +(oursUs / bareUs).toFixed(1),
    });
  }
  return rows;
}
