// Sequential suites whose operations come from their own arbitrary (the uffd and refusal suites aim at mappings
// and ranges, not at KVM slot layouts), run by props/run.ts like the layout suites.
import type fc from "fast-check";
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import { runOpListSuite } from "../run.js";
import type { Area, Suite } from "../suite.js";

export interface OpSuite extends Suite {
  readonly kind: "sequential";
  readonly config: Config;
  readonly setup: readonly Op[];
  readonly ops: fc.Arbitrary<Op>;
  readonly maxCommands: number;
}

export function opSuite(name: string, description: string, area: Area, config: Config, setup: readonly Op[], ops: fc.Arbitrary<Op>, runs: number, maxCommands = 40): OpSuite {
  const s: OpSuite = { name, description, kind: "sequential", area, config, setup, ops, runs, maxCommands, run: (opts) => runOpListSuite(s, () => s.ops, opts) };
  return s;
}
