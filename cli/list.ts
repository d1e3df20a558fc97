// faultline list: what a check runs and what it checks, one line each.
import { BUGS } from "../impl/bugs.js";
import { INVARIANTS } from "../model/index.js";
import { RULES } from "../model/rules-index.js";
import { SUITES } from "../props/registry.js";
import { UsageError, parseArgs } from "./args.js";
import { table } from "./format.js";

const COMMAND = "list";

/** The properties the checkers report besides the invariants: props/checker.ts and props/concurrent/harness.ts. */
const PROPERTIES: Readonly<Record<string, string>> = {
  "refinement.outcome": "model and implementation give the same outcome for every step",
  "refinement.state": "the implementation's abstract state equals the model's after every step (concurrent: at every quiescent point)",
  "abstraction.incremental": "the incremental abstract state equals one rebuilt from nothing (every 8th step; FAULTLINE_CROSS_CHECK=N: every N-th)",
  linearizability: "concurrent: some order of the model's atomic steps, respecting real-time order, gives every recorded outcome",
  exception: "concurrent: no operation of the implementation throws",
  deadlock: "concurrent: while operations are unfinished, some actor can run",
  livelock: "concurrent: the actors finish within the harness's step bound",
};

export function listCommand(args: readonly string[]): number {
  const p = parseArgs(COMMAND, args, { "--rules": "flag", "--json": "flag" });
  if (p.positional.length > 0) throw new UsageError(COMMAND, `unexpected argument "${p.positional[0]}"`);
  const suites = SUITES.map((s) => ({ name: s.name, kind: s.kind, area: s.area, runs: s.runs, description: s.description }));
  const invariants = INVARIANTS.map((i) => ({ name: i.name, kind: i.kind, when: i.kind === "state" ? i.when : "every step", description: i.description }));
  const bugs = Object.entries(BUGS).map(([id, bug]) => ({ id, ...bug }));
  const rules = [...RULES.values()].sort((a, b) => a.id.localeCompare(b.id));
  if (p.flags.has("--json")) {
    console.log(JSON.stringify({ suites, properties: PROPERTIES, invariants, bugs, ...(p.flags.has("--rules") ? { rules } : {}) }, null, 2));
    return 0;
  }
  const section = (title: string, lines: readonly string[]): void => console.log([title, ...lines.map((l) => `  ${l}`), ""].join("\n"));
  section("suites (faultline check --suite NAME):", table(["name", "kind", "runs", "description"], suites.map((s) => [s.name, s.kind, String(s.runs), s.description]), ["left", "left", "right", "left"]).slice(1));
  section("properties:", table(["", ""], Object.entries(PROPERTIES), ["left", "left"]).slice(1));
  section("invariants:", table(["", "", ""], invariants.map((i) => [i.name, i.when, i.description]), ["left", "left", "left"]).slice(1));
  section("seeded bugs (faultline check --bugs ID):", table(["", ""], bugs.map((b) => [b.id, b.description]), ["left", "left"]).slice(1));
  if (p.flags.has("--rules")) section("rules:", rules.map((r) => `${r.id}${r.errno === undefined ? "" : ` (${r.errno})`}: ${r.text} [${r.cite}]`));
  return 0;
}
