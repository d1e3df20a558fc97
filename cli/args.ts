// Command-line options: `--name value`, `--name=value` and `--flag`; anything unknown is a usage error.

/** Wrong use of the command line: one line, exit 2. */
export class UsageError extends Error {
  constructor(
    readonly command: string,
    message: string,
  ) {
    super(message);
  }
}

export type OptionSpec = Readonly<Record<string, "value" | "flag">>;

export interface Parsed {
  readonly values: ReadonlyMap<string, string>;
  readonly flags: ReadonlySet<string>;
  readonly positional: readonly string[];
}

export function parseArgs(command: string, args: readonly string[], spec: OptionSpec): Parsed {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const kind = spec[name];
    if (kind === undefined) throw new UsageError(command, `unknown option ${name}`);
    if (values.has(name) || flags.has(name)) throw new UsageError(command, `${name} given twice`);
    if (kind === "flag") {
      if (eq >= 0) throw new UsageError(command, `${name} takes no value`);
      flags.add(name);
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value === "" || (eq < 0 && value.startsWith("--"))) throw new UsageError(command, `${name} needs a value`);
    values.set(name, value);
  }
  return { values, flags, positional };
}

export function integerOption(command: string, name: string, text: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(command, `${name}: expected an integer from ${min} to ${max}, found ${JSON.stringify(text)}`);
  return n;
}
