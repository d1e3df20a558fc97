// Reading scenario files and writing any file faultline produces: atomically, and never over a different file.
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { BUG_IDS } from "../impl/bugs.js";
import { FileError, decodeScenario, type Scenario } from "../schema/scenario.js";

/** Reads, decodes and validates a scenario or counterexample file; any problem is one FileError line. */
export function loadScenario(file: string): Scenario {
  return decodeScenario(file, readText(file), { bugs: BUG_IDS });
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new FileError(file, "", `cannot read: ${systemMessage(e)}`);
  }
}

const systemMessage = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = { ENOENT: "no such file", EISDIR: "a directory, not a file", EACCES: "permission denied" };
  return (code !== undefined ? reasons[code] : undefined) ?? (e as Error).message;
};

function existingText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new FileError(path, "", `cannot read: ${systemMessage(e)}`);
  }
}

/** Replaces a generated report (benchmarks, coverage, docs) in one step: a reader sees the old file or the new one. */
export function replaceAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/**
 * Writes `text` to `path` unless the file is already there. A reader never sees half a file (temp file, then a
 * hard link, which unlike rename fails rather than replace a file that appeared meanwhile). An existing file
 * with other contents is an error, never overwritten.
 */
export function writeNew(path: string, text: string): "written" | "unchanged" {
  const existing = existingText(path);
  if (existing !== undefined) {
    if (existing === text) return "unchanged";
    throw new FileError(path, "", "exists with different contents; not overwritten (choose another name or remove it)");
  }
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { flag: "wx" });
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST" && existingText(path) !== undefined) return writeNew(path, text);
    throw new FileError(path, "", `cannot write: ${systemMessage(e)}`);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // The temp file was never created.
    }
  }
  return "written";
}
