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

/** The runs of a suite that a shard executes, in order, computed on demand: a plan of 10^8 runs costs nothing. */
export interface ShardRuns {
  readonly length: number;
  /** The run index k of the shard's i-th run. */
  at(i: number): number;
}

/** Of a suite's `total` runs, those with k mod N = I-1 (all of them without a shard). */
export function shardRuns(total: number, shard: Shard | undefined): ShardRuns {
  const first = shard === undefined ? 0 : shard.index - 1;
  const step = shard?.count ?? 1;
  return { length: total > first ? Math.ceil((total - first) / step) : 0, at: (i) => first + i * step };
}
