// Invariant and rule coverage of the default check, with declared minimums in the spirit of QuickCheck's
// checkCoverage: an invariant that only ever held vacuously, a linearizability check that never saw operations
// overlap, or an errno rule or exit no generated sequence reached proves nothing, so `faultline check` fails,
// naming it, when a count is below its minimum. The minimums are half the smallest count of the default check
// over seeds 1..6 (npm run coverage:minimums -- 1 6, docs/COVERAGE.md), so that any seed meets them.
import { INVARIANTS } from "../model/index.js";
import { RULES } from "../model/rules-index.js";
import type { Stats } from "./stats.js";

/** Minimum non-vacuous evaluations of every invariant of model/ over the default check. */
export const INVARIANT_MINIMUMS: Readonly<Record<string, number>> = {
  "memslots-disjoint": 91566,
  "stage2-in-slot": 52326,
  "userfault-4k": 15430,
  "gmem-private-not-host-mapped": 10194,
  "gmem-pinned-shared": 2965,
  "gmem-host-map-split": 4894,
  "gmem-huge-stage2": 1445,
  "gmem-stage2-backed": 17341,
  "reads-last-write": 2318,
  "writes-stick": 13312,
  "zap-keeps-contents": 3427,
  "userfault-exits": 1308,
  "gmem-convert-pins": 29,
  "gmem-contents": 1498,
  "uffd-no-early-map": 1433,
  "uffd-woken-read": 358,
  "uffd-no-lost-wakeup": 807,
  "uffd-keeps-contents": 1781,
  "alias-writes-stick": 4167,
};

/** Per concurrent suite: minimum quiescent segments whose operations overlapped (the only ones a linearizability check can fail). */
export const LINEARIZABLE_MINIMUMS: Readonly<Record<string, number>> = {
  "race-userfault-enable": 197,
  "race-userfault-clear": 194,
  "race-memslot-delete-move": 214,
  "race-attributes": 213,
  "race-gmem-convert-host": 66,
  "race-gmem-convert-vcpu": 63,
  "race-gmem-convert-convert": 44,
  "race-gmem-punch": 49,
  "race-gmem-rfc-2024": 63,
  "race-uffd-shmem": 322,
  "race-host-fault": 135,
  "postcopy-race": 138,
};

/** Minimum hits of every errno rule of the model (model/rules-index.ts) but those unreachable by construction. */
export const RULE_MINIMUMS: Readonly<Record<string, number>> = {
  "attr.align": 1163,
  "attr.enotty": 1365,
  "attr.flags": 601,
  "attr.range": 383,
  "attr.unsupported": 160,
  "fault.gup-efault": 225,
  "fault.no-vma": 17,
  "faultline.map-window": 11,
  "faultline.no-alias": 971,
  "faultline.pin-not-gmem": 20,
  "faultline.uffd-event": 32,
  "faultline.unpin-unpinned": 530,
  "faultline.wake-check-esrch": 1052,
  "fd.fallocate-enodev": 10,
  "fd.ioctl-enotty": 13,
  "fd.ioctl-uffd-einval": 13,
  "fd.ioctl-vm-einval": 60,
  "fd.ioctl-vm-enotty": 12,
  "fd.mmap-enodev": 13,
  "fd.pread-espipe": 15,
  "gmem.allocate-beyond": 5,
  "gmem.bind-ebadf": 20,
  "gmem.bind-not-gmem": 16,
  "gmem.bind-other-vm": 17,
  "gmem.bind-overlap": 19,
  "gmem.bind-range": 18,
  "gmem.convert-align": 114,
  "gmem.convert-beyond": 107,
  "gmem.convert-eagain": 6,
  "gmem.convert-ebadf": 280,
  "gmem.convert-enotty": 558,
  "gmem.convert-range": 116,
  "gmem.convert-transient-ref": 4,
  "gmem.convert-unsupported": 25,
  "gmem.convert-vm-attributes": 18,
  "gmem.create-ebadf": 20,
  "gmem.create-enotty": 44,
  "gmem.create-flags": 164,
  "gmem.create-huge-size": 9,
  "gmem.create-size": 180,
  "gmem.fallocate-align": 24,
  "gmem.fallocate-args": 148,
  "gmem.fallocate-ebadf": 71,
  "gmem.fallocate-efbig": 25,
  "gmem.fallocate-keep-size": 70,
  "gmem.fallocate-mode": 10,
  "gmem.fallocate-punch-mode": 88,
  "gmem.get-pfn-closed": 10,
  "gmem.mmap-ebadf": 26,
  "gmem.mmap-enodev": 47,
  "gmem.mmap-private": 25,
  "gmem.rfc-mapped": 50,
  "memslot.as-id": 1678,
  "memslot.delete-missing": 218,
  "memslot.flags": 1471,
  "memslot.gmem-immutable": 135,
  "memslot.gmem-move": 166,
  "memslot.gmem-offset": 7,
  "memslot.gpa-align": 27,
  "memslot.gpa-wrap": 10,
  "memslot.hva": 215,
  "memslot.max-gfn": 20,
  "memslot.max-pages": 85,
  "memslot.modify-mismatch": 518,
  "memslot.overlap": 142,
  "memslot.size-align": 97,
  "memslot.slot-id": 300,
  "memslot.userfault-bitmap": 23,
  "memslot.v1-flags": 726,
  "mm.ebadf": 57,
  "mm.fallocate-args": 6,
  "mm.fallocate-efbig": 8,
  "mm.fallocate-file-mode": 8,
  "mm.fallocate-mode": 8,
  "mm.hugetlb-size": 23,
  "mm.hugetlbfs-write": 38,
  "mm.madvise-args": 7,
  "mm.madvise-dontneed-hugetlb": 10,
  "mm.madvise-enomem": 119,
  "mm.madvise-remove-anon": 60,
  "mm.madvise-remove-private": 56,
  "mm.mincore-align": 17,
  "mm.mincore-enomem": 13,
  "mm.mincore-range": 17,
  "mm.mmap-hugetlb-offset": 13,
  "mm.mmap-len": 6,
  "mm.mmap-noreplace": 983,
  "mm.mmap-not-readable": 9,
  "mm.mmap-offset": 5,
  "mm.munmap-args": 23,
  "mm.munmap-hugetlb": 22,
  "mm.pread-ebadf": 14,
  "mm.pwrite-ebadf": 9,
  "mm.reopen-enoent": 18,
  "mm.reopen-enxio": 13,
  "pin.efault": 64,
  "pin.fault-failed": 186,
  "uffd.api-again": 13,
  "uffd.api-features": 15,
  "uffd.api-version": 12,
  "uffd.continue-anon": 227,
  "uffd.continue-eof": 50,
  "uffd.continue-hole": 389,
  "uffd.create-flags": 13,
  "uffd.gmem-alloc": 22,
  "uffd.hugetlb-align": 18,
  "uffd.hugetlb-zeropage": 8,
  "uffd.ioctl-before-api": 22,
  "uffd.ioctl-ebadf": 1024,
  "uffd.ioctl-mode": 216,
  "uffd.mfill-eof": 83,
  "uffd.mfill-no-vma": 318,
  "uffd.mfill-page-cached": 146,
  "uffd.mfill-partial": 65,
  "uffd.mfill-pte-exists": 73,
  "uffd.mfill-pte-not-none": 39,
  "uffd.mfill-type": 115,
  "uffd.mfill-unregistered": 1305,
  "uffd.mfill-vma-end": 607,
  "uffd.mfill-wp-mode": 217,
  "uffd.move-dst-ctx": 18,
  "uffd.move-dst-exists": 11,
  "uffd.move-hugetlb": 17,
  "uffd.move-no-vma": 13,
  "uffd.move-not-anon": 11,
  "uffd.move-prot": 12,
  "uffd.move-shared": 18,
  "uffd.move-src-hole": 30,
  "uffd.move-src-marker": 4,
  "uffd.move-vma-end": 14,
  "uffd.range": 1170,
  "uffd.register-ebadf": 369,
  "uffd.register-ebusy": 113,
  "uffd.register-huge-end": 9,
  "uffd.register-huge-start": 45,
  "uffd.register-maywrite": 14,
  "uffd.register-mode": 265,
  "uffd.register-mode-unknown": 12,
  "uffd.register-no-vma": 146,
  "uffd.register-type": 314,
  "uffd.unregister-ebadf": 89,
  "uffd.unregister-huge-split": 8,
  "uffd.unregister-huge-start": 9,
  "uffd.unregister-no-vma": 35,
  "uffd.unregister-other-ctx": 42,
  "uffd.unregister-type": 34,
  "uffd.writeprotect-huge-align": 2,
  "uffd.writeprotect-mode": 198,
  "uffd.writeprotect-no-vma": 58,
  "uffd.writeprotect-not-wp": 754,
  "userfault.bitmap-unreadable": 9,
  "vcpu.ebadf": 515,
  "vfs.fallocate-mode-exclusive": 13,
  "vfs.fallocate-mode-unknown": 13,
  "vm.ebadf": 23,
  "vm.type": 80,
};

/** The errno rules no generated sequence can reach, each with why: they are reported, never required. */
export const UNREACHABLE: Readonly<Record<string, string>> = {
  "faultline.not-modeled": "no operation dispatches to it: model/step.ts models every operation of the vocabulary",
};

/** Each kind of KVM_RUN exit the model produces, by the vCPU fault rule that produces it, with its minimum. */
export const EXIT_KINDS: Readonly<Record<string, { readonly rule: string; readonly minimum: number }>> = {
  "KVM_EXIT_MMIO: no memslot": { rule: "fault.mmio", minimum: 4031 },
  "KVM_EXIT_MMIO: write to a READONLY memslot": { rule: "fault.ro-write", minimum: 16 },
  "KVM_EXIT_MEMORY_FAULT: private/shared mismatch": { rule: "fault.private-mismatch", minimum: 1142 },
  "KVM_EXIT_MEMORY_FAULT: private access, no memslot": { rule: "fault.noslot-private", minimum: 65 },
  "KVM_EXIT_MEMORY_FAULT: no guest_memfd behind a private or GMEM_ONLY fault": { rule: "fault.gmem-no-file", minimum: 143 },
  "KVM_EXIT_MEMORY_FAULT: guest_memfd refused the page": { rule: "fault.gmem-error", minimum: 10 },
  "KVM_EXIT_MEMORY_FAULT: USERFAULT": { rule: "userfault.exit", minimum: 1278 },
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
