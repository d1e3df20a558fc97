// The faultline command line: which command runs, and how any error ends (docs/CLI.md, exit status). Apart from
// cli/main.ts so that tests can run a command line in-process.
import { FileError, printable } from "../schema/report.js";
import { UsageError } from "./args.js";
import { HELP } from "./help.js";

type Command = (args: readonly string[]) => number | Promise<number>;

// Loaded on demand: --help and usage errors answer without loading the model, the implementation and fast-check.
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  check: async () => (await import("./check.js")).check,
  replay: async () => (await import("./replay.js")).replayCommand,
  run: async () => (await import("./run.js")).runCommand,
  list: async () => (await import("./list.js")).listCommand,
  merge: async () => (await import("./merge.js")).mergeCommand,
  conform: async () => (await import("./conform.js")).conformCommand,
  mutants: async () => (await import("./mutants.js")).mutantsCommand,
  prove: async () => (await import("./prove.js")).proveCommand,
};

export const COMMAND_NAMES = Object.keys(COMMANDS);

async function dispatch(argv: readonly string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined) {
    console.error(HELP.faultline);
    return 2;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    const topic = args[0] ?? "faultline";
    if (!Object.hasOwn(HELP, topic)) throw new UsageError("help", `no command "${topic}"; commands: ${COMMAND_NAMES.join(", ")}`);
    console.log(HELP[topic]);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (load === undefined) throw new UsageError("faultline", `unknown command "${command}"; commands: ${COMMAND_NAMES.join(", ")}`);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP[command]);
    return 0;
  }
  return (await load())(args);
}

/**
 * Runs a command line and returns its exit status: a usage or file error is one line on stderr (2), anything
 * else thrown is a bug in faultline, reported with its stack (3).
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      const help = e.command === "faultline" || e.command === "help" ? "faultline --help" : `faultline ${e.command} --help`;
      const who = e.command === "faultline" ? "faultline" : `faultline ${e.command}`;
      console.error(printable(`${who}: ${e.message} (see ${help})`));
      return 2;
    }
    if (e instanceof FileError) {
      console.error(e.message);
      return 2;
    }
    console.error("faultline: internal error (a bug in faultline, please report it with the command line):");
    console.error(e);
    return 3;
  }
}
