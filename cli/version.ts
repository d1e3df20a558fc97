// This build's version, for provenance in the files it writes.
import { readFileSync } from "node:fs";

/** From package.json, two levels above dist/cli/ (and above cli/ under vitest, which runs the sources). */
function readVersion(): string {
  for (const rel of ["../../package.json", "../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "faultline" && pkg.version !== undefined) return pkg.version;
    } catch {
      // Not this layout; try the next.
    }
  }
  return "unknown";
}

export const VERSION = readVersion();
