// Another revision of faultline built beside this one, so that one bench run measures both (npm run bench --
// --baseline REV): its tree from git archive under bench/build/baseline-REV, this tree's node_modules linked in,
// compiled once with its own tsconfig, its suites imported into this process.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { SequentialSuite } from "../props/suites.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The first sequential suite of revision rev (a commit, branch or tag of this repository), built on first use. */
export async function baselineSuite(rev: string): Promise<{ commit: string; suite: SequentialSuite }> {
  const commit = execFileSync("git", ["rev-parse", "--verify", `${rev}^{commit}`], { cwd: ROOT, encoding: "utf8" }).trim();
  const dir = join(ROOT, "bench", "build", `baseline-${commit.slice(0, 12)}`);
  const built = join(dir, "dist", "props", "suites.js");
  if (!existsSync(built)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync("git", ["archive", commit], { cwd: ROOT, maxBuffer: 1 << 28 });
    execFileSync("tar", ["-x", "-C", dir], { input: tar });
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", join(dir, "tsconfig.build.json")], { cwd: dir, stdio: "inherit" });
  }
  const mod = (await import(pathToFileURL(built).href)) as { SEQUENTIAL_SUITES: readonly SequentialSuite[] };
  return { commit, suite: mod.SEQUENTIAL_SUITES[0]! };
}
