// How a check is planned and split (docs/CLI.md, "Sharding"): run k of suite X under check seed S is one
// fast-check run with its own seed, derived from (S, X, k). Shard i/n takes the runs k with k mod n = i-1, so
// the shards of a check are disjoint, together they are exactly the unsharded check, and each replays alone.
import { createHash } from "node:crypto";
import { UsageError } from "./args.js";

export interface Shard {
  /** 1-based, as in `--shard 2/4`. */
  readonly index: number;
  readonly count: number;
}

export function parseShard(command: string, text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (m === null || count < 1 || index < 1 || index > count) throw new UsageError(command, `--shard: expected i/n with 1 <= i <= n, found ${JSON.stringify(text)}`);
  return { index, count };
}

/** The fast-check seed of run k: 31 bits of sha256("S/X/k"), independent of the shard that runs it. */
export function runSeed(checkSeed: number, suite: string, run: number): number {
  return createHash("sha256").update(`${checkSeed}/${suite}/${run}`).digest().readUInt32BE(0) >>> 1;
}

/** The run indices of a suite's `total` runs that this shard executes, in order. */
export function shardRuns(total: number, shard: Shard | undefined): number[] {
  const runs: number[] = [];
  for (let k = 0; k < total; k++) if (shard === undefined || k % shard.count === shard.index - 1) runs.push(k);
  return runs;
}
