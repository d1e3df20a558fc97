// The built CLI as a user runs it: a child process, its terminal output and its exit status.
// `npm test` builds dist/ first.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../cli/files.js";
import { BUG_IDS } from "../impl/bugs.js";
import { INVARIANTS } from "../model/index.js";
import { RULES } from "../model/rules-index.js";
import { SUITES } from "../props/registry.js";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));

interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function faultline(args: readonly string[], cwd: string): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lines = (text: string): string[] => text.split("\n").filter((l) => l !== "");
const scratch = (): string => mkdtempSync(join(tmpdir(), "faultline-cli-"));

/** One line on stderr, exit status 2: the shape of every usage and file error. */
function expectOneLineError(r: Result, pattern: RegExp): void {
  expect(r.status, r.stdout + r.stderr).toBe(2);
  expect(lines(r.stderr)).toHaveLength(1);
  expect(r.stderr.trim()).toMatch(pattern);
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
});

describe("help", () => {
  for (const command of ["check", "replay", "run", "list", "conform"]) {
    it(`faultline ${command} --help`, () => {
      const r = faultline([command, "--help"], scratch());
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: faultline ${command}`));
      expect(r.stdout).toMatch(/\nexamples:\n {2}faultline /);
    });
  }

  it("faultline --help and faultline help COMMAND", () => {
    const all = faultline(["--help"], scratch());
    expect(all.status).toBe(0);
    for (const command of ["check", "replay", "run", "list", "conform"]) expect(all.stdout).toMatch(new RegExp(`\\n {2}${command} `));
    expect(all.stdout).toMatch(/exit status: 0 .* 1 .* 2 /s);
    expect(faultline(["help", "replay"], scratch()).stdout).toMatch(/^usage: faultline replay/);
  });

  it("no command prints the usage on stderr with status 2", () => {
    const r = faultline([], scratch());
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^usage: faultline <command>/);
  });
});

describe("usage errors are one line with status 2", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown command", ["chekc"], /^faultline: unknown command "chekc"; commands: check, replay, run, list, conform \(see faultline --help\)$/],
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
  for (const [what, args, pattern] of cases) it(what, () => expectOneLineError(faultline(args, scratch()), pattern));
});

describe("check", () => {
  it("prints a line per suite, the table and the invariant counts; plain text when not a terminal", () => {
    const suites = [SUITES[0]!.name, SUITES[SUITES.length - 1]!.name];
    const dir = scratch();
    const r = faultline(["check", "--suite", suites.join(","), "--runs", "12", "--seed", "5"], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/[\r\x1b]/);
    const out = lines(r.stdout);
    expect(out[0]).toBe(`faultline check: 2 suite(s), seed 5`);
    for (const s of suites) expect(out).toContainEqual(expect.stringMatching(new RegExp(`^${s}: 12 runs, \\d+ commands, [\\d.]+s, ok$`)));
    const header = out.findIndex((l) => /^suite +runs +commands +states +invariants +failures +time$/.test(l));
    expect(header).toBeGreaterThan(0);
    for (const [i, s] of suites.entries()) expect(out[header + 1 + i]).toMatch(new RegExp(`^${s} +12 +\\d+ +\\d+ +\\d+/\\d+ +0 +[\\d.]+s$`));
    expect(out[header + 3]).toMatch(/^total +24 +\d+ +0 +[\d.]+s$/);
    expect(out).toContainEqual(expect.stringMatching(/^invariant +non-vacuous +checked$/));
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

  it("an uneven split still covers every run once", () => {
    const runs = [1, 2, 3, 4].map((i) => {
      const r = faultline(["check", "--suite", SUITES[0]!.name, "--runs", "6", "--seed", "2", "--shard", `${i}/4`, "--json"], scratch());
      return (JSON.parse(r.stdout) as { suites: { runs: number }[] }).suites[0]!.runs;
    });
    expect(runs).toEqual([2, 2, 1, 1]);
  });
});

describe("from a seeded bug to a replayed counterexample", () => {
  const dir = scratch();
  const args = ["check", "--suite", "kvm-anon-x86", "--bugs", "delete-no-zap", "--seed", "1"];
  let file = "";

  it("check finds it, writes one file named by suite, property and hash, and exits 1", () => {
    const r = faultline(args, dir);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^faultline check: 1 suite\(s\), seed 1, seeded bugs: delete-no-zap$/m);
    expect(r.stdout).toMatch(/^kvm-anon-x86: \d+ runs, \d+ commands, [\d.]+s, FAILED [\w.-]+ \(run \d+\)$/m);
    const files = readdirSync(join(dir, "counterexamples"));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^kvm-anon-x86--[\w.-]+--[0-9a-f]{10}\.json$/);
    file = join("counterexamples", files[0]!);
    expect(r.stdout).toContain(`written: ${file}`);
    expect(r.stdout).toContain(`replay:  faultline replay ${file}`);
    expect(lines(r.stdout).at(-1)).toBe("1 suite(s) FAILED");
    const s = loadScenario(join(dir, file));
    expect(s.config.bugs).toEqual(["delete-no-zap"]);
    expect(s.failure).toBeDefined();
    expect(files[0]).toContain(`--${s.failure!.property}--`);
    expect(s.provenance).toMatchObject({ suite: "kvm-anon-x86", checkSeed: 1 });
  });

  it("the same failure found again is the same file, untouched", () => {
    const before = readFileSync(join(dir, file), "utf8");
    const r = faultline([...args, "--json"], dir);
    expect(r.status).toBe(1);
    const doc = JSON.parse(r.stdout) as { counterexamples: string[]; suites: { counterexample: { isNew: boolean } }[] };
    expect(doc.counterexamples).toEqual([file]);
    expect(doc.suites[0]!.counterexample.isNew).toBe(false);
    expect(readdirSync(join(dir, "counterexamples"))).toHaveLength(1);
    expect(readFileSync(join(dir, file), "utf8")).toBe(before);
  });

  it("replay prints every step, the violated property, and that it reproduces as expected", () => {
    const s = loadScenario(join(dir, file));
    const r = faultline(["replay", file], dir);
    expect(r.status, r.stderr).toBe(1);
    const out = lines(r.stdout);
    expect(out[0]).toBe(`${file}: ${s.name}`);
    expect(out).toContainEqual(`  config: x86, ${s.config.vcpus} vCPUs, seeded bugs: delete-no-zap`);
    for (const [i, op] of s.steps!.entries()) expect(out).toContainEqual(expect.stringMatching(new RegExp(`^ +${i}  ${op.op}( |$)`)));
    expect(out.filter((l) => /^ +-> /.test(l))).toHaveLength(s.steps!.length);
    expect(out).toContainEqual(expect.stringMatching(new RegExp(`-> .*<- ${s.failure!.property} violated$`)));
    expect(out).toContainEqual(`  recorded: ${s.failure!.property} at step ${s.failure!.step} (${s.steps![s.failure!.step]!.op})`);
    expect(out).toContainEqual(`  violated: ${s.failure!.property} at step ${s.failure!.step} (${s.steps![s.failure!.step]!.op}): ${s.failure!.detail}`);
    expect(out.at(-1)).toMatch(/^ {2}REPRODUCES, as expected: seeded bugs delete-no-zap are on/);
  });

  it("replay --no-bugs: the real implementation passes", () => {
    const r = faultline(["replay", "--no-bugs", file], dir);
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toContain("(switched off: --no-bugs)");
    expect(lines(r.stdout).at(-1)).toBe("  does not reproduce: every property holds");
  });

  it("a failure that now shows elsewhere fails differently", () => {
    const s = JSON.parse(readFileSync(join(dir, file), "utf8")) as { failure: { property: string } };
    s.failure.property = "some-other-property";
    writeFileSync(join(dir, "moved.json"), JSON.stringify(s));
    const r = faultline(["replay", "moved.json"], dir);
    expect(r.status).toBe(1);
    expect(lines(r.stdout).at(-1)).toMatch(/^ {2}FAILS DIFFERENTLY/);
  });

  it("a bad file among good ones: one line for it, the others still replayed, status 2", () => {
    writeFileSync(join(dir, "bad.json"), '{ "version": 1, "name": "x", "config": {}, "steps": [{ "op": "vcpu_acess" }] }');
    const r = faultline(["replay", "bad.json", "--no-bugs", file], dir);
    expectOneLineError(r, /^bad\.json: steps\[0\]\.op: unknown op "vcpu_acess"; did you mean "vcpu_access"\?$/);
    expect(r.stdout).toContain(`${file}: `);
  });
});

describe("a race: its diagram in text, SVG and HTML", () => {
  const dir = scratch();
  let file = "";

  it("check --bugs on a concurrent suite writes an actor counterexample", () => {
    const r = faultline(["check", "--suite", "race-userfault-enable", "--bugs", "userfault-enable-zap-early", "--seed", "1"], dir);
    expect(r.status, r.stderr).toBe(1);
    file = join("counterexamples", readdirSync(join(dir, "counterexamples"))[0]!);
    const s = loadScenario(join(dir, file));
    expect(s.actors).toBeDefined();
    expect(s.schedule).toBeDefined();
    expect(s.failure?.actor).toBeDefined();
  });

  it("replay prints the operations by actor, the race diagram, and writes the SVG and the HTML page", () => {
    const s = loadScenario(join(dir, file));
    const r = faultline(["replay", file, "--svg", "race.svg", "--html", "out/race.html"], dir);
    expect(r.status, r.stderr).toBe(1);
    const out = lines(r.stdout);
    for (const a of s.actors!) for (const [i, op] of a.steps.entries()) expect(out).toContainEqual(expect.stringMatching(new RegExp(`^ +${a.name}#${i}  ${op.op}( |$)`)));
    const at = out.indexOf("  race diagram:");
    expect(at).toBeGreaterThan(0);
    for (const a of s.actors!.filter((x) => x.name !== "setup")) expect(out.slice(at).some((l) => l.includes(a.name))).toBe(true);
    expect(out.slice(at)).toContainEqual(expect.stringMatching(/<-- detected$/));
    expect(out).toContain("  wrote: race.svg");
    expect(out).toContain("  wrote: out/race.html");
    expect(readFileSync(join(dir, "race.svg"), "utf8")).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^]*<\/svg>\n$/);
    expect(readFileSync(join(dir, "out/race.html"), "utf8")).toMatch(/^<!doctype html>[^]*<\/html>\n$/);
    expect(out.at(-1)).toMatch(/^ {2}REPRODUCES, as expected: seeded bugs userfault-enable-zap-early are on/);
  });

  it("the same diagram again leaves the file alone; a different file in the way is not overwritten", () => {
    expect(faultline(["replay", file, "--svg", "race.svg"], dir).stdout).toContain("  unchanged: race.svg");
    writeFileSync(join(dir, "mine.svg"), "<svg/>");
    expectOneLineError(faultline(["replay", file, "--svg", "mine.svg"], dir), /^mine\.svg: exists with different contents; not overwritten/);
    expect(readFileSync(join(dir, "mine.svg"), "utf8")).toBe("<svg/>");
  });

  it("--svg needs one concurrent file", () => {
    expectOneLineError(faultline(["replay", file, file, "--svg", "x.svg"], dir), /^faultline replay: --svg and --html draw one file's diagram: give one FILE/);
    writeFileSync(join(dir, "seq.json"), JSON.stringify({ version: 1, name: "s", config: {}, steps: [{ op: "create_vm", vm: "v0" }] }));
    expectOneLineError(faultline(["replay", "seq.json", "--svg", "x.svg"], dir), /^seq\.json: steps: a race diagram \(--svg, --html\) needs a concurrent scenario/);
    expect(existsSync(join(dir, "x.svg"))).toBe(false);
  });

  it("--no-bugs: the real implementation passes", () => {
    const r = faultline(["replay", "--no-bugs", file], dir);
    expect(r.status, r.stdout).toBe(0);
    expect(lines(r.stdout).at(-1)).toBe("  does not reproduce: every property holds");
  });
});

describe("malformed files through the CLI", () => {
  const dir = scratch();
  const cases: [string, string, RegExp][] = [
    ["not JSON", "{ version: 1 }", /^f\.json: line 1, column 3: not JSON: /],
    ["an unknown version", '{ "version": 7, "name": "x", "config": {}, "steps": [] }', /^f\.json: version: this build reads version 1, found 7$/],
    ["a missing field", '{ "version": 1, "config": {}, "steps": [] }', /^f\.json: name: expected a string, found nothing \(the field is missing\)$/],
    ["an out-of-range address", '{ "version": 1, "name": "x", "config": {}, "steps": [{ "op": "pin", "map": "m0", "offset": -1 }] }', /^f\.json: steps\[0\]\.offset: expected an unsigned 64-bit integer/],
  ];
  for (const [what, text, pattern] of cases) {
    it(`${what}: replay and run both give the line`, () => {
      writeFileSync(join(dir, "f.json"), text);
      expectOneLineError(faultline(["replay", "f.json"], dir), pattern);
      expectOneLineError(faultline(["run", "f.json"], dir), pattern);
    });
  }

  it("a file that does not exist", () => {
    expectOneLineError(faultline(["run", "nowhere.json"], dir), /^nowhere\.json: cannot read: no such file$/);
  });
});

describe("run", () => {
  const dir = scratch();
  const steps = [
    { op: "create_vm", vm: "v0" },
    { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2097152 },
    { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 4097, userspace: "m0" },
  ];
  const write = (name: string, extra: object): string => {
    writeFileSync(join(dir, name), JSON.stringify({ version: 1, name: "an unaligned memslot size", config: {}, steps, ...extra }));
    return name;
  };

  it("prints each step's outcome, the rule that decided it and the rule's kernel source", () => {
    const r = faultline(["run", write("what-if.json", {})], dir);
    expect(r.status, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe("what-if.json: an unaligned memslot size");
    expect(out).toContainEqual(expect.stringMatching(/^ +2 {2}set_memory_region vm=v0 slot=0 flags=\[\] guest_phys_addr=0x0 memory_size=0x1001 userspace=m0$/));
    const decided = out.map((l) => /^ +-> EINVAL by (\S+)$/.exec(l)?.[1]).find((id) => id !== undefined);
    expect(decided).toBeDefined();
    const rule = RULES.get(decided!)!;
    expect(rule.errno).toBe("EINVAL");
    expect(out).toContainEqual(expect.stringMatching(new RegExp(`^ +${decided!.replace(/\./g, "\\.")}: .* \\[.*\\]$`)));
    expect(r.stdout).toContain(`[${rule.cite}]`);
    expect(out.at(-1)).toBe("  3 steps, model and implementation agree");
  });

  it("a step that differs from the file's expect list is flagged, status 1", () => {
    const r = faultline(["run", write("expect.json", { expect: [{ result: "ok" }, { result: "ok" }, { result: "ok" }] })], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/-> EINVAL by \S+ +expected: ok +UNEXPECTED$/m);
    expect(lines(r.stdout).at(-1)).toBe('  1 step(s) differ from "expect"');
  });

  it("a matching expect list passes", () => {
    const r = faultline(["run", write("expect-ok.json", { expect: [{ result: "ok" }, { result: "ok" }, { errno: "EINVAL" }] })], dir);
    expect(r.status).toBe(0);
    expect(lines(r.stdout).at(-1)).toBe("  3 steps, model and implementation agree, as expected");
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
