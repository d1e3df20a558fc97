// docs/VARIANTS.md, generated from a run: every fault-exit design (config.faultExit) through the KVM suites and
// races, and through one fixed post-copy-style sequence whose costs the model counts. `npm run docs:variants`
// (or `node dist/tools/variants-doc.js --runs N --seed S`) rewrites it and stores a counterexample under
// docs/variants/ for every invariant a design breaks; test/variants.test.ts replays those and recomputes the costs.
import { pathToFileURL } from "node:url";
import { initial, step, type State } from "../model/index.js";
import { LEVEL_PAGES } from "../model/consts.js";
import { spans } from "../model/ranges.js";
import { VARIANT_RULES } from "../model/kvm/variants.js";
import { USERFAULT_RULES } from "../model/kvm/userfault.js";
import type { Rule } from "../model/rules.js";
import { replaceAtomically } from "../cli/files.js";
import { writeCounterexample } from "../cli/counterexample.js";
import { INVARIANTS } from "../model/index.js";
import { FAULT_EXIT_DESIGNS, PRESETS, type Config, type FaultExitDesign } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { HUGETLB, regionOp, setupOf } from "../props/layouts.js";
import { EXIT_PROGRESS } from "../props/progress.js";
import { PROGRESS_BUGS, PROGRESS_RACES } from "../props/progress-races.js";
import { suiteNamed } from "../props/registry.js";
import type { Suite, SuiteResult } from "../props/suite.js";
import { VARIANT_CHECK_SUITES } from "../props/variants.js";

export const DOC = "docs/VARIANTS.md";
export const COUNTEREXAMPLES = "docs/variants";

/** What each design is, and the rule that carries its citation. */
export const DESIGNS: Readonly<Record<FaultExitDesign, Rule>> = {
  "userfault-v3": USERFAULT_RULES.exit,
  "userfault-v1": VARIANT_RULES.v1DisableZap,
  "eager-split": VARIANT_RULES.eagerSplit,
  "memory-fault-rwx": VARIANT_RULES.rwx,
  "arm64-memory-fault-info": VARIANT_RULES.arm64Annotate,
  "exit-on-missing": VARIANT_RULES.exitOnMissing,
};

/** The KVM suites and races every design runs through (each on its own architecture). */
export const VARIANT_SUITES: readonly string[] = [
  "kvm-anon-x86",
  "kvm-hugetlb-x86",
  "kvm-hugetlb-arm64",
  "kvm-gmem-x86",
  "exit-progress",
  "exit-progress-gmem",
  "exit-progress-arm64",
  "postcopy",
  "race-userfault-enable",
  "race-userfault-enable-arm64",
  "race-userfault-clear",
  "postcopy-race",
  "postcopy-race-arm64",
  "postcopy-kvm-race",
];

/** A design's own suites: its suites in the default check (props/variants.ts) and its exit-progress race. */
export const ownSuites = (design: FaultExitDesign): readonly Suite[] =>
  [...VARIANT_CHECK_SUITES, ...PROGRESS_RACES].filter((s) => s.config.faultExit === design && !VARIANT_SUITES.includes(s.name));

/** Properties that are not model invariants but are checked by the suites above. */
const SUITE_PROPERTIES = ["refinement", "linearizability", "postcopy-no-early-read", "postcopy-equals-source", "postcopy-threads-finish", "exit-progress"];

/** Refinement failures name what differed (refinement.state, refinement.outcome): one row for all of them. */
const rowOf = (property: string): string => (property.startsWith("refinement") ? "refinement" : property);

export interface Broken {
  readonly suite: string;
  readonly property: string;
  readonly counterexample: string;
}

/** A design's exit-progress race: what the check found, and what it finds with the race's seeded bug on. */
export interface ProgressRow {
  readonly suite: string;
  readonly runs: number;
  /** Runs in which some vCPU's first access exited, so the retry was judged after the VMM's answer. */
  readonly judged: number;
  /** What the race broke, in the order found (a design's own break, and exit progress if it failed). */
  readonly broken: readonly Broken[];
  readonly bug: string;
  /** With the bug: the run that first failed and the property, under every check and under exit-progress alone. */
  readonly found?: { readonly run: number; readonly property: string };
  readonly alone?: { readonly run: number; readonly property: string };
}

export interface VariantRun {
  readonly design: FaultExitDesign;
  readonly broken: readonly Broken[];
  /** Non-vacuous evaluations per invariant, summed over the suites. */
  readonly exercised: ReadonlyMap<string, number>;
  /** How often the design's own rule decided a step (DESIGNS), summed over the suites. */
  readonly fired: number;
  readonly progress: readonly ProgressRow[];
}

/**
 * One design through every suite: on a failure the counterexample is stored and the suite runs again without the
 * broken invariant (at most 3 rounds), so one broken property does not hide the next.
 */
export async function runDesign(design: FaultExitDesign, seed: number, runs: number, dir = COUNTEREXAMPLES): Promise<VariantRun> {
  const broken: Broken[] = [];
  const exercised = new Map<string, number>();
  const progress: ProgressRow[] = [];
  let fired = 0;
  const all = [...INVARIANTS.map((i) => i.name), EXIT_PROGRESS];
  const suites = [
    ...VARIANT_SUITES.map((name) => {
      const s = suiteNamed(name);
      if (s === undefined) throw new Error(`no suite ${name}`);
      return s;
    }),
    ...ownSuites(design),
  ];
  for (const suite of suites) {
    const name = suite.name;
    const n = Math.min(runs, suite.runs);
    let off: string[] = [];
    let refinement = true;
    let judged = 0;
    const here: Broken[] = [];
    for (let round = 0; round < 3; round++) {
      const checks = { refinement, invariants: all.filter((i) => !off.includes(i)) };
      const r: SuiteResult = await suite.run({ seed, runs: n, faultExit: design, checks });
      for (const [inv, c] of r.stats.invariants) exercised.set(inv, (exercised.get(inv) ?? 0) + c.nonVacuous);
      judged += r.stats.invariants.get(EXIT_PROGRESS)?.nonVacuous ?? 0;
      fired += r.stats.rules.get(DESIGNS[design].id) ?? 0;
      if (r.failure === undefined || r.counterexample === undefined) break;
      const stored = writeCounterexample(`${name}@${design}`, r.counterexample, dir);
      const b = { suite: name, property: r.failure.property, counterexample: stored.path };
      broken.push(b);
      here.push(b);
      if (r.failure.property.startsWith("refinement")) refinement = false;
      else if (all.includes(r.failure.property)) off = [...off, r.failure.property];
      else break;
    }
    const bug = PROGRESS_BUGS[name];
    if (bug === undefined) continue;
    const withBug = async (checks?: { refinement: boolean; invariants: string[] }) => {
      const r = await suite.run({ seed, runs: suite.runs, faultExit: design, bugs: [bug], ...(checks === undefined ? {} : { checks }) });
      return r.failure === undefined ? undefined : { run: r.runsToFailure ?? 0, property: r.failure.property };
    };
    const found = await withBug();
    const alone = await withBug({ refinement: false, invariants: [EXIT_PROGRESS] });
    progress.push({ suite: name, runs: n, judged, bug, broken: here, ...(found === undefined ? {} : { found }), ...(alone === undefined ? {} : { alone }) });
  }
  return { design, broken, exercised, fired, progress };
}

export interface Costs {
  readonly zappedPages: number;
  readonly hugeLost: number;
  readonly memoryFaultExits: number;
  readonly userfaultExits: number;
  readonly bareEfaults: number;
  readonly mapped: number;
  readonly flags: readonly string[];
}

const PAGES_2M = LEVEL_PAGES[1];

/**
 * The cost sequence, on the hugetlbfs layout's slot 0 (8 MiB, 2 MiB pages): the guest touches two huge regions,
 * the VMM marks gfn 1 and gfn 513 (a late post-copy, or two poisoned 4 KiB pages) and turns KVM_MEM_USERFAULT on;
 * the guest reads the marked and two unmarked pages, the VMM answers each USERFAULT exit by clearing the bit, the
 * guest reads again; the VMM turns USERFAULT off and the guest reads once more; last, the VMM maps the backing
 * read-only and the guest writes, which GUP refuses.
 */
export function costSequence(): Op[] {
  const slot0 = HUGETLB.slots[0]!;
  const read = (gfn: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: gfn * 4096, kind: "read" });
  const marked = [1, PAGES_2M + 1];
  const touched = [0, PAGES_2M, 1, PAGES_2M + 1, 2, PAGES_2M + 2];
  return [
    read(0),
    read(PAGES_2M),
    ...marked.map((g): Op => ({ op: "userfault_set", vm: "v0", slot: 0, gfn_offset: g, npages: 1 })),
    regionOp(slot0, { flags: ["USERFAULT"] }),
    ...touched.map(read),
    ...marked.map((g): Op => ({ op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: g, npages: 1 })),
    ...touched.map(read),
    regionOp(slot0),
    ...touched.map(read),
    // The VMM maps the backing read-only again: the guest's write fails in GUP (a bare EFAULT, or an annotated exit).
    { op: "munmap", map: "m1" },
    { op: "mmap", map: "m1", file: "f0", offset: 0, length: 32 * 2 ** 20, shared: true, prot: "r" },
    { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 3 * 4096, kind: "write", byte: 1 },
  ];
}

const mappedPages = (s: State): number => s.kvm.vms.reduce((n, vm) => n + vm.stage2.reduce((m, s2) => m + spans(s2, 0, Number.MAX_SAFE_INTEGER).reduce((k, sp) => k + sp.end - sp.start, 0), 0), 0);
const hugeMappings = (s: State): number =>
  s.kvm.vms.reduce((n, vm) => n + vm.stage2.reduce((m, s2) => m + spans(s2, 0, Number.MAX_SAFE_INTEGER).filter((sp) => sp.value.level > 0).reduce((k, sp) => k + (sp.end - sp.start) / LEVEL_PAGES[sp.value.level], 0), 0), 0);

/** The cost sequence through the model under one design on one architecture. */
export function costs(design: FaultExitDesign, arch: "x86" | "arm64"): Costs {
  const config: Config = { ...(arch === "x86" ? PRESETS.default : PRESETS.arm64), faultExit: design };
  let s = initial(config);
  for (const op of setupOf(HUGETLB, 0)) s = step(s, op).state;
  let zappedPages = 0;
  let hugeLost = 0;
  let memoryFaultExits = 0;
  let userfaultExits = 0;
  let bareEfaults = 0;
  let mapped = 0;
  const flags = new Set<string>();
  for (const op of costSequence()) {
    const r = step(s, op);
    const out: Outcome = r.outcome;
    if (op.op === "vcpu_access") {
      if ("exit" in out && out.exit === "memory_fault") {
        memoryFaultExits++;
        for (const f of out.flags ?? []) flags.add(f);
        if ((out.flags ?? []).includes("USERFAULT")) userfaultExits++;
      }
      if ("errno" in out && out.errno === "EFAULT" && !("exit" in out)) bareEfaults++;
      if (mappedPages(r.state) > mappedPages(s)) mapped++;
    } else {
      zappedPages += Math.max(0, mappedPages(s) - mappedPages(r.state));
      hugeLost += Math.max(0, hugeMappings(s) - hugeMappings(r.state));
    }
    s = r.state;
  }
  return { zappedPages, hugeLost, memoryFaultExits, userfaultExits, bareEfaults, mapped, flags: [...flags].sort() };
}

const cell = (s: string): string => s.replaceAll("|", "\\|");

export function costTable(): string[] {
  const rows = FAULT_EXIT_DESIGNS.flatMap((d) =>
    (["x86", "arm64"] as const).map((arch) => {
      const c = costs(d, arch);
      return `| ${d} | ${arch} | ${c.zappedPages} | ${c.hugeLost} | ${c.memoryFaultExits} | ${c.userfaultExits} | ${c.bareEfaults} | ${c.mapped} | ${c.flags.join(", ") || "-"} |`;
    }),
  );
  return [
    "| design | arch | SPTE pages zapped | huge mappings lost | memory-fault exits | of them USERFAULT | bare EFAULTs | faults that mapped | exit flags seen |",
    "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ...rows,
  ];
}

const foundText = (f: ProgressRow["found"]): string => (f === undefined ? "**not found**" : `run ${f.run} (${f.property})`);

const link = (b: Broken): string => `${b.property}: [counterexample](${b.counterexample.replace(/^docs\//, "")})`;

/** A stuck retry shows as exit-progress, or first as linearizability (the design's model completes the retry). */
const STUCK = new Set([EXIT_PROGRESS, "linearizability"]);

function progressRow(design: FaultExitDesign, p: ProgressRow): string {
  const stuck = p.broken.filter((b) => STUCK.has(b.property));
  const others = p.broken.filter((b) => !STUCK.has(b.property));
  const verdict = stuck.length === 0 ? `kept (${p.judged})` : `**broken** (${stuck.map(link).join("; ")})`;
  const also = others.length === 0 ? "-" : others.map(link).join("; ");
  return `| ${design} | ${p.suite} | ${p.runs} | ${verdict} | ${also} | ${p.bug} | ${foundText(p.found)} | ${foundText(p.alone)} |`;
}

export function variantsMarkdown(runs: readonly VariantRun[], opts: { seed: number; runs: number }): string {
  const names = new Set<string>([...INVARIANTS.map((i) => i.name), ...SUITE_PROPERTIES]);
  for (const r of runs) for (const b of r.broken) names.add(rowOf(b.property));
  const verdict = (r: VariantRun, name: string): string => {
    const b = r.broken.filter((x) => rowOf(x.property) === name);
    if (b.length > 0) return b.map((x) => `**broken** (${x.suite}: [counterexample](${x.counterexample.replace(/^docs\//, "")}))`).join("; ");
    if (SUITE_PROPERTIES.includes(name)) return "kept";
    const n = r.exercised.get(name) ?? 0;
    return n > 0 ? `kept (${n})` : "not exercised";
  };
  const header = `| property | ${runs.map((r) => r.design).join(" | ")} |`;
  const rows = [...names].sort().map((n) => `| ${n} | ${runs.map((r) => verdict(r, n)).join(" | ")} |`);
  return [
    "# The fault-exit designs as variants",
    "",
    "<!-- Generated by `npm run docs:variants` (tools/variants-doc.ts) from a run; do not edit by hand. -->",
    "",
    "Each design the threads weigh against KVM Userfault v3 is a value of `config.faultExit`, followed by the model",
    "and the implementation alike (model/kvm/variants.ts, impl/kvm/fault.ts, impl/kvm/memslot.ts). Every design runs",
    `through the same ${VARIANT_SUITES.length} KVM suites and races (${VARIANT_SUITES.join(", ")}), at most ${opts.runs} runs each,`,
    `seed ${opts.seed}. \`faultline check --suite NAME --fault-exit DESIGN\` runs one of them; a counterexample below replays`,
    "with `faultline replay FILE`.",
    "",
    "```sh",
    "npm run docs:variants                                   # this page and docs/variants/*.json",
    "node dist/cli/main.js check --suite kvm-hugetlb-x86 --fault-exit eager-split --seed 1",
    "```",
    "",
    "## The designs",
    "",
    "| design | what changes | source |",
    "|---|---|---|",
    ...FAULT_EXIT_DESIGNS.map((d) => `| ${d} | ${cell(DESIGNS[d].text)} (rule \`${DESIGNS[d].id}\`) | ${cell(DESIGNS[d].cite)} |`),
    "",
    "## Design x property",
    "",
    "*kept (n)*: no suite found a violation, and the invariant held non-vacuously n times; *not exercised*: no",
    "suite here made it non-vacuous; *broken*: the first suite that found it, with its stored counterexample (after a",
    "break, the suite runs again without that invariant, so one break does not hide the next). A refinement",
    "failure would mean the implementation and the model disagree about the design: none may appear. The first row",
    "counts the steps the design's own rule decided: where it is 0, the generated operations never reach the",
    "design's difference and only the cost sequence below compares it. *kept* for a suite property (exit-progress,",
    "linearizability, ...) means no suite that checks it failed. Besides the common suites, each design runs its own",
    "(its suites in the default check, props/variants.ts, and its exit-progress race below): the counts include them.",
    "",
    header,
    `|---|${runs.map(() => "---").join("|")}|`,
    `| *the design's rule fired* | ${runs.map((r) => String(r.fired)).join(" | ")} |`,
    ...rows,
    "",
    "## Exit progress under races",
    "",
    "Each design's own race (props/progress-races.ts): every vCPU does what its exit asks (clears the bit of a USERFAULT",
    "exit; fills the page of an exit-on-missing exit; maps the memory writable again after arm64's annotated GUP",
    "failure) and retries, while another vCPU and a VMM thread run; the retry must complete (`exit-progress`, judged",
    "on what the implementation answered, and linearizability against the design's model). *kept (n)*: n runs in",
    "which a first access exited, so the retry followed the VMM's answer, and no retry failed to complete. The next",
    "column is what the race breaks besides, by design (run here with every check; its default-check runs leave that",
    "invariant out). The last two columns run the race with its seeded bug (a retry that exits again without",
    "looking): the run that first failed and the property, under every check and under `exit-progress` alone",
    "(refinement off).",
    "",
    "| design | race | runs | exit-progress | also broken, by design | seeded bug | found by the race | found by exit-progress alone |",
    "|---|---|---:|---|---|---|---|---|",
    ...runs.flatMap((r) => r.progress.map((p) => progressRow(r.design, p))),
    "",
    "## Design x cost",
    "",
    "The model's counts over one fixed sequence (tools/variants-doc.ts `costSequence`) on the hugetlbfs layout: the",
    "guest touches two 2 MiB regions; the VMM marks gfn 1 and gfn 513 and turns KVM_MEM_USERFAULT on (a late",
    "post-copy, or two poisoned 4 KiB pages); the guest reads the marked pages and their neighbours; the VMM clears",
    "each bit; the guest reads again; the VMM turns USERFAULT off; the guest reads once more; last, the VMM maps the",
    "backing read-only and the guest writes, which GUP refuses. Under exit-on-missing the same flag bit means",
    "KVM_MEM_EXIT_ON_MISSING, and the bitmap is not read.",
    "",
    ...costTable(),
    "",
  ].join("\n");
}

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 1) {
    console.error(`variants-doc: ${name}: expected a positive integer, got ${JSON.stringify(process.argv[i + 1])}`);
    process.exit(2);
  }
  return v;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seed = argValue("--seed", 1);
  const runs = argValue("--runs", 100);
  const out: VariantRun[] = [];
  for (const d of FAULT_EXIT_DESIGNS) {
    const started = performance.now();
    out.push(await runDesign(d, seed, runs));
    console.log(`${d}: ${out.at(-1)!.broken.map((b) => `${b.suite} ${b.property}`).join(", ") || "nothing broken"} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  replaceAtomically(DOC, variantsMarkdown(out, { seed, runs }));
  console.log(`wrote ${DOC}`);
}
