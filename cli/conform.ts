// faultline conform [FILE...]: the conformance runner (conformance/index.ts) behind the CLI's option parsing.
import { conform } from "../conformance/index.js";
import { integerOption, parseArgs } from "./args.js";

const COMMAND = "conform";

export function conformCommand(args: readonly string[]): Promise<number> {
  const p = parseArgs(COMMAND, args, { "--runs": "value", "--seed": "value", "--verbose": "flag" });
  const runs = integerOption(COMMAND, "--runs", p.values.get("--runs"), 0);
  const seed = integerOption(COMMAND, "--seed", p.values.get("--seed"), 0, 2 ** 32 - 1);
  return conform([...p.positional], {
    verbose: p.flags.has("--verbose"),
    ...(runs === undefined ? {} : { runs }),
    ...(seed === undefined ? {} : { seed }),
  });
}
