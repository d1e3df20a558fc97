// One mutant's verdict from the property suites alone: the runs of `faultline check --seed S --shard 1/N` for the
// chosen suites (the same fast-check seeds, cli/shard.ts), taken round-robin across the suites so a failure shows
// early, stopping at the first failing run. First, as `faultline check` does before any run, the minimums' vocabulary
// (props/minimums.ts): a renamed rule or invariant fails there. tools/property-mutation.ts runs it in a copy of dist/ that holds the
// mutant. Prints one JSON line: {"killedBy": "suite: property"} or {"killedBy": null, "runs": n}.
// node dist/tools/property-judge.js <check seed> <shard count> <suite,suite,...> [--precheck-only]
// With --precheck-only the runs are skipped: the verdict of a mutant that passes the vocabulary check is then that of
// its last full judging, as long as nothing the runs execute changed since (tools/property-mutation.ts --precheck).
import { runSeed, shardRuns } from "../cli/shard.js";
import { vocabularyErrors } from "../props/minimums.js";
import { suiteNamed } from "../props/registry.js";
import type { Suite } from "../props/suite.js";

async function judge(seed: number, count: number, names: readonly string[], precheckOnly: boolean): Promise<{ killedBy: string | null; runs: number }> {
  const plans = names.map((n) => {
    const suite = suiteNamed(n);
    if (suite === undefined) throw new Error(`no suite ${n}`);
    return { suite, runs: shardRuns(suite.runs, { index: 1, count }) };
  });
  const vocabulary = vocabularyErrors();
  if (vocabulary.length > 0) return { killedBy: `vocabulary: ${vocabulary[0]}`, runs: 0 };
  if (precheckOnly) return { killedBy: null, runs: 0 };
  let runs = 0;
  for (let i = 0; plans.some((p) => i < p.runs.length); i++) {
    for (const { suite, runs: ks } of plans) {
      if (i >= ks.length) continue;
      const k = ks.at(i);
      runs++;
      const failure = await firstFailure(suite, seed, k);
      if (failure !== undefined) return { killedBy: `${suite.name}: ${failure}`, runs };
    }
  }
  return { killedBy: null, runs };
}

/** The property a run of the suite broke, or undefined; a throw out of the suite kills the mutant as well. */
async function firstFailure(suite: Suite, seed: number, k: number): Promise<string | undefined> {
  try {
    const r = await suite.run({ seed: runSeed(seed, suite.name, k), runs: 1 });
    return r.failure?.property;
  } catch (e) {
    return `threw ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
  }
}

const [seed, count, list, flag] = process.argv.slice(2);
const verdict = await judge(Number(seed), Number(count), (list ?? "").split(","), flag === "--precheck-only");
console.log(JSON.stringify(verdict));
