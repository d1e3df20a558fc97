#!/usr/bin/env node
// faultline: run the property suites, replay counterexamples, run scenario files. docs/CLI.md describes it all.
import { FileError } from "../schema/scenario.js";
import { UsageError } from "./args.js";
import { HELP } from "./help.js";

type Command = (args: readonly string[]) => number | Promise<number>;

// Loaded on demand: --help and usage errors answer without loading the model, the implementation and fast-check.
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  check: async () => (await import("./check.js")).check,
  replay: async () => (await import("./replay.js")).replayCommand,
  run: async () => (await import("./run.js")).runCommand,
  list: async () => (await import("./list.js")).listCommand,
  conform: async () => (await import("./conform.js")).conformCommand,
  mutants: async () => (await import("./mutants.js")).mutantsCommand,
};

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined) {
    console.error(HELP.faultline);
    return 2;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    const topic = args[0] ?? "faultline";
    if (HELP[topic] === undefined) throw new UsageError("help", `no command "${topic}"; commands: ${Object.keys(COMMANDS).join(", ")}`);
    console.log(HELP[topic]);
    return 0;
  }
  const load = COMMANDS[command];
  if (load === undefined) throw new UsageError("faultline", `unknown command "${command}"; commands: ${Object.keys(COMMANDS).join(", ")}`);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP[command]);
    return 0;
  }
  return (await load())(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      const help = e.command === "faultline" || e.command === "help" ? "faultline --help" : `faultline ${e.command} --help`;
      const who = e.command === "faultline" ? "faultline" : `faultline ${e.command}`;
      console.error(`${who}: ${e.message} (see ${help})`);
      process.exitCode = 2;
    } else if (e instanceof FileError) {
      console.error(e.message);
      process.exitCode = 2;
    } else {
      console.error("faultline: internal error (a bug in faultline, please report it with the command line):");
      console.error(e);
      process.exitCode = 3;
    }
  },
);
