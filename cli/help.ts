// The --help text of every command, with examples. docs/CLI.md says the same at length.

/** Every command's exit status ends the same way: 2 for the user's input, 3 for a bug of faultline's own. */
const exit = (ok: string, failed: string | undefined, usage = "a usage or file error (one line on stderr)"): string =>
  [
    "exit status:",
    `  0  ${ok}`,
    ...(failed === undefined ? [] : [`  1  ${failed}`]),
    `  2  ${usage}`,
    "  3  an internal error: a bug in faultline (its stack trace on stderr)",
  ].join("\n");

export const HELP: Readonly<Record<string, string>> = {
  faultline: `usage: faultline <command> [options]

commands:
  check     run the property suites; new counterexamples go to counterexamples/
  replay    replay counterexample files step by step, with the violated property
  run       run scenario files through model and implementation, with the rule behind each outcome
  list      suites, properties, invariants and seeded bugs
  conform   run scenarios through the model and the real kernel (/dev/kvm, userfaultfd)
  merge     combine the --json reports of a check's shards into the whole check's report
  mutants   switch on each seeded bug and check its suite finds it
  prove     every interleaving of small scopes of the race suites: a proof report or the shortest counterexample

faultline <command> --help shows a command's options, examples and exit statuses.

examples:
  faultline check
  faultline check --suite kvm-anon-x86 --bugs delete-no-zap --seed 1
  faultline replay counterexamples/*.json
  faultline run scenario.json

exit status: each command's --help says; 2 is always a usage or file error, 3 an internal error.`,

  check: `usage: faultline check [--suite NAME[,NAME]] [--runs N] [--seed S] [--shard I/N] [--time-budget SEC]
                       [--search-budget N] [--bugs ID[,ID]] [--fault-exit DESIGN] [--workers N] [--json] [--junit FILE]

Runs every property suite (or the named ones) on the embedded configuration of each suite. Run k of a suite
uses its own seed derived from S, the suite and k, so a check is reproduced by its seed alone.

options:
  --suite NAME[,NAME]  only these suites (faultline list shows them)
  --runs N             runs per suite (default: each suite's own count)
  --seed S             the check seed (default: random, printed)
  --shard I/N          run only shard I of N (1 <= I <= N): the runs k with k mod N = I-1; needs --seed
  --time-budget SEC    stop starting new runs SEC seconds after the first run started; every suite still gets
                       one run; the suites cut short are marked interrupted
  --search-budget N    model steps the linearizability search of a race suite may take per history segment
                       (default 200000); a segment it cannot decide within them fails its run as "undecided"
  --bugs ID[,ID]       switch on seeded bugs in the implementation (faultline list shows them)
  --fault-exit DESIGN  run every suite under a fault-exit design (docs/VARIANTS.md): userfault-v3 (default),
                       userfault-v1, eager-split, memory-fault-rwx, arm64-memory-fault-info, exit-on-missing
  --workers N          worker threads sharing the runs (default: the CPUs available; 1 runs in-process);
                       the report is the same for any N
  --json               print one JSON document (stats, invariant and rule counts, counterexample paths)
  --junit FILE         also write the report as JUnit XML, one test case per suite

Coverage minimums are enforced only on the full default check (or the merge of its shards, faultline merge).

examples:
  faultline check
  faultline check --suite kvm-hugetlb-x86 --runs 2000 --seed 7
  faultline check --seed 7 --shard 2/4 --json > shard-2.json
  faultline check --suite kvm-anon-x86 --bugs delete-no-zap --seed 1

${exit(
  "no property failed (and, on a full check, every coverage minimum met)",
  "a property failed or a segment went undecided, or a full check missed a minimum",
)}`,

  replay: `usage: faultline replay FILE... [--no-bugs] [--svg OUT] [--html OUT]

Replays each counterexample deterministically (no seed needed): the step-by-step trace with the outcome of
model and implementation, the rules that decided each step, and the violated property.

options:
  --no-bugs   replay without the seeded bugs the file switches on (the real implementation)
  --svg OUT   write the race diagram of a concurrent counterexample as SVG (one FILE only)
  --html OUT  write the race diagram as a standalone HTML page (one FILE only)

examples:
  faultline replay counterexamples/kvm-anon-x86--stage2-in-slot--*.json
  faultline replay --no-bugs counterexamples/*.json

${exit("no failure reproduces", "a failure reproduces (the output says when that is expected: a seeded bug or a design flaw)")}`,

  run: `usage: faultline run FILE...

Runs scenario files through the model and the implementation and prints each step's outcome with the rules
that decided it and their kernel sources, flagging any disagreement between model and implementation and
any step whose outcome differs from the file's "expect" list.

To run the same file against the real kernel: faultline conform FILE.

examples:
  faultline run scenario.json
  faultline run scenarios/*.json

${exit("model and implementation agree and every step matches expect", "a disagreement, an unexpected outcome or a failing property")}`,

  list: `usage: faultline list [--rules] [--json]

Lists the suites, the properties they check, the invariants and the seeded bugs, one line each.

options:
  --rules   also list every rule of the model with its kernel source
  --json    the same as one JSON document

examples:
  faultline list
  faultline list --rules | grep memslot

${exit("listed", undefined, "a usage error (one line on stderr)")}`,

  merge: `usage: faultline merge REPORT... [--json] [--junit FILE]

Combines the --json reports of the shards of one check (faultline check --seed S --shard I/N --json, for I
from 1 to N) into the report of the whole check: counts added, distinct states united, each suite's earliest
failing run. The reports must come from this build, with the same seed, runs, time and search budgets, seeded
bugs and suites, and every shard once; anything else is refused with one line. The coverage minimums are
enforced on the union when the shards are of the full default check.

options:
  --json         print the merged report as one JSON document (what faultline check --json prints)
  --junit FILE   also write it as JUnit XML, one test case per suite

examples:
  faultline merge shard-1.json shard-2.json shard-3.json shard-4.json
  faultline merge reports/*.json --junit faultline.xml

${exit(
  "no failure in any shard and, for a full check, every coverage minimum met",
  "a property failed or a segment went undecided, or a minimum is unmet",
)}`,

  mutants: `usage: faultline mutants [--bug ID[,ID]] [--time-budget SEC] [--seed S] [--json]

Switches on each seeded bug of the catalog (impl/bugs.ts, docs/BUGS.md), one at a time, and runs the suite
the catalog says must find it, run by run with the seeds of faultline check --suite X --bugs B --seed S, until
the first failure or the time budget. Prints, per bug: found or MISSED, runs and seconds to the first
failure, the shrunk counterexample's length and the property that caught it. Writes no counterexample.

options:
  --bug ID[,ID]       only these bugs (default: the whole catalog)
  --time-budget SEC   seconds per bug before it counts as missed (default 60)
  --seed S            the check seed (default: random, printed)
  --json              print one JSON document

examples:
  faultline mutants
  faultline mutants --bug fault-no-invalidate-recheck,gmem-merge-mapped --seed 1

${exit("every bug found", "a bug missed", "a usage error (one line on stderr)")}`,

  conform: `usage: faultline conform [FILE...] [--runs N] [--seed S] [--caps SPEC] [--verbose] [--probe [--json]] [--races]

Runs scenario files through the model and the real kernel (a native helper making the syscalls) and prints
every step that does not agree. With no FILE: the conformance corpus, then N random sequences. It first probes
what this kernel offers (KVM capabilities, the proposals, userfaultfd features, huge pages) and runs the model
with that host configuration; a scenario that needs what the host lacks is reported skipped, with the
capability it needs, never failed. --probe prints the capability set and the configuration, and stops.
--races runs every race suite's scenario shape (or the concurrent scenario FILEs) on real threads, N times
each, checks each recorded history for linearizability against the model, and reports per race the
histories, the share that overlapped in real time and the distinct response orders; a failing history is
shrunk and written to conformance/found/ with its recorded times (faultline replay draws it).

options:
  --probe      print what the running kernel offers and the configuration the model runs with
  --json       with --probe: the same as one JSON document
  --caps SPEC  narrow (-NAME) or widen (+NAME) the probed capabilities, e.g. -KVM_CAP_GUEST_MEMFD,+KVM_MEM_USERFAULT
               (default: the FAULTLINE_CAPS environment variable)
  --races      concurrent scenarios on real threads, checked for linearizability (docs/CONFORMANCE.md)
  --runs N     random sequences after the corpus (default 2000, 0 skips them); with --races, runs of each race (default 100)
  --seed S     seed of the random sequences (default: random, printed)
  --verbose    print every step, not only disagreements

examples:
  faultline conform --probe
  faultline conform
  faultline conform --runs 0 --caps -USERFAULTFD
  faultline conform --verbose scenario.json
  faultline conform --races --runs 200

${exit("model and kernel agree on everything that ran (what the host lacks is skipped)", "a disagreement (not documented as expected)", "a usage or file error")}`,

  prove: `usage: faultline prove (--suite NAME[,NAME] | --all) [--bugs ID[,ID]] [--no-reduction] [--max-runs N] [--json]
                       [--html FILE]

Runs every interleaving of the yield points of small scopes of the race suites (props/prove/scopes.ts: a
suite's layout with explicit actors) on the implementation, with the race suites' checks at every step, and
prints per scope a proof report (schedules explored, distinct states, the reduction against the naive count,
each property's non-vacuous evaluations) or the shortest failing schedule found, stored in counterexamples/
like a check's. Interleavings are explored up to dynamic partial-order reduction with sleep sets: one run per
class of equivalent interleavings (docs/RACES.md, "Proofs for small scopes").

options:
  --suite NAME[,NAME]  only the scopes of these race suites, or these scopes by name (postcopy-race:vmm-thread)
  --all                every scope: one per race suite, and the 2024 RFC without its fault lock (refuted)
  --bugs ID[,ID]       switch on seeded bugs; a scope that lists one must be refuted
  --no-reduction       run every interleaving, without partial-order reduction (brute force)
  --max-runs N         stop each scope after N runs: a scope cut short is "bounded", not proved
  --json               print one JSON document (schema/prove-report.ts)
  --html FILE          also write the report as an HTML page (e.g. coverage/proofs/index.html)

examples:
  faultline prove --all --html coverage/proofs/index.html
  faultline prove --suite race-userfault-clear --bugs userfault-double-fetch

${exit("every scope proved, and refuted where expected (a design flaw, or a seeded bug it lists)", "a scope refuted, or not proved, against expectation")}`,
};
