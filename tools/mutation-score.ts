// The mutation score per folder from StrykerJS's JSON reports (docs/MUTATION.md), and the mutants that survive.
// npm run mutation:score -- [--survivors] [report.json ...]   (default: every reports/mutation/**/mutation.json)
// Score: killed and timed-out mutants over those plus survived and uncovered ones. Compile errors (refused by the
// TypeScript checker), static mutants (run only at module load, ignored by ignoreStatic) and mutants a
// `// Stryker disable` comment marks equivalent (with its reason) are set aside.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as t from "io-ts";
import { isLeft } from "fp-ts/lib/Either.js";
import { formatErrors } from "../schema/report.js";

const Mutant = t.intersection([
  t.type({
    mutatorName: t.string,
    status: t.keyof({ Killed: null, Survived: null, NoCoverage: null, Timeout: null, CompileError: null, RuntimeError: null, Ignored: null, Pending: null }),
    location: t.type({ start: t.type({ line: t.number, column: t.number }) }),
  }),
  t.partial({ replacement: t.string, static: t.boolean, statusReason: t.string }),
]);
const Report = t.type({ files: t.record(t.string, t.type({ mutants: t.array(Mutant) })) });
type Mutant = t.TypeOf<typeof Mutant>;

export interface FolderScore {
  folder: string;
  mutants: number;
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  static: number;
  compileError: number;
  ignored: number;
}

export interface Survivor {
  file: string;
  line: number;
  column: number;
  mutator: string;
  replacement: string;
  status: "Survived" | "NoCoverage";
}

/** model/kvm/fault.ts -> model/kvm; model/step.ts -> model (the core files at the top of model/ and impl/). */
export const folderOf = (file: string): string => {
  const parts = file.split("/");
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : (parts[0] ?? file);
};

export const scoreOf = (f: FolderScore): number => {
  const detected = f.killed + f.timeout;
  const counted = detected + f.survived + f.noCoverage;
  return counted === 0 ? 100 : (100 * detected) / counted;
};

const empty = (folder: string): FolderScore => ({ folder, mutants: 0, killed: 0, timeout: 0, survived: 0, noCoverage: 0, static: 0, compileError: 0, ignored: 0 });

function tally(s: FolderScore, m: Mutant): void {
  s.mutants++;
  if (m.status === "CompileError") s.compileError++;
  else if (m.static === true) s.static++;
  else if (m.status === "Killed") s.killed++;
  else if (m.status === "Timeout") s.timeout++;
  else if (m.status === "Survived") s.survived++;
  else if (m.status === "NoCoverage") s.noCoverage++;
  else s.ignored++;
}

export function decodeReport(file: string): t.TypeOf<typeof Report> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: not a JSON mutation report (${(e as Error).message})`);
  }
  const r = Report.decode(json);
  if (isLeft(r)) throw new Error(formatErrors(file, r.left));
  return r.right;
}

/** Per-folder scores, the model/ and impl/ totals, and the survivors, over the given reports. */
export function score(files: readonly string[]): { folders: FolderScore[]; totals: FolderScore[]; survivors: Survivor[] } {
  const folders = new Map<string, FolderScore>();
  const totals = new Map<string, FolderScore>();
  const survivors: Survivor[] = [];
  for (const report of files) {
    for (const [file, { mutants }] of Object.entries(decodeReport(report).files)) {
      const folder = folderOf(file);
      const top = `${file.split("/")[0]}/ (all)`;
      for (const m of mutants) {
        tally(folders.get(folder) ?? folders.set(folder, empty(folder)).get(folder)!, m);
        tally(totals.get(top) ?? totals.set(top, empty(top)).get(top)!, m);
        if ((m.status === "Survived" || m.status === "NoCoverage") && m.static !== true)
          survivors.push({ file, line: m.location.start.line, column: m.location.start.column, mutator: m.mutatorName, replacement: m.replacement ?? "", status: m.status });
      }
    }
  }
  const byName = (a: FolderScore, b: FolderScore): number => a.folder.localeCompare(b.folder);
  const order = (a: Survivor, b: Survivor): number => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column;
  return { folders: [...folders.values()].sort(byName), totals: [...totals.values()].sort(byName), survivors: survivors.sort(order) };
}

export function table(rows: readonly FolderScore[]): string {
  const head = "| folder | mutants | killed | timeout | survived | no coverage | static | compile error | ignored | score |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
  const line = (f: FolderScore): string =>
    `| ${f.folder} | ${f.mutants} | ${f.killed} | ${f.timeout} | ${f.survived} | ${f.noCoverage} | ${f.static} | ${f.compileError} | ${f.ignored} | **${scoreOf(f).toFixed(1)}%** |`;
  return [head, ...rows.map(line)].join("\n");
}

/** Every reports/mutation/<area>/mutation.json, and the whole-tree report if there is one. */
export function defaultReports(root = "reports/mutation"): string[] {
  if (!existsSync(root)) return [];
  const areas = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(root, d.name, "mutation.json"));
  return [join(root, "mutation.json"), ...areas.sort()].filter((f) => existsSync(f));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const listSurvivors = args.includes("--survivors");
  const reports = args.filter((a) => a !== "--survivors");
  const files = reports.length > 0 ? reports : defaultReports();
  if (files.length === 0) {
    console.error("mutation:score: no reports under reports/mutation: run `npm run mutation` (or one area) first");
    process.exit(2);
  }
  try {
    const { folders, totals, survivors } = score(files);
    console.log(`reports: ${files.join(", ")}\n\n${table(folders)}\n\n${table(totals)}`);
    if (listSurvivors) for (const s of survivors) console.log(`${s.file}:${s.line}:${s.column} ${s.status} ${s.mutator} ${JSON.stringify(s.replacement)}`);
  } catch (e) {
    console.error((e as Error).message.split("\n")[0]);
    process.exit(2);
  }
}
