// Writing found counterexamples: replayable with no seed, named by suite, property and content hash, atomic.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FoundFailure } from "../props/run.js";
import type { SequentialSuite } from "../props/suites.js";
import { configToInput } from "../schema/config.js";
import type { Scenario } from "../schema/scenario.js";

export const COUNTEREXAMPLE_DIR = "counterexamples";

/** Writes text to path through a temporary file and a rename, so a reader never sees half a file. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { flag: "wx" });
  renameSync(tmp, path);
}

export function counterexampleOf(suite: SequentialSuite, f: FoundFailure, bugs: readonly string[]): Scenario {
  return {
    version: 1,
    name: `${suite.name}: ${f.failure.property}`,
    description: f.failure.detail,
    config: configToInput({ ...suite.config, bugs }),
    steps: [...f.ops],
    failure: { property: f.failure.property, step: f.failure.step, expected: f.failure.expected, actual: f.failure.actual, detail: f.failure.detail },
    provenance: {
      suite: suite.name,
      seed: f.seed,
      ...(f.path === undefined ? {} : { path: f.path }),
      ...(f.replayPath === undefined ? {} : { replayPath: f.replayPath }),
    },
  };
}

/** Stores the counterexample; the same failure found twice is one file, an existing different file is kept. */
export function writeCounterexample(suite: SequentialSuite, f: FoundFailure, bugs: readonly string[] = suite.config.bugs, dir = COUNTEREXAMPLE_DIR): string {
  const scenario = counterexampleOf(suite, f, bugs);
  const body = { ...scenario, provenance: undefined };
  const hash = createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 10);
  const name = `${suite.name}--${f.failure.property.replace(/[^\w.-]/g, "_")}--${hash}.json`;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  const text = `${JSON.stringify(scenario, null, 2)}\n`;
  if (existsSync(path) && readFileSync(path, "utf8") !== text) return path;
  if (!existsSync(path)) writeAtomic(path, text);
  return path;
}
