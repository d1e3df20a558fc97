// The native helper: compiled on first use with the machine's gcc into conformance/native/build/, then spoken to
// one JSON line per operation (docs/CONFORMANCE.md).
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Op } from "../schema/ops.js";

/** conformance/native, found from this file whether it runs from source (vitest) or from dist/. */
function nativeDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, "conformance", "native");
    if (existsSync(join(candidate, "faultline-helper.c"))) return candidate;
    if (existsSync(join(dir, "native", "faultline-helper.c"))) return join(dir, "native");
    dir = resolve(dir, "..");
  }
  throw new Error("conformance/native/faultline-helper.c not found");
}

const SOURCES = ["faultline-helper.c", "uapi.h"];

/** Builds the helper if it is missing or older than its sources; returns the binary's path. */
export function buildHelper(): string {
  const dir = nativeDir();
  const out = join(dir, "build", "faultline-helper");
  const newest = Math.max(...SOURCES.map((f) => statSync(join(dir, f)).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs >= newest) return out;
  mkdirSync(join(dir, "build"), { recursive: true });
  const cc = process.env.CC ?? "gcc";
  execFileSync(cc, ["-O2", "-Wall", "-Werror", "-pthread", "-o", out, join(dir, "faultline-helper.c")], { stdio: ["ignore", "inherit", "inherit"] });
  return out;
}

/** What the helper answers: an outcome of the vocabulary, or one of its own control answers. */
export type Reply = Record<string, unknown>;

export class Helper {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  private exited = false;
  private stderr = "";

  constructor(binary = buildHelper()) {
    this.child = spawn(binary, [], { stdio: ["pipe", "pipe", "pipe"] });
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const w = this.waiting.shift();
      if (w !== undefined) w(line);
      else this.lines.push(line);
    });
    this.child.stderr.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.child.on("exit", () => {
      this.exited = true;
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ helper_error: `helper exited ${this.stderr.trim()}` }));
    });
  }

  /** Sends one line and waits for its answer. */
  async send(op: Op | Record<string, unknown>): Promise<Reply> {
    if (this.exited) return { helper_error: "helper has exited" };
    const line = await new Promise<string>((res) => {
      const ready = this.lines.shift();
      if (ready !== undefined) res(ready);
      else this.waiting.push(res);
      this.child.stdin.write(`${JSON.stringify(op)}\n`);
    });
    try {
      return JSON.parse(line) as Reply;
    } catch {
      return { helper_error: `not JSON: ${line}` };
    }
  }

  get alive(): boolean {
    return !this.exited;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((res) => this.child.on("exit", () => res()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    await done;
    clearTimeout(timer);
  }
}
