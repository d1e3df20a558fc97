// Every kind of malformed scenario or counterexample file gets one line naming the file, the JSON path of the
// bad field, what was expected and what was found.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenario } from "../cli/files.js";
import { BUG_IDS } from "../impl/bugs.js";
import { FileError } from "../schema/report.js";
import { decodeScenario } from "../schema/scenario.js";

const FILE = "dir/scenario.json";

type Json = Record<string, unknown>;

const sequential = (): Json => ({
  version: 1,
  name: "a small sequential scenario",
  config: { preset: "default", bugs: [] },
  steps: [
    { op: "create_vm", vm: "v0", type: 1 },
    { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4194304 },
    { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 2097152, userspace: "m0" },
    { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "write", byte: 7 },
  ],
  expect: [{ result: "ok" }, { result: "ok" }],
  failure: { property: "writes-stick", step: 3, expected: "holds", actual: "violated" },
});

const concurrent = (): Json => ({
  version: 1,
  name: "a small concurrent scenario",
  config: {},
  actors: [
    { name: "a0", steps: [{ op: "create_vm", vm: "v0" }] },
    { name: "a1", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 1, gpa: 0, kind: "read" }] },
  ],
  schedule: [0, 1, 0],
});

/** Decodes `text` and returns the error, asserting the one-line shape every file error has. */
function problem(text: string): FileError {
  try {
    decodeScenario(FILE, text, { bugs: BUG_IDS });
  } catch (e) {
    expect(e).toBeInstanceOf(FileError);
    const err = e as FileError;
    expect(err.file).toBe(FILE);
    expect(err.message.startsWith(`${FILE}: `)).toBe(true);
    expect(err.message).not.toMatch(/[\r\n]/);
    return err;
  }
  throw new Error(`no error for ${text.slice(0, 200)}`);
}

/** The error for `base` changed by `edit`. */
function problemWith(base: () => Json, edit: (s: Json & { steps: Json[]; actors: Json[] }) => void): FileError {
  const s = base() as Json & { steps: Json[]; actors: Json[] };
  edit(s);
  return problem(JSON.stringify(s, null, 2));
}

describe("well-formed files decode", () => {
  it("a sequential and a concurrent scenario", () => {
    expect(decodeScenario(FILE, JSON.stringify(sequential()), { bugs: BUG_IDS }).steps).toHaveLength(4);
    expect(decodeScenario(FILE, JSON.stringify(concurrent()), { bugs: BUG_IDS }).actors).toHaveLength(2);
  });
});

describe("not JSON", () => {
  it("a syntax error names the line and column", () => {
    const e = problem('{\n  "version": 1,\n  "name": "x",\n}\n');
    expect(e.path).toBe("line 4, column 1");
    expect(e.problem).toMatch(/^not JSON: /);
  });

  it("an empty file", () => {
    expect(problem("").problem).toBe("not JSON: the file is empty");
  });

  it("a quoted snippet of a multi-line file stays on one line", () => {
    expect(problem("{\n\n oops\n\n}").problem).toMatch(/^not JSON/);
  });

  it("JSON that is not an object", () => {
    expect(problem("[1, 2]").problem).toBe("expected a scenario object, found an array");
    expect(problem("null").problem).toBe("expected a scenario object, found null");
  });
});

describe("version", () => {
  it("an unknown future version says which versions this build reads", () => {
    const e = problemWith(sequential, (s) => (s.version = 2));
    expect(e.path).toBe("version");
    expect(e.problem).toBe("this build reads version 1, found 2");
  });

  it("a version of the wrong type", () => {
    expect(problemWith(sequential, (s) => (s.version = "1")).problem).toBe('this build reads version 1, found "1"');
  });

  it("a missing version", () => {
    const e = problemWith(sequential, (s) => delete s.version);
    expect(e.path).toBe("version");
    expect(e.problem).toMatch(/^missing; this build reads version 1/);
  });
});

describe("wrong types", () => {
  const cases: [string, (s: Json & { steps: Json[] }) => void, string, RegExp][] = [
    ["name", (s) => (s.name = 7), "name", /^expected a string, found 7$/],
    ["a number as a string", (s) => (s.steps[2]!.slot = "0"), "steps[2].slot", /^expected an integer from 0 to 4294967295, found "0"$/],
    ["flags not an array", (s) => (s.steps[2]!.flags = "USERFAULT"), "steps[2].flags", /^expected an array of .*USERFAULT.*, found "USERFAULT"$/],
    ["a flag not in the vocabulary", (s) => (s.steps[2]!.flags = ["USERFAULTS"]), "steps[2].flags[0]", /^expected one of "LOG_DIRTY_PAGES", .*found "USERFAULTS"$/],
    ["an access kind", (s) => (s.steps[3]!.kind = "wrte"), "steps[3].kind", /^expected one of "read", "write", "exec", found "wrte"$/],
    ["a union: map id or null", (s) => (s.steps[2]!.userspace = 5), "steps[2].userspace", /^expected a map id "m0" \.\. "m63" or null, found 5$/],
    ["a step that is not an object", (s) => ((s.steps as unknown[])[1] = 7), "steps[1]", /^expected an object \(operation\), found 7$/],
    ["config not an object", (s) => (s.config = []), "config", /^expected an object \(config\), found \[\]$/],
    ["config vcpus", (s) => ((s.config as Json).vcpus = 0), "config.vcpus", /^expected an integer from 1 to 64, found 0$/],
    ["config arch", (s) => ((s.config as Json).arch = "riscv"), "config.arch", /^expected one of "x86", "arm64", found "riscv"$/],
    ["an outcome's errno", (s) => ((s.expect as Json[])[1] = { errno: "EFOO" }), "expect[1].errno", /^expected one of "EPERM", .*found "EFOO"$/],
    ["an outcome's result", (s) => ((s.expect as Json[])[0] = { result: "okay" }), "expect[0].result", /^unknown result "okay"; did you mean "ok"\?$/],
    ["failure.step", (s) => ((s.failure as Json).step = -1), "failure.step", /^expected an integer from 0 to .*, found -1$/],
  ];
  for (const [what, edit, path, message] of cases) {
    it(what, () => {
      const e = problemWith(sequential, edit);
      expect(e.path).toBe(path);
      expect(e.problem).toMatch(message);
    });
  }
});

describe("missing fields", () => {
  it("a required field of the scenario", () => {
    const e = problemWith(sequential, (s) => delete s.name);
    expect(e.path).toBe("name");
    expect(e.problem).toBe("expected a string, found nothing (the field is missing)");
  });

  it("a required field of an operation", () => {
    const e = problemWith(sequential, (s) => delete s.steps[2]!.memory_size);
    expect(e.path).toBe("steps[2].memory_size");
    expect(e.problem).toMatch(/^expected an unsigned 64-bit integer.*, found nothing \(the field is missing\)$/);
  });

  it("an operation without op", () => {
    const e = problemWith(sequential, (s) => delete s.steps[0]!.op);
    expect(e.path).toBe("steps[0].op");
    expect(e.problem).toMatch(/^missing op; expected one of create_vm, /);
  });

  it("the failure's property", () => {
    expect(problemWith(sequential, (s) => delete (s.failure as Json).property).path).toBe("failure.property");
  });

  it("config", () => {
    expect(problemWith(sequential, (s) => delete s.config).path).toBe("config");
  });
});

describe("unknown keys are errors, not dropped", () => {
  const cases: [string, (s: Json & { steps: Json[] }) => void, string, RegExp][] = [
    ["at the top level", (s) => (s.seed = 1), "seed", /^unknown key "seed"; scenario takes version, name, config, /],
    ["in an operation, with a suggestion", (s) => (s.steps[3]!.gpaa = 1), "steps[3].gpaa", /^unknown key "gpaa"; did you mean "gpa"\? vcpu_access takes op, vm, vcpu, gpa, kind/],
    ["in config", (s) => ((s.config as Json).vcpu = 2), "config.vcpu", /^unknown key "vcpu"; did you mean "vcpus"\?/],
    ["in the failure", (s) => ((s.failure as Json).why = "x"), "failure.why", /^unknown key "why"; failure takes property, step, /],
    ["with a key that is not an identifier", (s) => (s.steps[0]!["my key"] = 1), 'steps[0]["my key"]', /^unknown key "my key"/],
  ];
  for (const [what, edit, path, message] of cases) {
    it(what, () => {
      const e = problemWith(sequential, edit);
      expect(e.path).toBe(path);
      expect(e.problem).toMatch(message);
    });
  }
});

describe("unknown operations", () => {
  it("a misspelt op gets a suggestion", () => {
    const e = problemWith(sequential, (s) => (s.steps[3]!.op = "vcpu_acess"));
    expect(e.path).toBe("steps[3].op");
    expect(e.problem).toBe('unknown op "vcpu_acess"; did you mean "vcpu_access"?');
  });

  it("an op far from any lists them all", () => {
    const e = problemWith(sequential, (s) => (s.steps[0]!.op = "frobnicate"));
    expect(e.problem).toMatch(/^unknown op "frobnicate"; expected one of create_vm, .*vcpu_access.*close$/);
  });

  it("inside an actor's steps", () => {
    const e = problemWith(concurrent, (s) => (s.actors[1]!.steps as Json[]).push({ op: "ioctl" }));
    expect(e.path).toBe("actors[1].steps[1].op");
  });
});

describe("out-of-range addresses and values", () => {
  const U64 = /^expected an unsigned 64-bit integer held exactly .*, found /;
  const cases: [string, (s: Json & { steps: Json[]; actors: Json[] }) => void, string, RegExp][] = [
    ["a negative gpa", (s) => (s.steps[3]!.gpa = -4096), "steps[3].gpa", U64],
    ["a gpa a double cannot hold exactly", (s) => (s.steps[3]!.gpa = 2 ** 53 + 2), "steps[3].gpa", U64],
    ["a fractional size", (s) => (s.steps[2]!.memory_size = 4096.5), "steps[2].memory_size", U64],
    ["a map id past the last window", (s) => (s.steps[1]!.map = "m64"), "steps[1].map", /^expected a map id "m0" \.\. "m63", found "m64"$/],
    ["a slot past u32", (s) => (s.steps[2]!.slot = 2 ** 32), "steps[2].slot", /^expected an integer from 0 to 4294967295, found 4294967296$/],
    ["a byte past 255", (s) => (s.steps[3]!.byte = 256), "steps[3].byte", /^expected an integer from 0 to 255, found 256$/],
    ["an id that is not one", (s) => (s.steps[0]!.vm = "0v"), "steps[0].vm", /^expected an id /],
    ["a schedule decision past the codec's range", (s) => (s.schedule = [0, 64]), "schedule[1]", /^expected an integer from 0 to 63, found 64$/],
    ["an address inside an actor", (s) => ((s.actors[1]!.steps as Json[])[0]!.gpa = -1), "actors[1].steps[0].gpa", U64],
  ];
  for (const [what, edit, path, message] of cases) {
    it(what, () => {
      const e = problemWith(/actor|schedule/.test(what) ? concurrent : sequential, edit);
      expect(e.path).toBe(path);
      expect(e.problem).toMatch(message);
    });
  }
});

describe("references the codec cannot check", () => {
  const postcopy = (edit: Json): Json => ({ pages: 2, source: [1, 2], precopied: [null, 3], fetchOrder: [0, 1], events: [{ kind: "fetcher" }], ...edit });
  const cases: [string, () => Json, (s: Json & { steps: Json[]; actors: Json[] }) => void, string, RegExp][] = [
    ["steps and actors", sequential, (s) => (s.actors = concurrent().actors as Json[]), "actors", /^expected "steps" \(sequential\) or "actors" \(concurrent\), found both$/],
    ["neither steps nor actors", sequential, (s) => delete (s as Json).steps, "steps", /found neither$/],
    ["a schedule without actors", sequential, (s) => (s.schedule = [0]), "schedule", /^only a concurrent scenario/],
    ["two actors with one name", concurrent, (s) => (s.actors[1]!.name = "a0"), "actors[1].name", /^actor "a0" is already actors\[0\]$/],
    ["an expect list longer than the steps", sequential, (s) => (s.expect = Array(5).fill({ result: "ok" })), "expect[4]", /^expected at most 4 outcomes, one per step, found 5$/],
    ["an expect list on a concurrent scenario", concurrent, (s) => (s.expect = []), "expect", /^only a sequential scenario/],
    ["failure.step beyond the steps", sequential, (s) => ((s.failure as Json).step = 4), "failure.step", /^expected a step index below 4 \(the scenario has 4 steps\), found 4$/],
    [
      "failure.step beyond its actor's steps",
      concurrent,
      (s) => (s.failure = { property: "p", step: 1, expected: 1, actual: 2, actor: "a1" }),
      "failure.step",
      /^expected a step index below 1 \(actor "a1" has 1 steps\), found 1$/,
    ],
    ["failure.actor naming no actor", concurrent, (s) => (s.failure = { property: "p", step: 0, expected: 1, actual: 2, actor: "a9" }), "failure.actor", /^expected one of "a0", "a1", found "a9"$/],
    ["failure.actor in a sequential scenario", sequential, (s) => ((s.failure as Json).actor = "a0"), "failure.actor", /^only a concurrent scenario/],
    ["an unknown seeded bug", sequential, (s) => ((s.config as Json).bugs = ["delete-no-zapp"]), "config.bugs[0]", /^unknown seeded bug "delete-no-zapp"; did you mean "delete-no-zap"\? this build knows /],
    ["expectedToFail without a failure", sequential, (s) => ((s.expectedToFail = "a flaw"), delete s.failure), "expectedToFail", /needs the "failure" it shows$/],
    ["expectedToFail with seeded bugs", sequential, (s) => ((s.expectedToFail = "a flaw"), ((s.config as Json).bugs = ["delete-no-zap"])), "expectedToFail", /cannot rely on seeded bugs/],
    ["close naming two fds", sequential, (s) => s.steps.push({ op: "close", vm: "v0", file: "f0" }), "steps[4]", /^close takes one of vm, gmem, uffd, file, found vm and file$/],
    ["close naming two fds in an actor", concurrent, (s) => (s.actors[0]!.steps as Json[]).push({ op: "close", vm: "v0", gmem: "g0" }), "actors[0].steps[1]", /^close takes one of/],
    ["a post-copy source not one byte per page", sequential, (s) => (s.postcopy = postcopy({ source: [1] })), "postcopy.source", /^expected 2 entries, one per page, found 1$/],
    ["a page fetched twice", sequential, (s) => (s.postcopy = postcopy({ fetchOrder: [1, 1] })), "postcopy.fetchOrder[1]", /^page 1 is already fetchOrder\[0\]$/],
    ["a post-copy event past the pages", sequential, (s) => (s.postcopy = postcopy({ events: [{ kind: "guest", write: false, page: 2, offset: 0, byte: 0 }] })), "postcopy.events[0].page", /^expected a page below 2, found 2$/],
  ];
  for (const [what, base, edit, path, message] of cases) {
    it(what, () => {
      const e = problemWith(base, edit);
      expect(e.path).toBe(path);
      expect(e.problem).toMatch(message);
    });
  }

  it("a vcpu beyond config.vcpus is the kernel's EBADF, not a file error", () => {
    const s = sequential() as Json & { steps: Json[] };
    s.steps[3]!.vcpu = 9;
    expect(decodeScenario(FILE, JSON.stringify(s), { bugs: BUG_IDS }).steps).toHaveLength(4);
  });
});

/** The sequential scenario's text with the gpa of step 3 written as `literal`, character for character. */
const withGpa = (literal: string): string => JSON.stringify(sequential()).replace('"gpa":4096', `"gpa":${literal}`);

describe("numbers are exact: a literal a double cannot hold is refused, quoted as written", () => {
  const gpa = (text: string): number | undefined => decodeScenario(FILE, text, { bugs: BUG_IDS }).steps![3]!.op === "vcpu_access" ? (decodeScenario(FILE, text, { bugs: BUG_IDS }).steps![3] as { gpa: number }).gpa : undefined;

  it("2^53+1 is refused, not run as 2^53", () => {
    const e = problem(withGpa("9007199254740993"));
    expect(e.path).toBe("steps[3].gpa");
    expect(e.problem).toBe("9007199254740993 cannot be held exactly (a double reads it as 9007199254740992); faultline refuses to round a number");
  });

  it("2^64-1 is quoted as written, as a number and as a string", () => {
    expect(problem(withGpa("18446744073709551615")).problem).toMatch(/^18446744073709551615 cannot be held exactly \(a double reads it as 18446744073709551616\)/);
    expect(problem(withGpa('"18446744073709551615"')).problem).toMatch(/^expected an unsigned 64-bit integer held exactly .*, found "18446744073709551615"$/);
    expect(problem(withGpa('"0xffffffffffffffff"')).problem).toMatch(/found "0xffffffffffffffff"$/);
  });

  it("2^64, exact in a double, is out of range and quoted exactly", () => {
    expect(problem(withGpa("18446744073709551616")).problem).toMatch(/^expected an unsigned 64-bit integer held exactly .*, found 18446744073709551616$/);
  });

  it("page-aligned values past 2^53 stay accepted, as numbers and as decimal or 0x strings", () => {
    for (const text of ["18446744073709547520", '"18446744073709547520"', '"0xfffffffffffff000"', '"0XFFFFFFFFFFFFF000"', "1.8446744073709547520e19"]) {
      expect(gpa(withGpa(text))).toBe(2 ** 64 - 4096);
    }
    expect(gpa(withGpa('"0x1000"'))).toBe(4096);
    expect(gpa(withGpa('"4096"'))).toBe(4096);
  });

  it("strings that are not a u64", () => {
    for (const text of ['"010"', '"0x"', '"-1"', '"1e3"', '" 4096"', '"0x10000000000000000"']) expect(problem(withGpa(text)).path).toBe("steps[3].gpa");
  });

  it("a fraction a double cannot hold, and one it can", () => {
    expect(problem(withGpa("0.1")).problem).toMatch(/^0\.1 cannot be held exactly/);
    expect(problem(withGpa("4096.5")).problem).toMatch(/^expected an unsigned 64-bit integer/);
  });

  it("NaN and Infinity are not JSON, with line and column", () => {
    for (const word of ["NaN", "Infinity", "-Infinity"]) {
      const e = problem(`{\n  "version": 1,\n  "name": ${word}\n}`);
      expect(e.path).toBe("line 3, column 11");
      expect(e.problem).toBe(`not JSON: ${word} is not a JSON value (JSON numbers are finite)`);
    }
  });
});

describe("keys, text and size", () => {
  it("a key given twice is refused, not dropped", () => {
    const e = problem('{"version": 1, "name": "a", "name": "b"}');
    expect(e.path).toBe("name");
    expect(e.problem).toBe('duplicate key "name"');
  });

  it("a __proto__ key is an unknown key, not a prototype", () => {
    expect(problem(JSON.stringify(sequential()).replace('"name":', '"__proto__": {"x": 1}, "name":')).problem).toMatch(/^unknown key "__proto__"/);
  });

  it("control characters: raw ones are not JSON, escaped ones are refused in text", () => {
    expect(problem('{"version": 1, "name": "a\u0007b"}'.replace("\\u0007", "\u0007")).problem).toMatch(/^not JSON: control character U\+0007 inside a string/);
    const e = problemWith(sequential, (s) => (s.name = "red \u001b[31m alert"));
    expect(e.path).toBe("name");
    expect(e.problem).toBe('expected printable text, without control characters (U+001B at index 4), found "red \\u001b[31m alert"');
    expect(problemWith(sequential, (s) => (s.description = "a\u009bb")).problem).toMatch(/U\+009B/);
    expect(problemWith(sequential, (s) => (s.failure = { property: "x\ny", step: 0, expected: 1, actual: 2 })).path).toBe("failure.property");
  });

  it("a name nested 100,000 deep: one line, no stack overflow", () => {
    const e = problem(`{"version": 1, "name": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
    expect(e.path).toBe("line 1, column 55");
    expect(e.problem).toBe("nested deeper than 32 levels of arrays and objects (inside name)");
  });

  it("more operations, actors or schedule decisions than a scenario may hold", () => {
    const step = { op: "create_vm", vm: "v0" };
    expect(problemWith(sequential, (s) => (s.steps = Array(10_001).fill(step))).problem).toBe("more than the 10000 operations a scenario may hold (all actors together)");
    const e = problemWith(concurrent, (s) => (s.actors = [{ name: "a", steps: Array(6000).fill(step) }, { name: "b", steps: Array(6000).fill(step) }]));
    expect(e.path).toBe("actors[1].steps");
    expect(problemWith(concurrent, (s) => (s.actors = Array.from({ length: 65 }, (_, i) => ({ name: `a${i}`, steps: [] })))).path).toBe("actors");
    expect(problemWith(concurrent, (s) => (s.schedule = Array(100_001).fill(0))).problem).toBe("100001 decisions, more than the 100000 a schedule may hold");
  });
});

describe("several problems", () => {
  it("the deepest is reported, with how many more there are", () => {
    const e = problemWith(sequential, (s) => {
      s.steps[3]!.gpa = -1;
      s.name = 1;
    });
    expect(e.path).toBe("steps[3].gpa");
    expect(e.problem).toMatch(/\(\+1 more\)$/);
  });
});

describe("reading files", () => {
  const dir = mkdtempSync(join(tmpdir(), "faultline-files-"));

  it("a missing file", () => {
    const file = join(dir, "missing.json");
    expect(() => loadScenario(file)).toThrow(`${file}: cannot read: no such file`);
  });

  it("a directory", () => {
    const sub = join(dir, "sub.json");
    mkdirSync(sub);
    expect(() => loadScenario(sub)).toThrow(`${sub}: cannot read: a directory, not a file`);
  });

  it("a good file on disk", () => {
    const file = join(dir, "good.json");
    writeFileSync(file, JSON.stringify(sequential()));
    expect(loadScenario(file).name).toBe("a small sequential scenario");
  });
});
