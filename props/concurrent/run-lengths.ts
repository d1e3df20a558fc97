// PCT's k for each race suite. PCT's guarantee (a bug of depth d found with probability at least 1/(n k^(d-1)))
// holds only when k bounds the run's length: a change point past the end of a run never fires. k is also the
// uniform schedule's length (one decision per step). Measured with `node dist/bench/run.js --only lengths`, which
// reports each suite's longest run under both generators and the bound (docs/RACES.md); the suites' own tests
// check that no run goes past k.

/**
 * The longest run of each suite in schedule steps past the setup: over 3000 runs per generator (seed 1), once with
 * schedules for k = 60 and once with the k below, whichever was longer.
 */
export const LONGEST_RUN: Readonly<Record<string, number>> = {
  "race-userfault-enable": 31,
  "race-userfault-clear": 29,
  "race-memslot-delete-move": 48,
  "race-attributes": 54,
  "race-gmem-convert-host": 29,
  "race-gmem-convert-vcpu": 53,
  "race-gmem-convert-convert": 35,
  "race-gmem-punch": 46,
  "race-gmem-rfc-2024": 46,
  "race-uffd-shmem": 19,
  "race-host-fault": 16,
  "postcopy-race": 52,
  // Issue 23's suites, over 1000 runs per generator (seed 1), once with k = 64 and once with the k below, whichever
  // was longer; a family of concurrent/suites.ts shares one k, its longest run over the x86, x86-nozap and arm64 axes.
  "race-memslot-create": 47,
  "race-memslot-create-hugetlb": 45,
  "race-memslot-create-gmem": 57,
  "race-memslot-changes": 55,
  "race-memslot-changes-hugetlb": 61,
  "race-memslot-changes-gmem": 53,
  "race-gmem-convert-host-2m": 27,
  "race-gmem-convert-vcpu-4k": 53,
  "race-gmem-convert-vcpu-1g": 53,
  "race-gmem-convert-convert-2m": 35,
  "race-gmem-punch-2m": 44,
  "race-gmem-punch-1g": 46,
  "race-gmem-rfc-2024-2m": 46,
  "postcopy-race-arm64": 43,
  // Issue 18: 1000 runs of its mixed generator (seed 1) with k = 64.
  "postcopy-kvm-race": 50,
  // Issue 18: the longest over 500 runs per generator (uniform, pct) at seed 1.
  "race-dirty-log": 25,
  "race-dirty-log-manual": 24,
  "race-exit-progress": 33,
  "race-exit-progress-arm64": 32,
  // Issue 18: the other designs' exit-progress races, the longest over 500 runs per generator (uniform, pct) at seed 1.
  "race-exit-progress-arm64-userfault-v1": 33,
  "race-exit-progress-memory-fault-rwx": 33,
  "race-exit-progress-eager-split": 23,
  "race-exit-progress-exit-on-missing": 47,
  "race-exit-progress-arm64-memory-fault-info": 44,
  // Issue 18's poison work: 1000 runs of the mixed generator (seed 1) with k = 64, one k for both arches.
  "race-userfault-set-live": 34,
  "race-userfault-set-live-arm64": 34,
};

/** k for a suite not measured yet: the longest run any suite has shown, with the margin. */
const UNMEASURED = 64;

/** PCT's k for a suite: its longest measured run plus 15% (longer runs are rare, not impossible), rounded up to a multiple of 4. */
export function pctSteps(suite: string): number {
  const longest = LONGEST_RUN[suite];
  return longest === undefined ? UNMEASURED : Math.ceil((longest * 1.15) / 4) * 4;
}
