// The property-only mutation score (docs/MUTATION.md): what `faultline check` alone kills, without the example
// tests. StrykerJS's own instrumenter lists every mutant of an area (the files stryker.config.mjs mutates); the
// mutants a `// Stryker disable` comment marks equivalent and those inside report text (a rule's citation and
// statement, descriptions) are left out. Static mutants stay in: a constant or a module-level function the check
// runs through is as killable as any other line, so there is no ignoreStatic here. A fixed seed shuffles the rest
// uniformly; in that order each mutant is type-checked (a compile error is set aside, as Stryker's TypeScript
// checker does) until `--sample` compile. Each is then judged by tools/property-judge.ts in a copy of dist/ holding
// only that mutant: the area's suites of `faultline check --seed 1 --shard 1/N`, first failure kills.
//
// npm run mutation:property                       every area: --all --sample 300 --seed 1 (hours on 2 shared cores)
// npm run mutation:property -- --area kvm [--sample 300] [--seed 1] [--shard 20] [--timeout 150]
// npm run mutation:property -- --summary          the kill rate per area with its 95% interval, from the reports
// npm run mutation:property -- --area kvm --rerun-survivors   judge again, against the current tree, only the sampled
//                                                 mutants the report has as survived (the others keep their verdict)
//   [--files impl/mm/mm.ts,...]                   only the survivors in these files
//   [--precheck]                                  the vocabulary check alone (tools/property-judge.ts): enough when
//                                                 nothing else the check runs changed since the report
//   [--gaps-only]                                 only survivors the ledger has as gaps (or not at all): the other
//                                                 categories change nothing a run of the correct implementation shows
//   [--remap COMMIT]                              first carry the report's sample from the tree at COMMIT (the one it
//                                                 was judged on) to this one, when the area's files changed since
//
// Results go to docs/mutation/property/<area>.json (committed: the survivor ledger beside them explains each survivor,
// docs/mutation/property-survivors.json) after every mutant, so an interrupted run resumes. A rerun is
// only sound while the area's own files (model/, impl/) are unchanged: the sample is drawn from their mutants, so the
// tool refuses when the population or a sampled mutant's text moved. What changed in props/ or cli/ may kill more;
// when it only adds checks or suites (no existing generator changes), what was killed stays killed, and a survivor
// left out by --files keeps its verdict, which can only understate the score.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";
import { Instrumenter } from "@stryker-mutator/instrumenter";
import { SUITES } from "../props/registry.js";

export const AREAS = ["core", "kvm", "gmem", "mm", "uffd", "util"] as const;
export type Area = (typeof AREAS)[number];

/** The files Stryker mutates for an area (stryker.config.mjs). */
export function areaFiles(area: Area, root = "."): string[] {
  const ts = (dir: string, deep: boolean): string[] =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? (deep ? ts(join(dir, e.name), true) : []) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
        )
      : [];
  const files = area === "core" ? [...ts("model", false), ...ts("impl", false)] : [...ts(`model/${area}`, true), ...ts(`impl/${area}`, true)];
  return files.filter((f) => f !== "impl/bugs.ts").sort();
}

/**
 * The suites that judge an area's mutants, and the shard that sets the budget: an area's own suites; mm, util and
 * the core files serve every area, so they get every suite at half the share.
 */
export function judgeOf(area: Area): { suites: string[]; shard: number } {
  const own: Readonly<Record<string, readonly string[]>> = { kvm: ["kvm"], gmem: ["gmem"], uffd: ["uffd", "postcopy"] };
  const areas = own[area];
  return areas === undefined ? { suites: SUITES.map((s) => s.name), shard: 40 } : { suites: SUITES.filter((s) => areas.includes(s.area)).map((s) => s.name), shard: 20 };
}

export interface Candidate {
  readonly id: string;
  readonly file: string;
  /** 1-based line, 0-based column, as Stryker's reports print them. */
  readonly line: number;
  readonly column: number;
  readonly mutator: string;
  readonly replacement: string;
  readonly original: string;
  /** Offsets in the source. */
  readonly start: number;
  readonly end: number;
}

export interface Judged extends Candidate {
  readonly status: "killed" | "survived" | "timeout";
  readonly killedBy: string | null;
  readonly seconds: number;
}

const quiet = {
  isTraceEnabled: () => false,
  isDebugEnabled: () => false,
  isInfoEnabled: () => false,
  isWarnEnabled: () => false,
  isErrorEnabled: () => true,
  isFatalEnabled: () => true,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (...a: unknown[]) => console.error(...a),
  fatal: (...a: unknown[]) => console.error(...a),
};

const offsetOf = (lineStarts: readonly number[], p: { line: number; column: number }): number => lineStarts[p.line]! + p.column;

/**
 * Ranges of the source that only ever reach a human: the citation and statement of a rule (`rule(id, cite, text,
 * errno)`), and `description`, `cite` and `text` fields. A mutant inside one changes what a report says, never what
 * the model or the implementation does.
 */
function textRanges(file: string, text: string): [number, number][] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: [number, number][] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === "rule") {
      for (const a of n.arguments.slice(1, 3)) out.push([a.getStart(sf), a.getEnd()]);
    }
    if (ts.isPropertyAssignment(n) && ts.isIdentifier(n.name) && ["description", "cite", "text"].includes(n.name.text)) out.push([n.initializer.getStart(sf), n.initializer.getEnd()]);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Every mutant of the area but those a `// Stryker disable` comment marks equivalent and those in report text. */
export async function candidates(area: Area, root = "."): Promise<{ all: Candidate[]; disabled: number; text: number }> {
  const files = areaFiles(area, root).map((name) => ({ name, content: readFileSync(join(root, name), "utf8"), mutate: true as const }));
  const result = await new Instrumenter(quiet).instrument(files, { plugins: null, excludedMutations: [], ignorers: [], noHeader: true });
  const texts = new Map(files.map((f) => [f.name, f.content]));
  const starts = new Map([...texts].map(([f, t]) => [f, ts.createSourceFile(f, t, ts.ScriptTarget.ES2022).getLineStarts()]));
  const prose = new Map([...texts].map(([f, t]) => [f, textRanges(f, t)]));
  let disabled = 0;
  let inText = 0;
  const all: Candidate[] = [];
  for (const m of result.mutants) {
    if (m.status !== undefined) {
      disabled++;
      continue;
    }
    const text = texts.get(m.fileName)!;
    const ls = starts.get(m.fileName)!;
    const start = offsetOf(ls, m.location.start);
    const end = offsetOf(ls, m.location.end);
    if (prose.get(m.fileName)!.some(([a, b]) => start >= a && end <= b)) {
      inText++;
      continue;
    }
    all.push({
      id: mutantId(m.fileName, m.location.start.line + 1, m.location.start.column, end - start, m.mutatorName, m.replacement),
      file: m.fileName,
      line: m.location.start.line + 1,
      column: m.location.start.column,
      mutator: m.mutatorName,
      replacement: m.replacement,
      original: text.slice(start, end),
      start,
      end,
    });
  }
  return { all, disabled, text: inText };
}

/**
 * A mutant's name: where it starts, how long the text it replaces is, the mutator and the replacement. The length
 * tells apart mutants that start at one place (`a && b` and its `a`, both made `true`).
 */
export const mutantId = (file: string, line: number, column: number, length: number, mutator: string, replacement: string): string =>
  `${file}@${line}:${column}+${length}:${mutator}:${replacement}`;

/** mulberry32: a fixed seed gives the same permutation on every machine. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  const r = random(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export const mutated = (text: string, c: Candidate): string => text.slice(0, c.start) + c.replacement + text.slice(c.end);

/** Type-checks one file with a mutant in it against the whole project (tsconfig.json), as Stryker's checker does. */
class TypeChecker {
  private readonly overrides = new Map<string, { text: string; version: number }>();
  private readonly service: ts.LanguageService;

  constructor(private readonly root: string) {
    const host0 = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined };
    const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), {}, host0)!;
    const host: ts.LanguageServiceHost = {
      getScriptFileNames: () => config.fileNames,
      getScriptVersion: (f) => String(this.overrides.get(resolve(f))?.version ?? 0),
      getScriptSnapshot: (f) => {
        const o = this.overrides.get(resolve(f));
        const text = o?.text ?? ts.sys.readFile(f);
        return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
      },
      getCurrentDirectory: () => resolve(root),
      getCompilationSettings: () => config.options,
      getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
      fileExists: ts.sys.fileExists,
      readFile: ts.sys.readFile,
      readDirectory: ts.sys.readDirectory,
      directoryExists: ts.sys.directoryExists,
      getDirectories: ts.sys.getDirectories,
    };
    this.service = ts.createLanguageService(host, ts.createDocumentRegistry());
  }

  compiles(file: string, text: string): boolean {
    const path = resolve(this.root, file);
    const version = (this.overrides.get(path)?.version ?? 0) + 1;
    this.overrides.set(path, { text, version });
    const ok = this.service.getSyntacticDiagnostics(path).length === 0 && this.service.getSemanticDiagnostics(path).length === 0;
    this.overrides.set(path, { text: readFileSync(path, "utf8"), version: version + 1 });
    return ok;
  }
}

/**
 * A snapshot of the tree for one measurement: the sources the mutants come from and are type-checked in, and a copy
 * of dist/ (with package.json and node_modules beside it) where one file at a time holds a mutant. Editing the work
 * tree while a measurement runs changes nothing in it.
 */
class Sandbox {
  readonly dir: string;
  readonly src: string;

  constructor(area: Area) {
    this.dir = join(process.env.TMPDIR ?? "/tmp", `faultline-property-mutation-${area}`);
    this.src = join(this.dir, "src");
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.src, { recursive: true });
    for (const d of ["model", "impl", "props", "schema", "cli", "conformance", "bench", "tools", "test", "tsconfig.json", "vitest.config.ts", "package.json"]) {
      if (existsSync(d)) cpSync(d, join(this.src, d), { recursive: true });
    }
    symlinkSync(resolve("node_modules"), join(this.src, "node_modules"));
    cpSync("dist", join(this.dir, "dist"), { recursive: true });
    cpSync("package.json", join(this.dir, "package.json"));
    symlinkSync(resolve("node_modules"), join(this.dir, "node_modules"));
  }

  source(file: string): string {
    return readFileSync(join(this.src, file), "utf8");
  }

  /** Runs `judge` with the file's JS replaced by the transpiled mutant, then puts the original back. */
  withMutant<T>(file: string, text: string, judge: () => T): T {
    const js = join(this.dir, "dist", file.replace(/\.ts$/, ".js"));
    const original = readFileSync(js, "utf8");
    const out = ts.transpileModule(text, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext }, fileName: file });
    writeFileSync(js, out.outputText);
    try {
      return judge();
    } finally {
      writeFileSync(js, original);
    }
  }
}

interface Options {
  readonly area?: Area;
  readonly sample: number;
  readonly seed: number;
  readonly shard?: number;
  readonly timeoutS: number;
  readonly summary: boolean;
  readonly all: boolean;
  readonly rerunSurvivors: boolean;
  readonly files?: readonly string[];
  readonly precheck: boolean;
  readonly remap?: string;
  readonly gapsOnly: boolean;
}

function options(args: readonly string[]): Options {
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i < 0 ? undefined : args[i + 1];
  };
  const area = value("--area");
  if (area !== undefined && !(AREAS as readonly string[]).includes(area)) throw new Error(`--area: expected one of ${AREAS.join(", ")}, found "${area}"`);
  const shard = value("--shard");
  if (["--precheck", "--files", "--remap", "--gaps-only"].some((f) => args.includes(f)) && !args.includes("--rerun-survivors")) throw new Error("--precheck, --files, --remap and --gaps-only: only with --rerun-survivors");
  return {
    ...(area === undefined ? {} : { area: area as Area }),
    sample: Number(value("--sample") ?? 300),
    seed: Number(value("--seed") ?? 1),
    ...(shard === undefined ? {} : { shard: Number(shard) }),
    timeoutS: Number(value("--timeout") ?? 150),
    summary: args.includes("--summary"),
    all: args.includes("--all"),
    rerunSurvivors: args.includes("--rerun-survivors"),
    ...(value("--files") === undefined ? {} : { files: value("--files")!.split(",") }),
    precheck: args.includes("--precheck"),
    ...(value("--remap") === undefined ? {} : { remap: value("--remap")! }),
    gapsOnly: args.includes("--gaps-only"),
  };
}

export interface AreaReport {
  readonly area: Area;
  readonly seed: number;
  readonly suites: readonly string[];
  readonly shard: number;
  /** Mutants in the population sampled from; and those set aside (by a disable comment, or in report text). */
  readonly population: number;
  readonly disabled: number;
  readonly text: number;
  /** Sampled mutants the type checker refused (skipped, as Stryker does). */
  readonly compileErrors: number;
  readonly judged: readonly Judged[];
}

export const reportPath = (area: Area): string => join("docs", "mutation", "property", `${area}.json`);

function save(r: AreaReport): void {
  const path = reportPath(r.area);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(r, null, 1)}\n`);
  execFileSync("mv", [`${path}.tmp`, path]);
}

async function measure(o: Options & { area: Area }): Promise<AreaReport> {
  const sandbox = new Sandbox(o.area);
  const { all, disabled, text: inText } = await candidates(o.area, sandbox.src);
  const judge = judgeOf(o.area);
  const shard = o.shard ?? judge.shard;
  const previous = existsSync(reportPath(o.area)) ? (JSON.parse(readFileSync(reportPath(o.area), "utf8")) as AreaReport) : undefined;
  const done = new Map((previous?.seed === o.seed && previous.shard === shard ? previous.judged : []).map((j) => [j.id, j]));
  const checker = new TypeChecker(sandbox.src);
  const judged: Judged[] = [];
  let compileErrors = 0;
  let checkMs = 0;
  console.log(`${o.area}: ${all.length} mutants (${disabled} disabled by comment and ${inText} in report text set aside); judging ${o.sample} by ${judge.suites.length} suites, shard 1/${shard}`);
  for (const c of shuffled(all, o.seed)) {
    if (judged.length >= o.sample) break;
    const known = done.get(c.id);
    if (known !== undefined) {
      judged.push(known);
      continue;
    }
    const text = mutated(sandbox.source(c.file), c);
    const checking = performance.now();
    const compiles = checker.compiles(c.file, text);
    checkMs += performance.now() - checking;
    if (!compiles) {
      compileErrors++;
      continue;
    }
    judged.push(judgeOne(sandbox, c, text, { suites: judge.suites, shard, timeoutS: o.timeoutS, precheck: false }));
    log(judged.length, o.sample, judged.at(-1)!, `(type checks so far ${Math.round(checkMs / 1000)}s)`);
    save({ area: o.area, seed: o.seed, suites: judge.suites, shard, population: all.length, disabled, text: inText, compileErrors, judged });
  }
  const r = { area: o.area, seed: o.seed, suites: judge.suites, shard, population: all.length, disabled, text: inText, compileErrors, judged };
  save(r);
  return r;
}

/** Judges one mutant in the sandbox: the verdict of tools/property-judge.ts, a timeout, or a crash (killed). */
function judgeOne(sandbox: Sandbox, c: Candidate, text: string, j: { suites: readonly string[]; shard: number; timeoutS: number; precheck: boolean }): Judged {
  const started = performance.now();
  const run = sandbox.withMutant(c.file, text, () =>
    // A heap cap: a mutant that makes a loop allocate without end dies in seconds, not after filling the machine.
    spawnSync(process.execPath, ["--max-old-space-size=1024", join(sandbox.dir, "dist", "tools", "property-judge.js"), "1", String(j.shard), j.suites.join(","), ...(j.precheck ? ["--precheck-only"] : [])], {
      cwd: sandbox.dir,
      // A mutant of the abstraction's bookkeeping shows at any step: every step checks it against a rebuild.
      env: { ...process.env, FAULTLINE_CROSS_CHECK: "1" },
      encoding: "utf8",
      timeout: j.timeoutS * 1000,
      maxBuffer: 64 * 1024 * 1024,
    }),
  );
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const verdict = run.error === undefined && run.status === 0 ? (JSON.parse(run.stdout.trim().split("\n").pop()!) as { killedBy: string | null }) : undefined;
  const status: Judged["status"] = verdict === undefined ? (run.error !== undefined ? "timeout" : "killed") : verdict.killedBy === null ? "survived" : "killed";
  const killedBy = verdict?.killedBy ?? (status === "timeout" ? "timeout" : `exit ${run.status}: ${run.stderr.trim().split("\n").slice(-1)[0] ?? ""}`);
  return { ...c, status, killedBy: status === "survived" ? null : killedBy, seconds };
}

const log = (n: number, of: number, j: Judged, extra: string): void =>
  console.log(`${n}/${of} ${j.status.padEnd(8)} ${String(j.seconds).padStart(6)}s ${j.file}:${j.line}:${j.column} ${j.mutator} ${JSON.stringify(j.replacement).slice(0, 60)} ${j.killedBy ?? ""} ${extra}`);

/**
 * Judges again the survivors of the area's report (those in `files`, when given) against the current tree, walking
 * the report's own sample: the rest keep their verdicts, and population and compile errors stand. Refused when a
 * sampled mutant's text is no longer where the report says, since then the sample would not be the same.
 */
async function rerun(o: Options & { area: Area }): Promise<AreaReport> {
  const path = reportPath(o.area);
  if (!existsSync(path)) throw new Error(`${path}: --rerun-survivors needs a report`);
  const sandbox = new Sandbox(o.area);
  const { all, disabled, text } = await candidates(o.area, sandbox.src);
  const previous = o.remap === undefined ? (JSON.parse(readFileSync(path, "utf8")) as AreaReport) : await remapped(o.area, o.remap, sandbox, all, { disabled, text, timeoutS: o.timeoutS });
  if (all.length !== previous.population) throw new Error(`${path}: population ${previous.population}, the tree has ${all.length}: the area's files changed`);
  const judge = { suites: judgeOf(o.area).suites, shard: previous.shard, timeoutS: o.timeoutS, precheck: o.precheck };
  const judged = [...previous.judged];
  const explained = o.gapsOnly ? ledgerEntries().filter((e) => e.area === o.area && e.category !== "gap").map((e) => e.id) : [];
  const todo = judged.flatMap((j, i) => (j.status === "survived" && (o.files === undefined || o.files.includes(j.file)) && !explained.includes(j.id) ? [i] : []));
  console.log(`${o.area}: rejudging ${todo.length} survivors of ${judged.length} by ${judge.suites.length} suites, shard 1/${judge.shard}${o.precheck ? ", vocabulary precheck only" : ""}`);
  for (const [n, i] of todo.entries()) {
    const was = judged[i]!;
    const source = sandbox.source(was.file);
    if (source.slice(was.start, was.end) !== was.original) throw new Error(`${path}: ${was.id}: the text at ${was.start}-${was.end} changed, so the sample is not the same`);
    const now = judgeOne(sandbox, was, mutated(source, was), judge);
    // Past the precheck, the runs it skipped would judge as they did last time.
    judged[i] = o.precheck && now.status === "survived" ? was : now;
    log(n + 1, todo.length, judged[i]!, "");
    save({ ...previous, suites: judge.suites, judged });
  }
  const r = { ...previous, suites: judge.suites, judged };
  save(r);
  return r;
}

/** The survivor ledger (tools/property-survivors.ts keeps it). */
const LEDGER = join("docs", "mutation", "property-survivors.json");
const ledgerEntries = (): { id: string; area: string; category: string }[] =>
  existsSync(LEDGER) ? (JSON.parse(readFileSync(LEDGER, "utf8")) as { entries: { id: string; area: string; category: string }[] }).entries : [];

/**
 * Line numbers of `file` at `commit` mapped to the work tree's (`git diff -U0`): a line inside a changed hunk maps to
 * nothing.
 */
function lineMap(commit: string, file: string, root: string): (line: number) => number | undefined {
  const diff = execFileSync("git", ["diff", "--no-color", "-U0", commit, "--", file], { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const hunks = [...diff.matchAll(/^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/gm)].map((m) => ({
    oldStart: Number(m[1]),
    oldCount: m[2] === undefined ? 1 : Number(m[2]),
    newStart: Number(m[3]),
    newCount: m[4] === undefined ? 1 : Number(m[4]),
  }));
  return (line) => {
    let shift = 0;
    for (const h of hunks) {
      // A hunk of count 0 inserts (or deletes) after its start line.
      const first = h.oldCount === 0 ? h.oldStart + 1 : h.oldStart;
      if (line < first) break;
      if (line < first + h.oldCount) return undefined;
      shift = h.newStart + (h.newCount === 0 ? 1 : 0) + h.newCount - (first + h.oldCount);
    }
    return line + shift;
  };
}

/**
 * The report's sample carried from the tree at `commit` (where it was judged) to the current one, when the area's
 * files changed since: a sampled mutant whose line is unchanged keeps its verdict under its new position; one whose
 * line changed or went is dropped, and as many are drawn (same seed, uniformly) from the mutants of the current tree
 * that are the image of none in the old one (new or changed code) and judged in full, so the sample keeps its size.
 * The report then describes the current tree: its population, and the new draws' compile errors added.
 */
async function remapped(area: Area, commit: string, sandbox: Sandbox, all: readonly Candidate[], o: { disabled: number; text: number; timeoutS: number }): Promise<AreaReport> {
  const previous = JSON.parse(readFileSync(reportPath(area), "utf8")) as AreaReport;
  const old = join(sandbox.dir, "old");
  mkdirSync(old, { recursive: true });
  execFileSync("sh", ["-c", `git archive ${commit} model impl | tar -x -C ${old}`]);
  const before = await candidates(area, old);
  if (before.all.length !== previous.population) throw new Error(`--remap ${commit}: its tree has ${before.all.length} mutants in ${area}, the report ${previous.population}: not the tree it was judged on`);
  const maps = new Map<string, (line: number) => number | undefined>();
  const mapOf = (file: string): ((line: number) => number | undefined) => {
    if (!maps.has(file)) maps.set(file, existsSync(join(sandbox.src, file)) ? lineMap(commit, file, ".") : () => undefined);
    return maps.get(file)!;
  };
  const key = (c: Candidate, line: number): string => `${c.file}@${line}:${c.column}+${c.end - c.start}:${c.mutator}:${c.replacement}:${c.original}`;
  const now = new Map(all.map((c) => [key(c, c.line), c]));
  const image = (c: Candidate): Candidate | undefined => {
    const line = mapOf(c.file)(c.line);
    return line === undefined ? undefined : now.get(key(c, line));
  };
  const images = new Set(before.all.flatMap((c) => image(c)?.id ?? []));
  const judged: Judged[] = [];
  let lost = 0;
  for (const j of previous.judged) {
    const c = image(j);
    if (c === undefined) lost++;
    else judged.push({ ...j, ...c });
  }
  const fresh = shuffled(all.filter((c) => !images.has(c.id)), previous.seed);
  console.log(`${area}: remapped from ${commit}: ${judged.length} of ${previous.judged.length} sampled mutants carried, ${lost} on changed lines dropped; drawing ${lost} from the ${fresh.length} mutants of new or changed code`);
  const checker = new TypeChecker(sandbox.src);
  const judge = { suites: judgeOf(area).suites, shard: previous.shard, timeoutS: o.timeoutS, precheck: false };
  let compileErrors = previous.compileErrors;
  for (const c of fresh) {
    if (judged.length >= previous.judged.length) break;
    const text = mutated(sandbox.source(c.file), c);
    if (!checker.compiles(c.file, text)) {
      compileErrors++;
      continue;
    }
    judged.push(judgeOne(sandbox, c, text, judge));
    log(judged.length, previous.judged.length, judged.at(-1)!, "(new draw)");
  }
  const r: AreaReport = { ...previous, population: all.length, disabled: o.disabled, text: o.text, compileErrors, judged };
  save(r);
  // The survivor ledger is keyed by id: carried survivors keep their entries under the new ids.
  const renamed = new Map(previous.judged.flatMap((j) => {
    const c = image(j);
    return c === undefined ? [] : [[j.id, c.id] as const];
  }));
  if (existsSync(LEDGER)) {
    const entries = ledgerEntries().map((e) => (e.area === area ? { ...e, id: renamed.get(e.id) ?? e.id } : e));
    writeFileSync(`${LEDGER}.tmp`, `${JSON.stringify({ entries }, null, 1)}\n`);
    execFileSync("mv", [`${LEDGER}.tmp`, LEDGER]);
  }
  return r;
}

/** Wilson's score interval for a binomial proportion at 95%. */
export function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.959964;
  const p = k / n;
  const d = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

export function summaryLine(r: AreaReport): string {
  const n = r.judged.length;
  const k = r.judged.filter((j) => j.status !== "survived").length;
  const [lo, hi] = wilson(k, n);
  return `${r.area.padEnd(5)} ${String(n).padStart(4)} sampled of ${String(r.population).padStart(5)}  killed ${String(k).padStart(4)}  ${pct(k / Math.max(1, n)).padStart(6)}  95% CI ${pct(lo)}-${pct(hi)}  (${r.compileErrors} compile errors skipped)`;
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  if (o.all && !o.summary && o.area === undefined) {
    // The whole measurement, area after area (each resumes from its report), then the summary.
    for (const area of AREAS) await measure({ ...o, area });
    for (const area of AREAS) console.log(summaryLine(JSON.parse(readFileSync(reportPath(area), "utf8")) as AreaReport));
    return;
  }
  if (o.summary || o.area === undefined) {
    for (const area of AREAS) if (existsSync(reportPath(area))) console.log(summaryLine(JSON.parse(readFileSync(reportPath(area), "utf8")) as AreaReport));
    return;
  }
  const r = o.rerunSurvivors ? await rerun({ ...o, area: o.area }) : await measure({ ...o, area: o.area });
  console.log(summaryLine(r));
  for (const j of r.judged.filter((x) => x.status === "survived")) console.log(`  survived ${j.file}:${j.line}:${j.column} ${j.mutator} ${JSON.stringify(j.original)} -> ${JSON.stringify(j.replacement)}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]).endsWith("property-mutation.js")) await main();
