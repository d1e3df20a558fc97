// faultline conform [FILE...]: scenarios through the model and the real kernel, step by step; with no files, the
// conformance corpus and then the random suite. With --races: concurrent scenarios on real threads (race-runner.ts).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stableStringify } from "../props/outcomes.js";
import { BUG_IDS } from "../impl/bugs.js";
import { FileError } from "../schema/report.js";
import { decodeScenario, type Scenario } from "../schema/scenario.js";
import { CAPS_ENV, hostOf, presetOf, type Host } from "./capabilities.js";
import { isFailure, runSteps, type StepReport, type Verdict } from "./compare.js";
import { hugePagesNeeded, reserveHugePages } from "./hugepages.js";
import { Helper } from "./native.js";
import { probeHost } from "./probe.js";
import { emptyReport, RaceHelper, raceShapes, runRaceShape, scenarioShape, type RaceReport } from "./race-runner.js";
import { planScenario } from "./requirements.js";
import { runRandom } from "./suite.js";

export { DEVIATIONS, isFailure, runSteps, type StepReport, type Verdict } from "./compare.js";
export { Helper, buildHelper } from "./native.js";
export { capabilitiesOf, hostConfig, hostOf, parseOverride, presetOf, CAPS_ENV, type Host } from "./capabilities.js";
export { parseProbe, probeHost, type HostProbe } from "./probe.js";
export { planScenario, requirementsOf, stepRuns } from "./requirements.js";
export { runRandom, RANDOM_SETUP } from "./suite.js";
export { raceShapes, runRaceShape, scenarioShape, RaceHelper, type RaceReport, type RaceShape } from "./race-runner.js";
export { checkRecording, type Recording, type HistoryVerdict } from "./races.js";

/** conformance/corpus, found from this file whether it runs from source or from dist/. */
export function corpusDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    for (const c of [join(dir, "corpus"), join(dir, "conformance", "corpus")]) {
      try {
        if (statSync(c).isDirectory() && readdirSync(c).length > 0 && statSync(join(c, "..", "native")).isDirectory()) return c;
      } catch {
        /* keep looking */
      }
    }
    dir = resolve(dir, "..");
  }
  throw new Error("conformance/corpus not found");
}

/** Every corpus scenario file, sorted, as [area, path]. */
export function corpusFiles(dir = corpusDir()): string[] {
  const out: string[] = [];
  for (const area of readdirSync(dir).sort()) {
    const sub = join(dir, area);
    if (!statSync(sub).isDirectory()) continue;
    for (const f of readdirSync(sub).sort()) if (f.endsWith(".json")) out.push(join(sub, f));
  }
  return out;
}

export interface ScenarioResult {
  readonly file: string;
  readonly scenario: Scenario;
  readonly reports: readonly StepReport[];
  /** Why the scenario did not run on this host (the capability it needs), if so. */
  readonly skipped?: string;
}

/** A scenario fails when a step disagrees, unless the file documents an open disagreement (expectedToFail). */
export const scenarioDisagrees = (r: ScenarioResult): boolean => r.reports.some(isFailure);
export const scenarioFailed = (r: ScenarioResult): boolean => scenarioDisagrees(r) && r.scenario.expectedToFail === undefined;

export const loadCorpusScenario = (file: string): Scenario => decodeScenario(file, readFileSync(file, "utf8"), { bugs: BUG_IDS });

/** Runs one scenario file on this host with the host's configuration, or says why it is skipped here. */
export async function runScenarioFile(
  helper: Helper | undefined,
  host: Host,
  file: string,
  onStep?: (r: StepReport) => void,
  load: (file: string) => Scenario = loadCorpusScenario,
): Promise<ScenarioResult> {
  const scenario = load(file);
  const plan = planScenario(scenario, host);
  if (!plan.run) return { file, scenario, reports: [], skipped: plan.skip };
  if (helper === undefined) return { file, scenario, reports: [], skipped: "needs the native helper" };
  const steps = scenario.steps ?? [];
  let reservation;
  try {
    reservation = reserveHugePages(hugePagesNeeded(steps));
  } catch (e) {
    return { file, scenario, reports: [], skipped: `needs HUGETLB_2M (${(e as Error).message})` };
  }
  try {
    const reports = await runSteps(helper, plan.config, steps, scenario.expect ?? [], onStep === undefined ? {} : { onStep });
    await helper.send({ op: "__reset" });
    return { file, scenario, reports };
  } finally {
    reservation.release();
  }
}

/** The native helper, or why there is none (no C compiler, a build failure). */
export function startHelper(): { helper?: Helper; why: string } {
  try {
    return { helper: new Helper(), why: "ok" };
  } catch (e) {
    return { why: `the native helper could not be built (${(e as Error).message.split("\n")[0]})` };
  }
}

/** Probes the host (through the helper, when there is one) and applies the override (--caps, else FAULTLINE_CAPS). */
export async function detectHost(helper: Helper | undefined, why: string, override = process.env[CAPS_ENV] ?? ""): Promise<Host> {
  const probe = await probeHost(helper === undefined ? undefined : (op) => helper.send(op), why);
  return hostOf(probe, override);
}

export interface ConformOptions {
  /** Random sequences to run when no files are given (default 2000; 0 skips the random suite). */
  readonly runs?: number;
  readonly seed?: number;
  /** Print every step, not only the ones that do not agree. */
  readonly verbose?: boolean;
  /** Narrow (-NAME) or widen (+NAME) the probed capabilities; default FAULTLINE_CAPS. */
  readonly caps?: string;
  /** Where shrunk random disagreements are written (default conformance/found). */
  readonly foundDir?: string;
  /** Reads a scenario file (the CLI's, with its size and encoding checks); default: the corpus reader. */
  readonly load?: (file: string) => Scenario;
  readonly log?: (line: string) => void;
}

const MARK: Readonly<Record<Verdict, string>> = {
  agree: "agree",
  disagree: "DISAGREE",
  "model only": "model only",
  "model not yet": "model not yet",
  deviation: "deviation",
  error: "ERROR",
};

function formatStep(r: StepReport): string {
  const head = `  ${String(r.index).padStart(3)} ${r.op.op.padEnd(21)} ${MARK[r.verdict].padEnd(13)}`;
  const both =
    r.verdict === "agree" ? stableStringify(r.model) : `model ${stableStringify(r.model)}  kernel ${stableStringify(r.kernel)}`;
  const why = r.reason === undefined ? "" : `  (${r.reason})`;
  const exp = r.expectMismatch === undefined ? "" : `  EXPECTED ${stableStringify(r.expectMismatch)}`;
  return `${head} ${both}${why}${exp}`;
}

/** Area of a corpus file: its folder under corpus/ ("files" for files given on the command line elsewhere). */
const areaOf = (file: string): string => {
  const parts = relative(process.cwd(), file).split(/[\\/]/);
  const i = parts.lastIndexOf("corpus");
  return i >= 0 && parts.length > i + 2 ? parts[i + 1]! : "files";
};

/** The host's capabilities as report lines: the configuration the model runs with, then each capability. */
export function describeHost(host: Host): string[] {
  const p = host.probe;
  const preset = presetOf(host.config);
  const lines = [
    `kernel: ${p.kvm === "ok" ? `KVM API ${p.api}, VM types [${p.vmTypes.join(",")}], MAXPHYADDR ${p.maxphys}, guest ${p.guest}` : p.kvm}; userfaultfd ${p.uffd}`,
    `model configuration: ${preset === undefined ? "no named preset (the kernel-6.18 preset with the probed features)" : `the ${preset} preset`}` +
      (host.override === "" ? "" : `; override "${host.override}"`),
  ];
  const present = [...host.caps].filter(([, v]) => v.present).map(([k]) => k);
  const absent = [...host.caps].filter(([, v]) => !v.present);
  lines.push(`capabilities (${present.length}): ${present.join(" ")}`);
  for (const [k, v] of absent) lines.push(`  without ${k}: ${v.why}`);
  return lines;
}

/** The probe as one JSON document: the raw probe, each capability, the model's configuration and its preset. */
export function hostJson(host: Host): string {
  const caps = Object.fromEntries([...host.caps].map(([k, v]) => [k, { present: v.present, why: v.why }]));
  return stableStringify({ probe: host.probe, capabilities: caps, excluded: [...host.excluded], override: host.override, config: host.config, preset: presetOf(host.config) ?? null });
}

interface Tally {
  scenarios: number;
  ran: number;
  skipped: number;
  failed: number;
  steps: number;
}

/** Prints what the host offers (--probe); exit 0. */
export async function conformProbe(opts: { readonly json?: boolean; readonly caps?: string; readonly log?: (line: string) => void } = {}): Promise<number> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const { helper, why } = startHelper();
  try {
    const host = await detectHost(helper, why, opts.caps);
    if (opts.json) log(hostJson(host));
    else for (const line of describeHost(host)) log(line);
    return 0;
  } finally {
    await helper?.close();
  }
}

/** Runs the given scenario files (or the corpus and the random suite) and prints the per-step report; returns the exit code. */
export async function conform(files: string[], opts: ConformOptions = {}): Promise<number> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const { helper, why } = startHelper();
  try {
    const host = await detectHost(helper, why, opts.caps);
    for (const line of describeHost(host)) log(line);
    const chosen = files.length > 0 ? files : corpusFiles();
    const totals: Record<Verdict, number> = { agree: 0, disagree: 0, "model only": 0, "model not yet": 0, deviation: 0, error: 0 };
    const areas = new Map<string, Tally>();
    const skips = new Map<string, number>();
    let failed = 0;
    let knownOpen = 0;
    log("");
    for (const file of chosen) {
      const r = await runScenarioFile(helper, host, file, undefined, opts.load);
      const area = areaOf(file);
      const a = areas.get(area) ?? { scenarios: 0, ran: 0, skipped: 0, failed: 0, steps: 0 };
      const bad = scenarioFailed(r);
      const known = r.scenario.expectedToFail !== undefined && r.skipped === undefined;
      if (known) knownOpen++;
      if (bad) failed++;
      areas.set(area, {
        scenarios: a.scenarios + 1,
        ran: a.ran + (r.skipped === undefined ? 1 : 0),
        skipped: a.skipped + (r.skipped === undefined ? 0 : 1),
        failed: a.failed + (bad ? 1 : 0),
        steps: a.steps + r.reports.length,
      });
      if (r.skipped !== undefined) {
        skips.set(r.skipped, (skips.get(r.skipped) ?? 0) + 1);
        log(`skip ${relative(process.cwd(), file)}: skipped: ${r.skipped}`);
        continue;
      }
      const counts = r.reports.reduce<Record<string, number>>((m, st) => ({ ...m, [st.verdict]: (m[st.verdict] ?? 0) + 1 }), {});
      for (const st of r.reports) totals[st.verdict]++;
      const summary = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ");
      const mark = bad ? "FAIL" : known ? (scenarioDisagrees(r) ? "open" : "FIXD") : "ok  ";
      log(`${mark} ${relative(process.cwd(), file)}: ${r.scenario.name} [${summary}]`);
      if (known) log(`       ${scenarioDisagrees(r) ? "known open disagreement" : "agrees now: remove expectedToFail"}: ${r.scenario.expectedToFail}`);
      const notYet = r.reports.filter((st) => st.verdict === "model not yet").length;
      for (const st of r.reports) {
        if (st.verdict === "model not yet" && !opts.verbose) continue;
        if (opts.verbose || st.verdict !== "agree" || st.expectMismatch !== undefined) log(formatStep(st));
      }
      if (notYet > 0 && !opts.verbose) log(`       ${notYet} step(s) model not yet: the kernel's outcomes are kept in the file's expect list (--verbose shows them)`);
    }
    const ran = [...areas.values()].reduce((n, a) => n + a.ran, 0);
    log(`\nscenarios: ${chosen.length}, ran ${ran}, skipped ${chosen.length - ran}, failed: ${failed}, documented open disagreements: ${knownOpen}`);
    for (const [area, a] of [...areas].sort()) {
      log(`  ${area.padEnd(12)} ${String(a.ran).padStart(4)} ran (${a.steps} steps), ${String(a.skipped).padStart(3)} skipped, ${a.failed} failed`);
    }
    for (const [reason, n] of [...skips].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))) log(`  skipped ${n}: ${reason}`);
    log(`steps: ${Object.entries(totals).map(([k, v]) => `${v} ${k}`).join(", ")}`);
    let randomFailed = false;
    const runs = opts.runs ?? 2000;
    if (files.length === 0 && runs > 0 && helper !== undefined) {
      const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
      log(`\nrandom sequences: ${runs} runs, seed ${seed}`);
      const r = await runRandom(helper, host, { runs, seed, ...(opts.foundDir === undefined ? {} : { foundDir: opts.foundDir }) });
      log(`  ${r.sequences} sequences, ${r.steps} steps in ${(r.durationMs / 1000).toFixed(1)} s: ${Object.entries(r.verdicts).map(([k, v]) => `${v} ${k}`).join(", ")}`);
      if (r.failure !== undefined) {
        randomFailed = true;
        log(`  DISAGREEMENT, shrunk to ${r.failure.file}:`);
        for (const st of r.failure.reports) if (st.verdict !== "agree" || opts.verbose) log(formatStep(st));
      }
    } else if (files.length === 0 && runs > 0) {
      log(`\nrandom sequences: skipped (${why})`);
    }
    return failed > 0 || randomFailed ? 1 : 0;
  } finally {
    await helper?.close();
  }
}

export interface RaceProgress {
  update(shape: string, done: number, total: number, elapsedMs: number): void;
  finish(line: string): void;
}

export interface ConformRacesOptions {
  /** Runs of each race (default 100). */
  readonly runs?: number;
  readonly seed?: number;
  readonly caps?: string;
  /** Where a failing history is written (default conformance/found). */
  readonly foundDir?: string;
  readonly load?: (file: string) => Scenario;
  readonly log?: (line: string) => void;
  readonly progress?: RaceProgress;
}

const pct = (n: number, of: number): string => (of === 0 ? "-" : `${Math.round((100 * n) / of)}%`);

/** One race's summary line: histories, the share that overlapped in real time, response orders, blocks, time. */
export function raceLine(r: RaceReport): string {
  if (r.skipped !== undefined) return `skip ${r.shape}: skipped: ${r.skipped}`;
  // Vacuous: it ran, but no history overlapped (none at all when the helper could run no run of it).
  const mark = r.failure !== undefined ? "FAIL" : r.errors.length > 0 ? "ERR " : r.runs > 0 && r.overlapping === 0 ? "VAC " : "ok  ";
  const parts = [
    `${r.checked} histories`,
    `${r.overlapping} overlapping (${pct(r.overlapping, r.checked)})`,
    `${r.orders} response orders`,
    `${r.blocked} ended blocked as the model allows`,
    ...(r.deviations > 0 ? [`${r.deviations} explained by a documented deviation (${r.deviationIds.join(", ")})`] : []),
    ...(r.dropped > 0 ? [`${r.dropped} setup memslot(s) this host cannot create left out`] : []),
    ...(r.unsupported > 0 ? [`${r.unsupported} runs the helper cannot run`] : []),
    ...(r.undecided > 0 ? [`${r.undecided} undecided`] : []),
  ];
  return `${mark} ${r.shape}: ${parts.join(", ")} in ${(r.durationMs / 1000).toFixed(1)} s`;
}

/** faultline conform --races: every race (or the given concurrent scenario files) on the real kernel; the exit code. */
export async function conformRaces(files: string[], opts: ConformRacesOptions = {}): Promise<number> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const load = opts.load ?? loadCorpusScenario;
  const shapes = files.map((file) => {
    const s = load(file);
    const why = "expected a concurrent scenario (actors) for --races, found a sequential one (steps)";
    if (s.actors === undefined) throw new FileError(file, "actors", why);
    return scenarioShape(s);
  });
  const { helper, why } = startHelper();
  const h = new RaceHelper(helper);
  try {
    const host = await detectHost(helper, why, opts.caps);
    for (const line of describeHost(host)) log(line);
    const runs = opts.runs ?? 100;
    const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
    log(`\nraces on this kernel: ${runs} runs each, seed ${seed}`);
    let bad = 0;
    let histories = 0;
    let ms = 0;
    for (const shape of shapes.length > 0 ? shapes : raceShapes()) {
      const started = performance.now();
      const r: RaceReport =
        helper === undefined
          ? { ...emptyReport(shape.name), skipped: why, durationMs: 0 }
          : await runRaceShape(h, host, shape, {
              runs,
              seed,
              ...(opts.foundDir === undefined ? {} : { foundDir: opts.foundDir }),
              onRun: (done, total) => opts.progress?.update(shape.name, done, total, performance.now() - started),
            });
      const line = raceLine(r);
      if (opts.progress !== undefined) opts.progress.finish(line);
      else log(line);
      histories += r.checked;
      ms += r.durationMs;
      for (const e of r.errors) log(`       helper error: ${e}`);
      if (r.failure !== undefined) {
        const v = r.failure.verdict;
        log(`       found at run ${r.failure.run}, shrunk to ${r.failure.actors.map((a) => `${a.name} (${a.steps.length})`).join(", ")}`);
        if (v.kind === "illegal") {
          const after = v.prefix.join(", ") || "nothing";
          log(`       ${v.stuck} answered ${JSON.stringify(v.actual)} where the model says ${JSON.stringify(v.expected)} (after ${after})`);
        }
        if (v.kind === "blocked") log(`       ${v.stuck} stayed blocked in ${v.waits} where the model says it cannot block`);
        if (r.failure.file !== undefined) log(`       written: ${relative(process.cwd(), r.failure.file)} (faultline replay draws it)`);
      }
      if (r.failure !== undefined || r.errors.length > 0) bad++;
    }
    const rate = ms === 0 ? 0 : ((histories * 1000) / ms).toFixed(1);
    log(`\n${histories} histories in ${(ms / 1000).toFixed(1)} s (${rate} per second); ${bad} race(s) failed`);
    return bad > 0 ? 1 : 0;
  } finally {
    await h.close();
  }
}
