// The document `faultline prove --json` prints (docs/CLI.md): per scope, what was proved and how, or the shortest
// counterexample found.
import * as t from "io-ts";
import { Count, strict, Text } from "./codecs.js";
import { ConfigCodec } from "./config.js";

const Property = strict("property", { name: Text, checked: Count, nonVacuous: Count, proved: t.boolean }, {});

export const ProofReportCodec = strict(
  "proof report",
  {
    scope: Text,
    description: Text,
    config: ConfigCodec,
    /** The actors past the setup, with their operations (op names) in order. */
    actors: t.array(strict("actor", { name: Text, ops: t.array(Text) }, {})),
    setupOps: Count,
    /** "dpor": dynamic partial-order reduction with sleep sets; "none": every interleaving (brute force). */
    reduction: t.union([t.literal("dpor"), t.literal("none")]),
    /** "bounded": the search hit --max-runs before it was done, so nothing is proved. */
    verdict: t.union([t.literal("proved"), t.literal("refuted"), t.literal("bounded")]),
    /** Refuted with seeded bugs on, or for a documented design flaw; else proved. */
    expected: t.union([t.literal("proved"), t.literal("refuted")]),
    /** Runs of the implementation: complete, failing, and pruned by a sleep set. */
    schedules: Count,
    complete: Count,
    pruned: Count,
    failing: Count,
    /** Distinct states met: the abstract state and every actor's position, by fingerprint. */
    states: Count,
    /** Schedule steps taken over all runs. */
    steps: Count,
    /** Interleavings of the longest complete run's steps per actor (a multinomial, ignoring blocking). */
    naive: Count,
    ms: Count,
    /** Each invariant and "linearizable": evaluations and non-vacuous ones; never non-vacuous is not proved. */
    properties: t.array(Property),
  },
  {
    failure: strict("failure", { property: Text, detail: Text, steps: Count, switches: Count }, {}),
    counterexample: strict("counterexample", { path: Text, isNew: t.boolean }, { writeError: Text }),
  },
);

export type ProofReport = t.TypeOf<typeof ProofReportCodec>;

export const ProveReportCodec = strict("prove report", { proofs: t.array(ProofReportCodec), ok: t.boolean }, {});
export type ProveReport = t.TypeOf<typeof ProveReportCodec>;
