// What the documentation shows is what the CLI does: README.md's sample outputs against real runs, docs/CLI.md's
// synopsis against each command's --help and options, and the GitHub Actions workflow parsed and checked
// against the CLI it drives.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { OPTIONS as CHECK_OPTIONS } from "../cli/check.js";
import { COMMAND_NAMES } from "../cli/dispatch.js";
import { HELP } from "../cli/help.js";
import { OPTIONS as MERGE_OPTIONS } from "../cli/merge.js";
import { faultline, scratch } from "./cli-child.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");

/** `<!-- sample: faultline ARGS -->` or `<!-- file: NAME -->` and the fenced block after it, in document order. */
function marked(text: string): { kind: "sample" | "file"; what: string; body: string[] }[] {
  const re = /<!-- (sample|file): (.+?) -->\n```\w*\n([\s\S]*?)```/g;
  return [...text.matchAll(re)].map((m) => ({ kind: m[1] as "sample" | "file", what: m[2]!, body: m[3]!.replace(/\n$/, "").split("\n") }));
}

/** A sample line as a pattern: durations vary, and so does check's workers note (a busy machine); the rest is literal. */
const pattern = (line: string): RegExp =>
  new RegExp(
    `^${line
      .trimEnd()
      .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
      .replace(/\d+\\\.\ds/g, "\\d+\\.\\ds")}${line.startsWith("faultline check: ") ? "(, 1 worker, the machine being busy .*)?" : ""}$`,
  );

/**
 * Every sample line appears in the output in order; lines next to each other in the sample are next to each
 * other in the output (blank lines aside), and `...` stands for any number of lines.
 */
function expectExcerpt(sample: readonly string[], output: string): void {
  const out = output
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l !== "");
  let at = 0;
  let gap = true;
  for (const line of sample.filter((l) => l.trim() !== "")) {
    if (line === "...") {
      gap = true;
      continue;
    }
    const p = pattern(line);
    const found = gap ? out.findIndex((l, i) => i >= at && p.test(l)) : p.test(out[at] ?? "") ? at : -1;
    expect(
      found,
      `sample line ${JSON.stringify(line)} ${gap ? "is nowhere after" : "does not follow"} output line ${at}:\n${output}`,
    ).toBeGreaterThanOrEqual(0);
    at = found + 1;
    gap = false;
  }
}

/** The shell's expansion of a glob in a sample's command (only `*` in the last component). */
function expand(dir: string, arg: string): string {
  if (!arg.includes("*")) return arg;
  const slash = arg.lastIndexOf("/");
  const re = new RegExp(
    `^${arg
      .slice(slash + 1)
      .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")}$`,
  );
  const matches = readdirSync(join(dir, arg.slice(0, slash))).filter((f) => re.test(f));
  expect(matches, arg).toHaveLength(1);
  return `${arg.slice(0, slash + 1)}${matches[0]}`;
}

describe("README.md", () => {
  it("every sample output is an excerpt of the real run of its command, in the order the README gives them", () => {
    const dir = scratch();
    const blocks = marked(read("README.md"));
    expect(blocks.filter((b) => b.kind === "sample").length).toBeGreaterThanOrEqual(4);
    for (const b of blocks) {
      if (b.kind === "file") {
        writeFileSync(join(dir, b.what), `${b.body.join("\n")}\n`);
        continue;
      }
      const [cli, ...args] = b.what.split(" ");
      expect(cli).toBe("faultline");
      const r = faultline(
        args.map((a) => expand(dir, a)),
        dir,
      );
      expect(r.stderr).not.toMatch(/internal error/);
      expectExcerpt(b.body, r.stdout + r.stderr);
    }
  });
});

describe("docs/CLI.md", () => {
  const synopsis = marked(read("docs/CLI.md").replace(/<!-- synopsis: [^>]*-->/, "<!-- sample: synopsis -->"))[0]!.body;
  const squeeze = (text: string): string => text.replace(/\s+/g, " ").trim();

  it("the synopsis has each command's usage line, as its --help gives it", () => {
    for (const command of COMMAND_NAMES) {
      const usage = /^usage: (faultline [\s\S]*?)\n\n/.exec(HELP[command]!)![1]!;
      expect(synopsis.map(squeeze), command).toContain(squeeze(usage));
    }
    expect(synopsis.filter((l) => l.startsWith("faultline ") && !l.startsWith("faultline <"))).toHaveLength(COMMAND_NAMES.length);
  });

  it("the usage lines name exactly the options check and merge accept", () => {
    const options = (command: string): string[] => [...new Set(HELP[command]!.split("\n\n")[0]!.match(/--[\w-]+/g))].sort();
    expect(options("check")).toEqual(Object.keys(CHECK_OPTIONS).sort());
    expect(options("merge")).toEqual(Object.keys(MERGE_OPTIONS).sort());
  });
});

describe(".github/workflows/check.yml", () => {
  interface Step {
    readonly uses?: string;
    readonly run?: string;
    readonly if?: string;
    readonly with?: Record<string, unknown>;
    readonly "working-directory"?: string;
  }
  interface Job {
    readonly needs?: string;
    readonly if?: string;
    readonly strategy?: { readonly matrix: { readonly shard: number[] } };
    readonly steps: Step[];
  }
  const doc = parseDocument(read(".github/workflows/check.yml"), { strict: true, uniqueKeys: true, prettyErrors: true });
  const wf = doc.toJS() as { on: object; jobs: Record<string, Job> };

  it("is valid YAML, without errors or warnings", () => {
    expect(doc.errors).toEqual([]);
    expect(doc.warnings).toEqual([]);
    expect(Object.keys(wf.on)).toEqual(expect.arrayContaining(["push", "pull_request"]));
  });

  it("a matrix of N shards of one check, each keeping its report and counterexamples whatever its result", () => {
    const shard = wf.jobs.shard!;
    const n = shard.strategy!.matrix.shard.length;
    expect(shard.strategy!.matrix.shard).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const run = shard.steps.map((s) => s.run ?? "").join("\n");
    const check = /npx faultline (check .*)/.exec(run)![1]!;
    expect(check).toContain(`--shard \${{ matrix.shard }}/${n}`);
    expect(check).toContain('--seed "$seed"');
    expect(check).toMatch(/--json > report-\$\{\{ matrix\.shard \}\}\.json/);
    for (const option of check.match(/--[\w-]+/g)!) expect(Object.keys(CHECK_OPTIONS)).toContain(option);
    // Exit status 1 is left to the merge; 2 and 3 fail the job.
    expect(run).toMatch(/\|\| status=\$\?\n.*\n?\s*test "\$status" -le 1/);
    const upload = shard.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!;
    expect(upload.if).toBe("always()");
    expect(String(upload.with!.path)).toMatch(/report-\$\{\{ matrix\.shard \}\}\.json\ncounterexamples\//);
  });

  it("a merge job after every shard, failing the build through faultline merge's exit status, with JUnit XML", () => {
    const merge = wf.jobs.merge!;
    expect(merge.needs).toBe("shard");
    expect(merge.if).toBe("always()");
    const download = merge.steps.find((s) => s.uses?.startsWith("actions/download-artifact@"))!;
    expect(download.with).toMatchObject({ pattern: "faultline-shard-*", path: "shards", "merge-multiple": true });
    const step = merge.steps.find((s) => s.run?.includes("faultline merge"))!;
    expect(step["working-directory"]).toBe("shards");
    expect(step.run).toBe("npx faultline merge report-*.json --junit ../faultline-junit.xml");
    for (const option of step.run!.match(/--[\w-]+/g)!) expect(Object.keys(MERGE_OPTIONS)).toContain(option);
  });

  it("every action is pinned to a major version", () => {
    for (const job of Object.values(wf.jobs))
      for (const s of job.steps) if (s.uses !== undefined) expect(s.uses).toMatch(/^actions\/[\w-]+@v\d+$/);
  });
});
