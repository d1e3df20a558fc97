// Invariant and rule coverage of the default check, with declared minimums in the spirit of QuickCheck's
// checkCoverage: an invariant that only ever held vacuously, a linearizability check that never saw operations
// overlap, or an errno rule or exit no generated sequence reached proves nothing, so `faultline check` fails,
// naming it, when a count is below its minimum. The minimums hold for the default check at any seed: they are
// half the smallest count measured over many seeds (npm run coverage:minimums, docs/COVERAGE.md).
import { INVARIANTS } from "../model/index.js";
import { RULES } from "../model/rules-index.js";
import type { Stats } from "./stats.js";

/** Minimum non-vacuous evaluations of every invariant of model/ over the default check. */
export const INVARIANT_MINIMUMS: Readonly<Record<string, number>> = {};

/** Per concurrent suite: minimum quiescent segments whose operations overlapped (the only ones a linearizability check can fail). */
export const LINEARIZABLE_MINIMUMS: Readonly<Record<string, number>> = {};

/** Minimum hits of every errno rule of the model (model/rules-index.ts) but those unreachable by construction. */
export const RULE_MINIMUMS: Readonly<Record<string, number>> = {};

/** The errno rules no generated sequence can reach, each with why: they are reported, never required. */
export const UNREACHABLE: Readonly<Record<string, string>> = {
  "faultline.not-modeled": "no operation dispatches to it: model/step.ts models every operation of the vocabulary",
  "close.ebadf": "only a close naming no fd reaches it, and a scenario's close must name exactly one (schema/scenario.ts), so no generator makes one",
};

/** Each kind of KVM_RUN exit the model produces, by the vCPU fault rule that produces it, with its minimum. */
export const EXIT_KINDS: Readonly<Record<string, { readonly rule: string; readonly minimum: number }>> = {
  "KVM_EXIT_MMIO: no memslot": { rule: "fault.mmio", minimum: 1 },
  "KVM_EXIT_MMIO: write to a READONLY memslot": { rule: "fault.ro-write", minimum: 1 },
  "KVM_EXIT_MEMORY_FAULT: private/shared mismatch": { rule: "fault.private-mismatch", minimum: 1 },
  "KVM_EXIT_MEMORY_FAULT: private access, no memslot": { rule: "fault.noslot-private", minimum: 1 },
  "KVM_EXIT_MEMORY_FAULT: no guest_memfd behind a private or GMEM_ONLY fault": { rule: "fault.gmem-no-file", minimum: 1 },
  "KVM_EXIT_MEMORY_FAULT: guest_memfd refused the page": { rule: "fault.gmem-error", minimum: 1 },
  "KVM_EXIT_MEMORY_FAULT: USERFAULT": { rule: "userfault.exit", minimum: 1 },
};

export type CoverageKind = "invariant" | "linearizability" | "rule" | "exit";

export interface CoverageLine {
  readonly kind: CoverageKind;
  /** The invariant, "linearizable@<suite>", the rule id, or the exit kind. */
  readonly name: string;
  /** Non-vacuous evaluations (invariants, linearizability) or hits (rules, exits). */
  readonly count: number;
  /** Evaluations in all (invariants, linearizability). */
  readonly checked?: number;
  /** Undefined: no minimum (a rule without errno, or one unreachable by construction). */
  readonly minimum?: number;
  readonly errno?: string;
  /** Why an errno rule is not required. */
  readonly unreachable?: string;
}

export interface Coverage {
  readonly lines: readonly CoverageLine[];
  /** Lines whose count is below their minimum. */
  readonly unmet: readonly CoverageLine[];
}

export const LINEARIZABLE = "linearizable";

const met = (l: CoverageLine): boolean => l.minimum === undefined || l.count >= l.minimum;

/** The coverage of a check from each suite's counts (merged as props/stats.ts merges them). */
export function coverageOf(suites: readonly { readonly suite: string; readonly stats: Stats }[]): Coverage {
  const invariants = new Map<string, { checked: number; nonVacuous: number }>();
  const rules = new Map<string, number>();
  for (const { stats } of suites) {
    for (const [k, v] of stats.invariants) {
      const c = invariants.get(k) ?? { checked: 0, nonVacuous: 0 };
      invariants.set(k, { checked: c.checked + v.checked, nonVacuous: c.nonVacuous + v.nonVacuous });
    }
    for (const [k, v] of stats.rules) rules.set(k, (rules.get(k) ?? 0) + v);
  }
  const lines: CoverageLine[] = [];
  for (const inv of INVARIANTS) {
    const c = invariants.get(inv.name) ?? { checked: 0, nonVacuous: 0 };
    lines.push({ kind: "invariant", name: inv.name, count: c.nonVacuous, checked: c.checked, minimum: INVARIANT_MINIMUMS[inv.name] ?? 1 });
  }
  for (const { suite, stats } of suites) {
    const c = stats.invariants.get(LINEARIZABLE);
    const minimum = LINEARIZABLE_MINIMUMS[suite];
    if (c === undefined && minimum === undefined) continue;
    lines.push({ kind: "linearizability", name: `${LINEARIZABLE}@${suite}`, count: c?.nonVacuous ?? 0, checked: c?.checked ?? 0, ...(minimum === undefined ? {} : { minimum }) });
  }
  for (const [kind, e] of Object.entries(EXIT_KINDS)) lines.push({ kind: "exit", name: kind, count: rules.get(e.rule) ?? 0, minimum: e.minimum });
  for (const r of [...RULES.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const count = rules.get(r.id) ?? 0;
    const why = UNREACHABLE[r.id];
    if (r.errno === undefined) lines.push({ kind: "rule", name: r.id, count });
    else if (why !== undefined) lines.push({ kind: "rule", name: r.id, count, errno: r.errno, unreachable: why });
    else lines.push({ kind: "rule", name: r.id, count, errno: r.errno, minimum: RULE_MINIMUMS[r.id] ?? 1 });
  }
  return { lines, unmet: lines.filter((l) => !met(l)) };
}

/** One line per unmet minimum, naming it. */
export const describeUnmet = (l: CoverageLine): string =>
  `${l.kind} ${l.name}: ${l.kind === "invariant" || l.kind === "linearizability" ? "non-vacuous" : "reached"} ${l.count} times, minimum ${l.minimum}`;
