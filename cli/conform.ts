// faultline conform [FILE...] | --probe: the conformance runner (conformance/index.ts) behind the CLI's option parsing.
import { conform, conformProbe, conformRaces, parseOverride } from "../conformance/index.js";
import { integerOption, parseArgs, UsageError } from "./args.js";
import { loadScenario } from "./files.js";
import { createProgress } from "./progress.js";

const COMMAND = "conform";

export function conformCommand(args: readonly string[]): Promise<number> {
  const p = parseArgs(COMMAND, args, {
    "--runs": "value",
    "--seed": "value",
    "--verbose": "flag",
    "--probe": "flag",
    "--json": "flag",
    "--caps": "value",
    "--races": "flag",
  });
  const runs = integerOption(COMMAND, "--runs", p.values.get("--runs"), 0);
  const seed = integerOption(COMMAND, "--seed", p.values.get("--seed"), 0, 2 ** 32 - 1);
  const caps = p.values.get("--caps") ?? process.env.FAULTLINE_CAPS ?? "";
  try {
    parseOverride(caps);
  } catch (e) {
    throw new UsageError(COMMAND, `${p.values.has("--caps") ? "--caps" : "FAULTLINE_CAPS"}: ${(e as Error).message}`);
  }
  if (p.flags.has("--probe")) {
    if (p.positional.length > 0 || p.values.has("--runs") || p.values.has("--seed") || p.flags.has("--verbose") || p.flags.has("--races")) {
      throw new UsageError(COMMAND, "--probe takes only --caps and --json");
    }
    return conformProbe({ json: p.flags.has("--json"), caps });
  }
  if (p.flags.has("--json")) throw new UsageError(COMMAND, "--json goes with --probe");
  if (p.flags.has("--races")) {
    if (p.flags.has("--verbose")) throw new UsageError(COMMAND, "--races prints one line per race; --verbose goes with the sequential run");
    return conformRaces([...p.positional], {
      load: loadScenario,
      caps,
      progress: createProgress(process.stdout, process.stdout.isTTY === true),
      ...(runs === undefined ? {} : { runs }),
      ...(seed === undefined ? {} : { seed }),
    });
  }
  return conform([...p.positional], {
    load: loadScenario,
    verbose: p.flags.has("--verbose"),
    caps,
    ...(runs === undefined ? {} : { runs }),
    ...(seed === undefined ? {} : { seed }),
  });
}
