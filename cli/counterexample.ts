// Storing found counterexamples: named by suite, property and a hash of what makes the failure, never replaced.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUG_IDS } from "../impl/bugs.js";
import { stableStringify } from "../props/outcomes.js";
import { stringifyExact } from "../schema/json.js";
import { FileError } from "../schema/report.js";
import { decodeScenario, type Scenario } from "../schema/scenario.js";
import { loadScenario, writeNew } from "./files.js";

export const COUNTEREXAMPLE_DIR = "counterexamples";

/**
 * What makes two counterexamples the same failure: configuration, operations, schedule and the property at
 * its step. Name, description, provenance and a later `expectedToFail` note do not change it.
 */
export function failureIdentity(s: Scenario): string {
  const { config, steps, actors, schedule, failure } = s;
  const hash = createHash("sha256").update(stableStringify({ config, steps, actors, schedule, property: failure?.property, step: failure?.step }));
  return hash.digest("hex").slice(0, 10);
}

const slug = (text: string): string => text.replace(/[^\w.-]+/g, "_");

function sameFailure(path: string, identity: string): boolean {
  try {
    return failureIdentity(loadScenario(path)) === identity;
  } catch (e) {
    if (e instanceof FileError) return false;
    throw e;
  }
}

/**
 * Writes the counterexample unless the same failure is already stored; returns its path and whether it is new.
 * A different file under the computed name (edited by hand, or a hash collision) is kept: the new one gets a suffix.
 */
export function writeCounterexample(suite: string, scenario: Scenario, dir = COUNTEREXAMPLE_DIR): { path: string; isNew: boolean } {
  const text = counterexampleText(scenario);
  // Never store a file this build could not read back.
  decodeScenario("(counterexample being written)", text, { bugs: BUG_IDS });
  const identity = failureIdentity(scenario);
  const base = `${slug(suite)}--${slug(scenario.failure?.property ?? "failure")}--${identity}`;
  for (let n = 1; ; n++) {
    const path = join(dir, n === 1 ? `${base}.json` : `${base}-${n}.json`);
    if (!existsSync(path)) {
      try {
        return { path, isNew: writeNew(path, text) === "written" };
      } catch (e) {
        // Another shard stored the same failure (with its own provenance) a moment ago.
        if (!(e instanceof FileError) || !existsSync(path)) throw e;
      }
    }
    if (sameFailure(path, identity)) return { path, isNew: false };
  }
}

/** The file's text: integers past 2^53 written exactly, so that it reads back (schema/json.ts). */
export const counterexampleText = (scenario: Scenario): string => `${stringifyExact(scenario)}\n`;

/** Where a counterexample went: `writeError` says why it is not in the directory asked for. */
export interface Stored {
  readonly path?: string;
  readonly isNew: boolean;
  readonly writeError?: string;
}

/**
 * Writes the counterexample to `dir`, or, when that fails (a read-only directory, a file in the way), to a fresh
 * temporary directory: a found failure is never lost. The caller prints the scenario too when `writeError` is set.
 */
export function storeCounterexample(suite: string, scenario: Scenario, dir = COUNTEREXAMPLE_DIR): Stored {
  try {
    return writeCounterexample(suite, scenario, dir);
  } catch (e) {
    if (!(e instanceof FileError)) throw e;
    try {
      return { ...writeCounterexample(suite, scenario, mkdtempSync(join(tmpdir(), "faultline-counterexample-"))), writeError: e.message };
    } catch (again) {
      const why = again instanceof Error ? again.message : String(again);
      return { isNew: false, writeError: `${e.message}; nor in a temporary directory: ${why}` };
    }
  }
}
