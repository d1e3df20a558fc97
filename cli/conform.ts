// faultline conform [FILE...] | --probe: the conformance runner (conformance/index.ts) behind the CLI's option parsing.
import { conform, conformProbe, parseOverride } from "../conformance/index.js";
import { integerOption, parseArgs, UsageError } from "./args.js";
import { loadScenario } from "./files.js";

const COMMAND = "conform";

export function conformCommand(args: readonly string[]): Promise<number> {
  const p = parseArgs(COMMAND, args, { "--runs": "value", "--seed": "value", "--verbose": "flag", "--probe": "flag", "--json": "flag", "--caps": "value" });
  const runs = integerOption(COMMAND, "--runs", p.values.get("--runs"), 0);
  const seed = integerOption(COMMAND, "--seed", p.values.get("--seed"), 0, 2 ** 32 - 1);
  const caps = p.values.get("--caps") ?? process.env.FAULTLINE_CAPS ?? "";
  try {
    parseOverride(caps);
  } catch (e) {
    throw new UsageError(COMMAND, `${p.values.has("--caps") ? "--caps" : "FAULTLINE_CAPS"}: ${(e as Error).message}`);
  }
  if (p.flags.has("--probe")) {
    if (p.positional.length > 0 || p.values.has("--runs") || p.values.has("--seed") || p.flags.has("--verbose")) {
      throw new UsageError(COMMAND, "--probe takes only --caps and --json");
    }
    return conformProbe({ json: p.flags.has("--json"), caps });
  }
  if (p.flags.has("--json")) throw new UsageError(COMMAND, "--json goes with --probe");
  return conform([...p.positional], {
    load: loadScenario,
    verbose: p.flags.has("--verbose"),
    caps,
    ...(runs === undefined ? {} : { runs }),
    ...(seed === undefined ? {} : { seed }),
  });
}
