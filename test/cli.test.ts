// The built CLI as a user runs it: a child process, its terminal output and its exit status. Help, usage
// errors, check and list; test/cli-replay.test.ts follows a counterexample from check to replay.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUG_IDS } from "../impl/bugs.js";
import { INVARIANTS } from "../model/index.js";
import { RULES } from "../model/rules-index.js";
import { SUITES } from "../props/registry.js";
import { COMMAND_NAMES } from "../cli/dispatch.js";
import { expectOneLineError, faultline, inProcess, lines, scratch } from "./cli-child.js";

// Help and usage errors run in-process (cli/dispatch.ts): a child process each would cost a second of start-up.
// The built binary answers the first of each kind.
describe("help", () => {
  for (const command of COMMAND_NAMES) {
    it(`faultline ${command} --help: usage, examples, and its own exit statuses, 3 included`, async () => {
      const r = command === "check" ? faultline([command, "--help"], scratch()) : await inProcess([command, "--help"]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: faultline ${command}`));
      expect(r.stdout).toMatch(/\nexamples:\n {2}faultline /);
      expect(r.stdout).toMatch(/\nexit status:\n {2}0 {2}\S.*\n( {2}1 {2}\S.*\n)? {2}2 {2}a usage.*\n {2}3 {2}an internal error: a bug in faultline .*\n$/);
    });
  }

  it("each command's statuses are its own", async () => {
    const status1 = async (command: string): Promise<string | undefined> => /\n {2}1 {2}(.*)\n/.exec((await inProcess([command, "--help"])).stdout)?.[1];
    expect(await status1("list")).toBeUndefined();
    expect(await status1("run")).toMatch(/disagreement/);
    expect(await status1("replay")).toMatch(/reproduces/);
    expect(await status1("mutants")).toMatch(/missed/);
  });

  it("faultline --help and faultline help COMMAND", async () => {
    const all = await inProcess(["--help"]);
    expect(all.status).toBe(0);
    for (const command of COMMAND_NAMES) expect(all.stdout).toMatch(new RegExp(`\\n {2}${command} `));
    expect(all.stdout).toMatch(/exit status: .*2 is always a usage or file error, 3 an internal error/s);
    expect((await inProcess(["help", "replay"])).stdout).toMatch(/^usage: faultline replay/);
  });

  it("no command prints the usage on stderr with status 2", () => {
    const r = faultline([], scratch());
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^usage: faultline <command>/);
  });
});

describe("usage errors are one line with status 2", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown command", ["chekc"], /^faultline: unknown command "chekc"; commands: check, replay, run, list, merge, conform, mutants, prove \(see faultline --help\)$/],
    ["an unknown option", ["check", "--frobnicate"], /^faultline check: unknown option --frobnicate \(see faultline check --help\)$/],
    ["a missing value", ["check", "--runs"], /^faultline check: --runs needs a value/],
    ["a bad number", ["check", "--runs", "0"], /^faultline check: --runs: expected an integer from 1 to \d+, found "0"/],
    ["a stray argument", ["check", "extra"], /^faultline check: unexpected argument "extra"/],
    ["an unknown suite", ["check", "--suite", "kvm-anon"], new RegExp(`^faultline check: --suite: unknown suite "kvm-anon"; .*known: ${SUITES.map((s) => s.name).join(", ")}`)],
    ["an unknown seeded bug", ["check", "--bugs", "delete-no-zap,nope"], new RegExp(`^faultline check: --bugs: unknown seeded bug "nope"; known: ${BUG_IDS.join(", ")} `)],
    ["a shard without a seed", ["check", "--shard", "1/2"], /^faultline check: --shard needs --seed/],
    ["a shard out of range", ["check", "--seed", "1", "--shard", "3/2"], /^faultline check: --shard: expected i\/n with 1 <= i <= n, found "3\/2"/],
    ["an option twice", ["check", "--seed", "1", "--seed", "2"], /^faultline check: --seed given twice/],
    ["replay without files", ["replay"], /^faultline replay: give at least one counterexample file/],
    ["run without files", ["run"], /^faultline run: give at least one scenario file/],
  ];
  for (const [what, args, pattern] of cases) {
    it(what, async () => expectOneLineError(what === "an unknown command" ? faultline(args, scratch()) : await inProcess(args), pattern));
  }
});

describe("check", () => {
  it("prints a line per suite, the table and the invariant counts; plain text when not a terminal", () => {
    const suites = [SUITES[0]!.name, SUITES[SUITES.length - 1]!.name];
    const dir = scratch();
    const r = faultline(["check", "--suite", suites.join(","), "--runs", "12", "--seed", "5"], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/[\r\x1b]/);
    const out = lines(r.stdout);
    // A busy machine adds why it runs one worker (cli/check.ts workersOf).
    expect(out[0]).toMatch(/^faultline check: 2 suite\(s\), seed 5(, 1 worker, the machine being busy .*)?$/);
    for (const s of suites) expect(out).toContainEqual(expect.stringMatching(new RegExp(`^${s}: 12 runs, \\d+ commands, [\\d.]+s, ok$`)));
    const header = out.findIndex((l) => /^suite +runs +commands +states +invariants +failures +undecided +time$/.test(l));
    expect(header).toBeGreaterThan(0);
    for (const [i, s] of suites.entries()) expect(out[header + 1 + i]).toMatch(new RegExp(`^${s} +12 +\\d+ +\\d+ +\\d+/\\d+ +0 +0 +[\\d.]+s$`));
    expect(out[header + 3]).toMatch(/^total +24 +\d+ +0 +0 +[\d.]+s$/);
    expect(out).toContainEqual(expect.stringMatching(/^invariant +non-vacuous +checked$/));
    expect(out.at(-2)).toBe("coverage minimums: not enforced: narrowed check (--suite, --runs)");
    for (const inv of INVARIANTS) expect(out).toContainEqual(expect.stringMatching(new RegExp(`^${inv.name} +\\d+ +\\d+`)));
    expect(out[out.length - 1]).toBe("no failures");
    expect(existsSync(join(dir, "counterexamples"))).toBe(false);
  });

  it("--json: one document, progress on stderr; shards split the runs exactly and replay byte for byte", () => {
    const suite = SUITES[0]!.name;
    const run = (...extra: string[]) => {
      const r = faultline(["check", "--suite", suite, "--runs", "15", "--seed", "11", "--json", ...extra], scratch());
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`^faultline check: 1 suite\\(s\\), seed 11`));
      return JSON.parse(r.stdout) as { seed: number; shard: unknown; suites: { suite: string; runs: number; commands: number; rules: object; invariants: object; durationMs: number }[] };
    };
    const whole = run();
    expect(whole.seed).toBe(11);
    expect(whole.shard).toBeNull();
    expect(whole.suites[0]).toMatchObject({ suite, runs: 15, plannedRuns: 15, failure: null, counterexample: null, interrupted: false });
    expect(Object.keys(whole.suites[0]!.rules).length).toBeGreaterThan(0);
    expect(Object.keys(whole.suites[0]!.invariants).sort()).toEqual(INVARIANTS.map((i) => i.name).sort());
    const shards = [1, 2, 3].map((i) => run("--shard", `${i}/3`));
    expect(shards.map((s) => s.suites[0]!.runs)).toEqual([5, 5, 5]);
    expect(shards.reduce((n, s) => n + s.suites[0]!.commands, 0)).toBe(whole.suites[0]!.commands);
    const timeless = (doc: object): string => JSON.stringify(doc, (k, v: unknown) => (k === "durationMs" ? 0 : v));
    expect(timeless(run("--shard", "2/3"))).toBe(timeless(shards[1]!));
  });

  it("--time-budget stops starting runs: the suite is marked interrupted, which is no failure", () => {
    const r = faultline(["check", "--suite", SUITES[0]!.name, "--runs", "100000", "--seed", "4", "--time-budget", "1", "--json"], scratch());
    expect(r.status, r.stderr).toBe(0);
    const suite = (JSON.parse(r.stdout) as { suites: { runs: number; plannedRuns: number; interrupted: boolean }[] }).suites[0]!;
    expect(suite.interrupted).toBe(true);
    expect(suite.runs).toBeGreaterThan(0);
    expect(suite.runs).toBeLessThan(suite.plannedRuns);
    expect(r.stderr).toMatch(/: \d+ runs, \d+ commands, [\d.]+s, interrupted \(time budget\)$/m);
  });

  it("an uneven split still covers every run once", () => {
    const runs = [1, 2, 3, 4].map((i) => {
      const r = faultline(["check", "--suite", SUITES[0]!.name, "--runs", "6", "--seed", "2", "--shard", `${i}/4`, "--json"], scratch());
      return (JSON.parse(r.stdout) as { suites: { runs: number }[] }).suites[0]!.runs;
    });
    expect(runs).toEqual([2, 2, 1, 1]);
  });
});

describe("list", () => {
  it("names every suite, invariant and seeded bug", () => {
    const r = faultline(["list"], scratch());
    expect(r.status).toBe(0);
    for (const s of SUITES) expect(r.stdout).toMatch(new RegExp(`^ {2}${s.name} +${s.kind} +${s.runs} +\\S`, "m"));
    for (const i of INVARIANTS) expect(r.stdout).toMatch(new RegExp(`^ {2}${i.name} +\\S`, "m"));
    for (const b of BUG_IDS) expect(r.stdout).toMatch(new RegExp(`^ {2}${b} +\\S`, "m"));
    expect(r.stdout).toMatch(/^ {2}refinement\.outcome +\S/m);
  });

  it("--rules --json: every rule of the model with its source", () => {
    const r = faultline(["list", "--rules", "--json"], scratch());
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { rules: { id: string; cite: string }[]; suites: unknown[] };
    expect(doc.rules.map((x) => x.id).sort()).toEqual([...RULES.keys()].sort());
    expect(doc.suites).toHaveLength(SUITES.length);
  });
});
