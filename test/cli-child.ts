// Running the built CLI as a child process, for test/cli*.test.ts. `npm test` builds dist/ first.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, vi } from "vitest";
import { runCli } from "../cli/dispatch.js";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));

export interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI; `env` adds to the environment (NODE_OPTIONS bounds its memory). A hang fails after two minutes. */
export function faultline(args: readonly string[], cwd: string, env: Readonly<Record<string, string>> = {}): Result {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  const options = { cwd, encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 1 << 28 } as const;
  const r = spawnSync(process.execPath, [CLI, ...args], options);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const lines = (text: string): string[] => text.split("\n").filter((l) => l !== "");

/** A fresh working directory: the CLI writes counterexamples/ under it. */
export const scratch = (): string => mkdtempSync(join(tmpdir(), "faultline-cli-"));

/** One line on stderr, exit status 2: the shape of every usage and file error. */
export function expectOneLineError(r: Result, pattern: RegExp): void {
  expect(r.status, r.stdout + r.stderr).toBe(2);
  expect(lines(r.stderr)).toHaveLength(1);
  expect(r.stderr.trim()).toMatch(pattern);
}

/** Runs a command line in this process (cli/dispatch.ts), capturing what it prints: for the many that fail fast. */
export async function inProcess(argv: readonly string[]): Promise<Result & { status: number }> {
  let stdout = "";
  let stderr = "";
  const out = (x: unknown): void => void (stdout += `${String(x)}\n`);
  const err = (x: unknown): void => void (stderr += `${x instanceof Error ? (x.stack ?? x.message) : String(x)}\n`);
  vi.spyOn(console, "log").mockImplementation(out);
  vi.spyOn(console, "error").mockImplementation(err);
  vi.spyOn(process.stdout, "write").mockImplementation((x) => (out(x), true));
  vi.spyOn(process.stderr, "write").mockImplementation((x) => (err(x), true));
  try {
    return { status: await runCli(argv), stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}
