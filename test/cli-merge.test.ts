// faultline merge: the --json reports of a check's shards are the unsharded check's report; reports that are not
// the shards of one check are refused with one line; --junit writes JUnit XML a CI dashboard reads.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_BUDGET } from "../props/concurrent/linearizability.js";
import { expectOneLineError, faultline, inProcess, lines, scratch } from "./cli-child.js";

const SUITES = "kvm-anon-x86,refusals-mm,race-attributes,postcopy-race";
const CHECK = ["check", "--suite", SUITES, "--runs", "8", "--seed", "5", "--workers", "1", "--json"];

/** The document without its durations, which no two runs share. */
const timeless = (text: string): string => JSON.stringify(JSON.parse(text), (k, v: unknown) => (k === "durationMs" ? 0 : v), 1);

describe("merge", () => {
  const dir = scratch();
  const shards = [1, 2, 3, 4].map((i) => {
    const r = faultline([...CHECK, "--shard", `${i}/4`], dir);
    expect(r.status, r.stderr).toBe(0);
    const file = join(dir, `shard-${i}.json`);
    writeFileSync(file, r.stdout);
    return file;
  });

  it("the merge of 4 shards is the unsharded --json report of the same seed", () => {
    const whole = faultline(CHECK, dir);
    expect(whole.status, whole.stderr).toBe(0);
    const merged = faultline(["merge", ...shards, "--json"], dir);
    expect(merged.status, merged.stderr).toBe(0);
    expect(timeless(merged.stdout)).toBe(timeless(whole.stdout));
  });

  it("prints the check's summary; the order of the files does not matter", () => {
    const r = faultline(["merge", ...[...shards].reverse()], dir);
    expect(r.status, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe("faultline merge: 4 shard(s) of the check with seed 5");
    expect(out).toContainEqual(expect.stringMatching(/^total +32 +\d+ +0 +0 +[\d.]+s$/));
    expect(out.slice(-2)).toEqual(["coverage minimums: not enforced: narrowed check (--suite, --runs)", "no failures"]);
  });

  it("a failure: the earliest failing run of any shard is the one the unsharded check stops at", () => {
    const bug = ["check", "--suite", "kvm-anon-x86", "--bugs", "delete-no-zap", "--runs", "40", "--seed", "1", "--workers", "1", "--json"];
    const failing = scratch();
    const parts = [1, 2, 3, 4].map((i) => {
      const file = join(failing, `f-${i}.json`);
      writeFileSync(file, faultline([...bug, "--shard", `${i}/4`], failing).stdout);
      return file;
    });
    const whole = JSON.parse(faultline(bug, scratch()).stdout) as {
      suites: { failure: { run: number }; counterexample: { path: string } }[];
    };
    const merged = faultline(["merge", ...parts, "--json"], failing);
    expect(merged.status).toBe(1);
    const m = JSON.parse(merged.stdout) as typeof whole;
    expect(m.suites[0]!.failure).toEqual(whole.suites[0]!.failure);
    expect(m.suites[0]!.counterexample.path).toBe(whole.suites[0]!.counterexample.path);
  });

  it("reports that are not the shards of one check: one line naming the file and the field", async () => {
    const merge = async (...files: string[]) => inProcess(["merge", ...files]);
    const edited = (i: number, edit: (doc: Record<string, unknown>) => void): string => {
      const doc = JSON.parse(readFileSync(shards[i]!, "utf8")) as Record<string, unknown>;
      edit(doc);
      const file = join(dir, `edited-${i}-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, JSON.stringify(doc));
      return file;
    };
    const others = shards.slice(1);
    const seed = edited(0, (d) => (d.seed = 6));
    expectOneLineError(
      await merge(seed, ...others),
      new RegExp(`^${others[0]}: seed: expected 6 \\(as in ${seed}\\), found 5: not a shard of the same check$`),
    );
    expectOneLineError(await merge(...shards, shards[1]!), new RegExp(`^${shards[1]}: shard: shard 2/4 is also ${shards[1]}$`));
    expectOneLineError(await merge(...shards.slice(0, 3)), /^faultline merge: shard\(s\) 4\/4 missing: give the reports of all 4 shards/);
    expectOneLineError(
      await merge(
        edited(0, (d) => (d.shard = null)),
        ...others,
      ),
      /: shard: expected the report of one shard/,
    );
    expectOneLineError(
      await merge(
        edited(0, (d) => (d.faultline = "0.0.1")),
        ...others,
      ),
      /: faultline: expected \S+ \(this build\), found "0\.0\.1"$/,
    );
    expectOneLineError(
      await merge(
        edited(0, (d) => (d.bugs = ["delete-no-zap"])),
        ...others,
      ),
      /: bugs: expected \["delete-no-zap"\] .*found \[\]/,
    );
    expectOneLineError(
      await merge(
        edited(0, (d) => (d.searchBudget = 3)),
        ...others,
      ),
      new RegExp(`^${others[0]}: searchBudget: expected 3 \\(as in .*\\), found ${DEFAULT_BUDGET}: not a shard of the same check$`),
    );
    expectOneLineError(
      await merge(
        edited(2, (d) => delete (d.suites as Record<string, unknown>[])[1]!.states),
        shards[0]!,
        shards[1]!,
        shards[3]!,
      ),
      /: suites\[1\]\.states: expected the encoded distinct states/,
    );
    expectOneLineError(
      await merge(
        edited(0, (d) => ((d.suites as Record<string, unknown>[])[0]!.runs = -1)),
        ...others,
      ),
      /: suites\[0\]\.runs: expected an integer from 0 to \d+, found -1$/,
    );
    const cut = join(dir, "cut.json");
    writeFileSync(cut, readFileSync(shards[0]!, "utf8").slice(0, 500));
    expectOneLineError(await merge(cut, ...others), /^.*cut\.json: line \d+, column \d+: not JSON: /);
    expectOneLineError(await merge(), /^faultline merge: give the --json reports of every shard of a check/);
  });

  it("minimums are enforced on the union of a full check's shards", () => {
    // The shards of a full default check, as far as the report says: the small check above cannot meet them.
    const full = shards.map((_, i) => {
      const doc = JSON.parse(readFileSync(shards[i]!, "utf8")) as Record<string, unknown>;
      const file = join(dir, `full-${i}.json`);
      writeFileSync(file, JSON.stringify({ ...doc, narrowed: ["--shard"], runs: null }));
      return file;
    });
    const r = faultline(["merge", ...full], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/\ncoverage minimums NOT met:\n {2}invariant memslots-disjoint: non-vacuous \d+ times, minimum \d+\n/);
    expect(lines(r.stdout).at(-1)).toBe("no failures, but coverage minimums not met");
  });
});

describe("--junit", () => {
  const parse = (text: string): Record<string, unknown> => {
    expect(XMLValidator.validate(text)).toBe(true);
    return new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: "@",
      isArray: (name) => name === "testcase" || name === "property",
    }).parse(text) as Record<string, unknown>;
  };
  type Case = {
    "@name": string;
    "@classname": string;
    failure?: { "@message": string; "#text": string };
    skipped?: { "@message": string };
  };
  type Doc = { testsuites: { "@tests": string; "@failures": string; testsuite: { "@name": string; "@tests": string; testcase: Case[] } } };

  it("check writes JUnit XML: a test case per suite, the failure naming the counterexample and its replay", () => {
    const dir = scratch();
    const r = faultline(
      [
        "check",
        "--suite",
        "kvm-anon-x86,refusals-mm",
        "--bugs",
        "delete-no-zap",
        "--seed",
        "1",
        "--runs",
        "40",
        "--workers",
        "1",
        "--junit",
        "out/junit.xml",
      ],
      dir,
    );
    expect(r.status, r.stderr).toBe(1);
    const doc = parse(readFileSync(join(dir, "out", "junit.xml"), "utf8")) as unknown as Doc;
    const suite = doc.testsuites.testsuite;
    expect(suite["@name"]).toBe("faultline check --seed 1");
    expect(suite.testcase.map((c) => c["@name"])).toEqual(["kvm-anon-x86", "refusals-mm", "coverage minimums"]);
    expect(doc.testsuites["@failures"]).toBe("1");
    const failed = suite.testcase[0]!.failure!;
    const path = /written: (\S+)/.exec(r.stdout)![1]!;
    expect(failed["@message"]).toContain(`counterexample: ${path}; replay: faultline replay ${path}`);
    expect(failed["#text"]).toContain(`replay: faultline replay ${path}`);
    expect(suite.testcase[1]!.failure).toBeUndefined();
    expect(suite.testcase[2]!.skipped!["@message"]).toBe("not enforced: narrowed check (--suite, --runs, --bugs)");
  });

  it("merge writes it too; an unwritable --junit path is refused before anything runs", () => {
    const dir = scratch();
    const parts = [1, 2].map((i) => {
      const file = join(dir, `p${i}.json`);
      writeFileSync(
        file,
        faultline(["check", "--suite", "refusals-mm", "--runs", "4", "--seed", "2", "--shard", `${i}/2`, "--json", "--workers", "1"], dir)
          .stdout,
      );
      return file;
    });
    expect(faultline(["merge", ...parts, "--junit", "merged.xml"], dir).status).toBe(0);
    const doc = parse(readFileSync(join(dir, "merged.xml"), "utf8")) as unknown as Doc;
    expect(doc.testsuites.testsuite.testcase.map((c) => c["@name"])).toEqual(["refusals-mm", "coverage minimums"]);
    writeFileSync(join(dir, "plain"), "");
    expectOneLineError(
      faultline(["check", "--junit", "plain/x.xml"], dir),
      /^faultline check: --junit: cannot write "plain\/x\.xml": plain is not a writable directory/,
    );
  });
});
