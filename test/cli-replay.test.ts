// The built CLI from a seeded bug to a replayed counterexample (sequential and race, with its diagram), and
// scenario files through run; malformed files as the CLI reports them.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { loadScenario } from "../cli/files.js";
import { RULES } from "../model/rules-index.js";
import { expectOneLineError, faultline, lines, scratch } from "./cli-child.js";

describe("from a seeded bug to a replayed counterexample", () => {
  const dir = scratch();
  const args = ["check", "--suite", "kvm-anon-x86", "--bugs", "delete-no-zap", "--seed", "1"];
  let file = "";

  it("check finds it, writes one file named by suite, property and hash, and exits 1", () => {
    const r = faultline(args, dir);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^faultline check: 1 suite\(s\), seed 1, seeded bugs: delete-no-zap(, 1 worker, the machine being busy .*)?$/m);
    expect(r.stdout).toMatch(/^kvm-anon-x86: \d+ runs, \d+ commands, [\d.]+s, FAILED [\w.-]+ \(run \d+\)$/m);
    const files = readdirSync(join(dir, "counterexamples"));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^kvm-anon-x86--[\w.-]+--[0-9a-f]{10}\.json$/);
    file = join("counterexamples", files[0]!);
    expect(r.stdout).toContain(`written: ${file}`);
    expect(r.stdout).toContain(`replay:  faultline replay ${file}`);
    // The failure and its replay command come last, after one line on the minimums a narrowed check skips.
    const tail = lines(r.stdout).slice(-5);
    expect(tail).toEqual([
      "coverage minimums: not enforced: narrowed check (--suite, --bugs)",
      "1 suite(s) FAILED",
      expect.stringMatching(/^ {2}kvm-anon-x86: [\w.-]+ failed at step \d+: /),
      `    written: ${file}`,
      `    replay:  faultline replay ${file}`,
    ]);
    expect(r.stdout).not.toMatch(/UNMET|NOT met/);
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

  it("a counterexamples/ that is a file: cannot write, written to a temporary directory, printed in full on stderr", () => {
    const elsewhere = scratch();
    writeFileSync(join(elsewhere, "counterexamples"), "in the way\n");
    const r = faultline(args, elsewhere);
    expect(r.status, r.stderr).toBe(1);
    expect(readFileSync(join(elsewhere, "counterexamples"), "utf8")).toBe("in the way\n");
    const tmp = /^ {4}written instead: (\S+)$/m.exec(r.stdout)![1]!;
    expect(r.stdout).toMatch(/^ {4}counterexamples\/kvm-anon-x86--\S+\.json: cannot write: counterexamples is not a directory$/m);
    expect(lines(r.stdout).at(-1)).toBe(`    replay:  faultline replay ${tmp}`);
    const [head, ...scenario] = r.stderr.split("\n");
    expect(head).toBe(`faultline check: counterexamples/${basename(tmp)}: cannot write: counterexamples is not a directory; written instead to ${tmp}; the counterexample:`);
    expect(scenario.join("\n")).toBe(readFileSync(tmp, "utf8"));
    expect(readFileSync(tmp, "utf8")).toBe(readFileSync(join(dir, file), "utf8"));
  });

  it("a read-only counterexamples/: cannot write, with the reason, and the file in a temporary directory", () => {
    const elsewhere = scratch();
    const ce = join(elsewhere, "counterexamples");
    mkdirSync(ce);
    // Root ignores permission bits: an immutable directory (ext4's chattr +i) refuses root too.
    const readOnly = (on: boolean): void => {
      if (process.getuid?.() === 0) execFileSync("chattr", [on ? "+i" : "-i", ce]);
      else chmodSync(ce, on ? 0o555 : 0o755);
    };
    readOnly(true);
    try {
      const r = faultline(args, elsewhere);
      expect(r.status, r.stderr).toBe(1);
      expect(readdirSync(ce)).toEqual([]);
      expect(r.stdout).toMatch(/^ {4}counterexamples\/kvm-anon-x86--\S+\.json: cannot write: (operation not permitted|permission denied)$/m);
      const tmp = /^ {4}written instead: (\S+)$/m.exec(r.stdout)![1]!;
      expect(readFileSync(tmp, "utf8")).toBe(readFileSync(join(dir, file), "utf8"));
      expect(r.stderr).toContain(readFileSync(tmp, "utf8"));
    } finally {
      readOnly(false);
    }
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
    expect(XMLValidator.validate(readFileSync(join(dir, "race.svg"), "utf8"))).toBe(true);
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

