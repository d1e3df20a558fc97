// Every decoder fuzzed: fast-check makes malformed scenario, counterexample and report files and command lines
// (truncations, type swaps, missing and extra fields, deep nesting, huge arrays, numbers past 2^53 and 2^64,
// NaN and Infinity, control and non-UTF-8 bytes, devices and other non-regular files) and each must end in exit
// status 2 with one line naming the file (and the field, where there is one): no stack trace, no hang. The
// command lines run in-process (cli/dispatch.ts); the largest inputs also run in the built CLI, in 96 MB.
import fc from "fast-check";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { BUG_IDS } from "../impl/bugs.js";
import { printable } from "../schema/report.js";
import { decodeScenario } from "../schema/scenario.js";
import { faultline, inProcess } from "./cli-child.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = readonly (string | number)[];

const DIR = mkdtempSync(join(tmpdir(), "faultline-fuzz-"));
const COUNTEREXAMPLES = new URL("../counterexamples/", import.meta.url);

const SEQUENTIAL: Json = {
  version: 1,
  name: "sequential",
  description: "a base for mutations",
  config: { preset: "default", vcpus: 2, kernel: { userfault: true, userMemSlots: 512 }, bugs: [] },
  steps: [
    { op: "create_vm", vm: "v0", type: 1 },
    { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4194304 },
    {
      op: "set_memory_region",
      vm: "v0",
      slot: 0,
      flags: ["USERFAULT"],
      guest_phys_addr: 0,
      memory_size: 2097152,
      userspace: "m0",
      userfault_bitmap: null,
    },
    { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "write", byte: 7 },
  ],
  expect: [{ result: "ok" }, { result: "ok" }],
  failure: { property: "writes-stick", step: 3, expected: "holds", actual: "violated", detail: "d" },
};

/** The bases: a sequential scenario, and every counterexample of the corpus (concurrent ones among them). */
const bases: { name: string; json: Json }[] = [
  { name: "sequential", json: SEQUENTIAL },
  ...readdirSync(COUNTEREXAMPLES).map((f) => ({ name: f, json: JSON.parse(readFileSync(new URL(f, COUNTEREXAMPLES), "utf8")) as Json })),
];

/** Paths into a value; failure.expected and failure.actual may hold any value, so they are left alone. */
function paths(v: Json, at: Path = []): Path[] {
  if (at[0] === "failure" && (at[1] === "expected" || at[1] === "actual")) return [];
  if (v === null || typeof v !== "object") return [at];
  const inner = Array.isArray(v) ? v.flatMap((x, i) => paths(x, [...at, i])) : Object.entries(v).flatMap(([k, x]) => paths(x, [...at, k]));
  return [at, ...inner];
}

const get = (v: Json, p: Path): Json => p.reduce<Json>((o, k) => (o as Record<string | number, Json>)[k]!, v);

function set(v: Json, p: Path, x: Json | undefined): Json {
  const copy = structuredClone(v);
  if (p.length === 0) return x ?? null;
  const parent = get(copy, p.slice(0, -1)) as Record<string | number, Json>;
  if (x === undefined) delete parent[p[p.length - 1]!];
  else parent[p[p.length - 1]!] = x;
  return copy;
}

const isObject = (v: Json): v is { [k: string]: Json } => v !== null && typeof v === "object" && !Array.isArray(v);
/** Objects every key of which the schema knows: root, config, kernel, operations, actors, failure, provenance. */
const strictObject = (p: Path): boolean =>
  p.length === 0 || /^(config(\.kernel)?|steps\.\d+|actors\.\d+(\.steps\.\d+)?|failure|provenance)$/.test(p.join("."));
/** Where every number is an integer with bounds below 2^64 (not provenance's seeds, not the outcomes' counts). */
const boundedNumber = (p: Path): boolean => /^(version|config|steps|actors|schedule|failure\.step)/.test(p.join("."));

/** The swapped value is of another JSON kind, one no codec at that place accepts. */
function swapped(v: Json): Json {
  if (typeof v === "number") return "nope";
  if (typeof v === "string" || typeof v === "boolean") return 7;
  if (v === null || Array.isArray(v)) return {};
  return [];
}

const decodes = (text: string): boolean => {
  try {
    decodeScenario("x", text, { bugs: BUG_IDS });
    return true;
  } catch {
    return false;
  }
};

/** Keys whose deletion the schema refuses, found by trying each (optional keys are not mutations). */
const required = new Map(
  bases.map((b) => [
    b.name,
    paths(b.json).filter((p) => p.length > 0 && typeof p[p.length - 1] === "string" && !decodes(JSON.stringify(set(b.json, p, undefined)))),
  ]),
);

/** Values whose type swap the schema refuses (a flag name swapped for 7 is a raw flag word the schema takes). */
const swappable = new Map(
  bases.map((b) => [b.name, paths(b.json).filter((p) => p.length > 0 && !decodes(JSON.stringify(set(b.json, p, swapped(get(b.json, p))))))]),
);

/** A malformed file: its bytes, and whether its error names a field or place (not only the file). */
interface Case {
  readonly what: string;
  readonly bytes: Uint8Array;
  readonly names: "field" | "file";
}

const text = (what: string, t: string, names: Case["names"] = "field"): Case => ({ what, bytes: Buffer.from(t, "utf8"), names });
const CONTROL = fc.constantFrom(...[...Array(32).keys()].filter((c) => c !== 9 && c !== 10 && c !== 13));
const BAD_UTF8 = fc.constantFrom(
  [0xff],
  [0xfe],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0xf5, 0x80, 0x80, 0x80],
  [0x80],
  [0xf0, 0x8f, 0xbf, 0xbf],
);

const malformed: fc.Arbitrary<Case> = fc.integer({ min: 0, max: bases.length - 1 }).chain((b) => {
  const base = bases[b]!.json;
  const all = paths(base);
  const src = JSON.stringify(base, null, 2);
  const pick = <T>(list: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...list);
  const req = required.get(bases[b]!.name)!;
  const objects = all.filter((p) => isObject(get(base, p)) && strictObject(p));
  const numbers = all.filter((p) => typeof get(base, p) === "number" && boundedNumber(p));
  const bigLiteral = fc.oneof(
    fc.bigInt({ min: 0n, max: 2n ** 40n }).map((k) => (2n ** 53n + 2n * k + 1n).toString()),
    fc.bigInt({ min: 1n, max: 2n ** 64n }).map((k) => (2n ** 64n + k).toString()),
    fc.constantFrom("18446744073709551615", "18446744073709551616", "1e400", "-1e400", "0.1", "-0.5"),
  );
  const placed = (p: Path, literal: string): string =>
    JSON.stringify(set(base, p, "\u0000PLACE\u0000")).replace('"\\u0000PLACE\\u0000"', literal);
  return fc.oneof(
    fc.nat({ max: src.lastIndexOf("}") - 1 }).map((n) => text("truncated", src.slice(0, n), n === 0 ? "file" : "field")),
    pick(swappable.get(bases[b]!.name)!).map((p) =>
      text(`type swap at ${p.join(".")}`, JSON.stringify(set(base, p, swapped(get(base, p))))),
    ),
    ...(req.length === 0 ? [] : [pick(req).map((p) => text(`missing ${p.join(".")}`, JSON.stringify(set(base, p, undefined))))]),
    fc
      .tuple(pick(objects), fc.string({ minLength: 1, maxLength: 8 }))
      .map(([p, k]) => text(`extra key at ${p.join(".")}`, JSON.stringify(set(base, [...p, `zz${k}`], 1)))),
    fc
      .tuple(pick(all), fc.integer({ min: 33, max: 200_000 }), fc.boolean())
      .map(([p, depth, arrays]) =>
        text(
          `nested ${depth} deep at ${p.join(".")}`,
          placed(p, arrays ? `${"[".repeat(depth)}${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`),
        ),
      ),
    ...(numbers.length === 0 ? [] : [fc.tuple(pick(numbers), bigLiteral).map(([p, n]) => text(`${n} at ${p.join(".")}`, placed(p, n)))]),
    ...(numbers.length === 0
      ? []
      : [
          fc
            .tuple(pick(numbers), fc.constantFrom("NaN", "Infinity", "-Infinity"))
            .map(([p, n]) => text(`${n} at ${p.join(".")}`, placed(p, n))),
        ]),
    fc
      .tuple(fc.nat({ max: src.length }), CONTROL)
      .map(([at, c]) =>
        text(`raw control U+${c} at ${at}`, `${src.slice(0, at)}${String.fromCharCode(c)}${src.slice(at)}`, at === 0 ? "file" : "field"),
      ),
    fc
      .tuple(
        fc.constantFrom("name", "description"),
        fc.string({ maxLength: 5 }),
        fc.constantFrom(...[...Array(32).keys(), 0x7f, 0x85, 0x9b]),
        fc.string({ maxLength: 5 }),
      )
      .map(([k, a, c, z]) =>
        text(`control U+${c} in ${k}`, JSON.stringify({ ...(base as object), [k]: `${a}${String.fromCharCode(c)}${z}` })),
      ),
    fc.tuple(fc.nat({ max: src.length }), BAD_UTF8).map(([at, bytes]) => {
      const b = Buffer.from(src, "utf8");
      return {
        what: `bytes ${bytes.join(",")} at ${at}`,
        bytes: Buffer.concat([b.subarray(0, at), Buffer.from(bytes), b.subarray(at)]),
        names: "field" as const,
      };
    }),
    fc
      .integer({ min: 10_001, max: 12_000 })
      .map((n) =>
        text(
          `${n} steps`,
          JSON.stringify({
            ...(SEQUENTIAL as object),
            steps: Array(n).fill({ op: "create_vm", vm: "v0" }),
            expect: undefined,
            failure: undefined,
          }),
        ),
      ),
    fc
      .integer({ min: 100_001, max: 120_000 })
      .map((n) =>
        text(
          `${n} schedule decisions`,
          JSON.stringify({ version: 1, name: "s", config: {}, actors: [{ name: "a", steps: [] }], schedule: Array(n).fill(0) }),
        ),
      ),
    fc
      .integer({ min: 65, max: 200 })
      .map((n) =>
        text(
          `${n} actors`,
          JSON.stringify({
            version: 1,
            name: "s",
            config: {},
            actors: Array.from({ length: n }, (_, i) => ({ name: `a${i}`, steps: [] })),
          }),
        ),
      ),
    fc
      .constantFrom("", " \n\t", "\ufeff", "null", "7", '"text"', "[]", "[1, 2]", "{", "}", "{}", '{"version": 1}')
      .map((t) => text(`the whole file is ${JSON.stringify(t)}`, t, "file")),
  );
});

/** Files that are not regular files, or cannot be read. */
const special = (): string[] => {
  const dir = join(DIR, "a-directory.json");
  mkdirSync(dir, { recursive: true });
  const dangling = join(DIR, "dangling.json");
  try {
    symlinkSync(join(DIR, "nowhere"), dangling);
  } catch {
    // Made by an earlier run of the property.
  }
  return ["/dev/null", "/dev/zero", "/dev/urandom", dir, dangling, join(DIR, "missing.json"), join(DIR, "a \u001b[31m name\n.json")];
};

type Ran = Awaited<ReturnType<typeof inProcess>>;

/** Runs a command line in this process, capturing what it prints. */
const run = inProcess;

/** Exit status 2, one line on stderr starting with `prefix`, nothing else printed, no stack trace. */
function expectOneLine(r: Ran, prefix: string, what: string): string {
  const context = `${what}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
  expect(r.status, context).toBe(2);
  expect(r.stderr.endsWith("\n"), context).toBe(true);
  const line = r.stderr.slice(0, -1);
  expect(line, context).not.toMatch(/[\n\r\x1b]/);
  expect(line.startsWith(prefix), context).toBe(true);
  expect(line.length, context).toBeGreaterThan(prefix.length);
  expect(line, context).not.toMatch(/internal error|\n\s+at /);
  expect(r.stdout, context).toBe("");
  return line;
}

/** A hang guard, not a speed target: the slowest input (a 4 MiB device read, 200,000-deep nesting) takes milliseconds. */
const BOUNDED_MS = 10_000;

let report = "";
beforeAll(async () => {
  const r = await run(["check", "--suite", "refusals-mm", "--runs", "2", "--seed", "1", "--shard", "1/1", "--workers", "1", "--json"]);
  expect(r.status, r.stderr).toBe(0);
  report = r.stdout;
});

afterEach(() => vi.restoreAllMocks());

describe("malformed files: replay, run and merge each give one line", () => {
  it("scenario and counterexample files", async () => {
    await fc.assert(
      fc.asyncProperty(malformed, fc.constantFrom("replay", "run"), async (c, command) => {
        const file = join(DIR, "case.json");
        writeFileSync(file, c.bytes);
        const started = performance.now();
        const line = expectOneLine(await run([command, file]), `${file}: `, c.what);
        expect(performance.now() - started, c.what).toBeLessThan(BOUNDED_MS);
        // A field by its JSON path or a place by line and column, then the problem: never the whole file alone.
        if (c.names === "field")
          expect(line.slice(file.length + 2), c.what).toMatch(/^(?!not JSON|expected a scenario object|more than)[^ ].*?: ./);
      }),
      { numRuns: Number(process.env.FAULTLINE_FUZZ_RUNS ?? 250) },
    );
  });

  it("devices, directories, links and names that do not print", async () => {
    for (const file of special()) {
      for (const command of ["replay", "run", "merge"])
        expectOneLine(await run([command, file]), `${printable(file)}: `, `${command} ${JSON.stringify(file)}`);
    }
  });

  it("check reports, for merge", async () => {
    const doc = JSON.parse(report) as Json;
    // coverage.lines is recomputed by merge, so its entries are not read.
    const all = paths(doc).filter((p) => !/^coverage\.lines\.\d+/.test(p.join(".")));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc
            .constantFrom(...all.filter((p) => p.length > 0))
            .map((p) => ({ what: `type swap at ${p.join(".")}`, text: JSON.stringify(set(doc, p, swapped(get(doc, p)))) })),
          fc.nat({ max: report.length - 3 }).map((n) => ({ what: `truncated at ${n}`, text: report.slice(0, n) })),
          fc
            .constantFrom("seed", "shard", "faultline", "suites")
            .map((k) => ({ what: `missing ${k}`, text: JSON.stringify(set(doc, [k], undefined)) })),
        ),
        async (c) => {
          const file = join(DIR, "report.json");
          writeFileSync(file, c.text);
          expectOneLine(await run(["merge", file]), `${file}: `, c.what);
        },
      ),
      { numRuns: Number(process.env.FAULTLINE_FUZZ_RUNS ?? 100) },
    );
  });
});

/** A command line with one mistake among valid options, so that nothing ever runs. */
const commandLines: fc.Arbitrary<{ argv: readonly string[]; prefix: string }> = (() => {
  const odd = fc.oneof(
    fc.constantFrom("0", "-1", "1.5", "1e3", "abc", "99999999999999999999", "4294967296", " 7", "\u001b[31m", "\u0000", "\ud800"),
    fc.string({ maxLength: 6 }),
  );
  const int = (option: string, min: number): fc.Arbitrary<string[]> =>
    odd
      .filter(
        (v) => !(/^\d+$/.test(v) && Number(v) >= min && Number.isSafeInteger(Number(v)) && (option !== "--seed" || Number(v) < 2 ** 32)),
      )
      .map((v) => [option, v]);
  const check = fc.oneof<fc.Arbitrary<readonly string[]>[]>(
    fc.constantFrom(
      ["--frobnicate"],
      ["-x"],
      ["--json=yes"],
      ["--runs"],
      ["--seed", "1", "--seed", "2"],
      ["stray"],
      ["--shard", "1/2"],
      ["--junit", "/dev/null/x.xml"],
    ),
    int("--runs", 1),
    int("--seed", 0),
    int("--workers", 1).filter(([, v]) => !(/^\d+$/.test(v!) && Number(v) <= 256)),
    int("--time-budget", 1),
    fc
      .tuple(fc.constantFrom("0/4", "5/4", "a/b", "1/0", "4", "1/2/3", ""), fc.constant("--seed"))
      .map(([s]) => ["--seed", "1", "--shard", s]),
    fc
      .string({ minLength: 1, maxLength: 8 })
      .filter((s) => !s.includes(",") && !s.startsWith("--"))
      .map((s) => ["--suite", `x${s}`]),
    fc
      .string({ minLength: 1, maxLength: 8 })
      .filter((s) => !s.includes(",") && !s.startsWith("--"))
      .map((s) => ["--bugs", `x${s}`]),
  );
  const valid = fc.subarray([["--runs", "3"], ["--suite", "refusals-mm"], ["--json"], ["--workers", "1"]]);
  return fc.oneof(
    fc
      .tuple(check, valid, fc.boolean())
      .map(([bad, good, first]) => ({
        argv: ["check", ...(first ? [...bad, ...good.flat()] : [...good.flat(), ...bad])],
        prefix: "faultline check: ",
      })),
    fc
      .constantFrom(
        ["replay"],
        ["run"],
        ["merge"],
        ["list", "extra"],
        ["list", "--rule"],
        ["mutants", "--bug", "nope"],
        ["mutants", "x"],
        ["conform", "--runs", "-1"],
        ["conform", "--seed", "x"],
      )
      .map((argv) => ({
        argv,
        prefix: `faultline ${argv[0]}: `,
      })),
    fc
      .constantFrom(
        ["replay", "--svg", "a.svg", "a.json", "b.json"],
        ["replay", "--no-bugs=1", "a.json"],
        ["merge", "--junit"],
        ["help", "nope"],
      )
      .map((argv) => ({ argv, prefix: `faultline ${argv[0]}: ` })),
    fc
      .string({ minLength: 1, maxLength: 8 })
      .filter((s) => !["check", "replay", "run", "list", "merge", "conform", "mutants", "help", "--help", "-h"].includes(s))
      .map((s) => ({ argv: [s], prefix: "faultline: " })),
  );
})();

describe("malformed command lines", () => {
  it("one line naming the command, exit status 2, nothing run", async () => {
    await fc.assert(
      fc.asyncProperty(commandLines, async ({ argv, prefix }) => {
        expectOneLine(await run(argv), prefix, JSON.stringify(argv));
      }),
      { numRuns: Number(process.env.FAULTLINE_FUZZ_RUNS ?? 200) },
    );
  });
});

describe("the largest inputs through the built CLI, in bounded memory", () => {
  it("a million steps, 200,000-deep nesting, a 5 MiB file, /dev/zero and /dev/urandom", () => {
    const files: [string, string][] = [
      [
        "million-steps.json",
        JSON.stringify({ version: 1, name: "m", config: {}, steps: Array(1_000_000).fill({ op: "create_vm", vm: "v0" }) }),
      ],
      [
        "fifty-thousand-steps.json",
        JSON.stringify({ version: 1, name: "m", config: {}, steps: Array(50_000).fill({ op: "create_vm", vm: "v0" }) }),
      ],
      ["deep.json", `{"version": 1, "name": ${"[".repeat(200_000)}${"]".repeat(200_000)}}`],
      ["spaces.json", `${" ".repeat(5 * 2 ** 20)}{}`],
    ];
    const targets = [...files.map(([name, body]) => (writeFileSync(join(DIR, name), body), join(DIR, name))), "/dev/zero", "/dev/urandom"];
    for (const file of targets) {
      const r = faultline(["replay", file], DIR, { NODE_OPTIONS: "--max-old-space-size=96" });
      expect(r.status, `${file}: ${r.stderr}`).toBe(2);
      expect(r.stderr, file).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: [^\\n]+\\n$`));
    }
  });
});
