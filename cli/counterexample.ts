// Writing found counterexamples: named by suite, property and content hash, written atomically.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Scenario } from "../schema/scenario.js";

export const COUNTEREXAMPLE_DIR = "counterexamples";

/** Writes text to path through a temporary file and a rename, so a reader never sees half a file. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { flag: "wx" });
  renameSync(tmp, path);
}

/** Stores the counterexample; the same failure found twice is one file, an existing file is never replaced. */
export function writeCounterexample(suite: string, scenario: Scenario, dir = COUNTEREXAMPLE_DIR): string {
  const { provenance: _provenance, ...body } = scenario;
  const hash = createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 10);
  const property = scenario.failure?.property ?? "failure";
  const path = join(dir, `${suite}--${property.replace(/[^\w.-]/g, "_")}--${hash}.json`);
  mkdirSync(dir, { recursive: true });
  if (!existsSync(path)) writeAtomic(path, `${JSON.stringify(scenario, null, 2)}\n`);
  return path;
}
