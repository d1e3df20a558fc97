// Scenario and counterexample files (DESIGN.md section 3): one versioned JSON schema, decoded with io-ts.
import { isLeft } from "fp-ts/lib/Either.js";
import * as t from "io-ts";
import { RequirementCodec } from "./capabilities.js";
import { Byte, Count, Id, intIn, literals, nearest, strict, tagged, Text } from "./codecs.js";
import { ConfigCodec } from "./config.js";
import { JsonError, parseJson } from "./json.js";
import { OpCodec, type Op } from "./ops.js";
import { OutcomeCodec } from "./outcome.js";
import { describeErrors, describeValue, FileError, joinPath } from "./report.js";

/** File format versions this build reads. */
export const VERSIONS = [1] as const;

/** A value of `codec`, or null; anything else is reported as the codec alone would (no "or null" branch in the error). */
const orNull = <A>(codec: t.Type<A, A, unknown>): t.Type<A | null, A | null, unknown> =>
  new t.Type<A | null, A | null, unknown>(`${codec.name} or null`, (u): u is A | null => u === null || codec.is(u), (u, c) => (u === null ? t.success(null) : codec.validate(u, c)), t.identity);

const Actor = strict("actor", { name: Id, steps: t.array(OpCodec) }, {});

/** Operations a scenario may hold, over all actors: more would run for hours (and a million took minutes to decode). */
export const MAX_STEPS = 10_000;
/** Actors a concurrent scenario may hold: a schedule decision picks one of at most 64. */
export const MAX_ACTORS = 64;
/** Schedule decisions a scenario may hold. */
export const MAX_SCHEDULE = 100_000;

/** Pages a post-copy scenario may hold (the generators draw at most 4). */
export const MAX_POSTCOPY_PAGES = 64;
const PageIndex = intIn("page", 0, MAX_POSTCOPY_PAGES - 1);
/** An offset in the VMM's page, which is 2 MiB on a hugetlbfs backing (checked against the backing's page below). */
const Access = { write: t.boolean, page: PageIndex, offset: intIn("offset", 0, 2 ** 21 - 1), byte: Byte };
export const POSTCOPY_BACKINGS = ["gmem", "gmem-2m", "gmem-1g", "anon", "shmem", "hugetlb-2m", "snapshot-private", "snapshot-shared"] as const;
/**
 * How the VMM's uffd handler was written (props/postcopy/backing.ts): for vm_uffd_ops (MISSING + MINOR), for the designs
 * where every first touch is MINOR (guestmem v6, v2/v3: MINOR only), or for v1's hybrid (MISSING only, no stale pre-copy).
 */
export const UFFD_HANDLERS = ["vm-uffd-ops", "minor-only", "missing-only"] as const;

/** The post-copy VMM's scenario (props/postcopy/scenario.ts): replay runs the reference VMM on it. */
const Postcopy = strict(
  "postcopy",
  {
    pages: intIn("pages", 1, MAX_POSTCOPY_PAGES),
    source: t.array(Byte),
    precopied: t.array(orNull(Byte)),
    fetchOrder: t.array(PageIndex),
    events: t.array(
      tagged("postcopy event", "kind", {
        guest: strict("guest event", { kind: t.literal("guest"), ...Access }, { vcpu: intIn("vcpu", 0, 63) }),
        vmm: strict("vmm event", { kind: t.literal("vmm"), thread: intIn("thread", 0, 63), ...Access }, {}),
        kvm: strict("kvm event", { kind: t.literal("kvm"), how: literals("copy", "emulate", "fetch"), ...Access }, {}),
        fetcher: strict("fetcher event", { kind: t.literal("fetcher") }, {}),
        handler: strict("handler event", { kind: t.literal("handler") }, { thread: intIn("thread", 0, 63) }),
        resend: strict("resend event", { kind: t.literal("resend"), page: PageIndex }, {}),
        balloon: strict("balloon event", { kind: t.literal("balloon"), page: PageIndex }, {}),
      }),
    ),
  },
  {
    /** What guest memory is (props/postcopy/backing.ts); guest_memfd 4 KiB when absent. */
    backing: literals(...POSTCOPY_BACKINGS),
    /** KVM Userfault on the memslot (true when absent). */
    userfault: t.boolean,
    vcpus: intIn("vcpus", 1, 64),
    /** One fault-handler thread, or one per vCPU. */
    handlers: literals("one", "per-vcpu"),
    /** The uffd handler's design (UFFD_HANDLERS); "vm-uffd-ops" when absent. */
    handler: literals(...UFFD_HANDLERS),
  },
);

/** The poison suite's choices (props/poison/vmm.ts): its strategies, backings, and the hot pages its accesses touch. */
export const POISON_STRATEGIES = ["hole", "userfault", "userfault-bit", "uffd-poison", "rescan"] as const;
export const POISON_BACKINGS = ["anon", "hugetlb", "gmem"] as const;
export const POISON_HOT_PAGES = 6;
const HotPage = intIn("page", 0, POISON_HOT_PAGES - 1);
const PoisonAccess = strict("poison access", { who: literals("guest", "kvm"), write: t.boolean, page: HotPage, byte: Byte }, {});

/** The poison VMM's scenario (props/poison/vmm.ts): replay runs the VMM on it and judges its accesses again. */
const Poison = strict(
  "poison",
  {
    strategy: literals(...POISON_STRATEGIES),
    backing: literals(...POISON_BACKINGS),
    poison: HotPage,
    live: t.boolean,
    before: t.array(PoisonAccess),
    after: t.array(PoisonAccess),
  },
  {},
);

const Failure = strict(
  "failure",
  { property: Text, step: intIn("step", 0, MAX_STEPS - 1), expected: t.unknown, actual: t.unknown },
  { detail: Text, actor: Id },
);

/** Nanoseconds on the recording host's CLOCK_MONOTONIC, from the moment the actors were released. */
const Nanos = intIn("nanoseconds", 0, Number.MAX_SAFE_INTEGER);

/** One operation of a race recorded on the real kernel (conformance/races.ts): when it was invoked and answered, and what. */
const RecordedOp = strict(
  "recorded operation",
  { actor: Id, index: intIn("step", 0, MAX_STEPS - 1), call: Nanos, ret: orNull(Nanos), outcome: orNull(OutcomeCodec) },
  /** The kernel function its thread slept in when the watchdog ended the run (it never answered in time). */
  { waits: Text },
);

/** What a concurrent run on the real kernel did: every actor operation's times and outcome, then the reads made after it. */
const Recorded = strict(
  "recorded",
  {
    seed: Count,
    watchdog: t.boolean,
    ops: t.array(RecordedOp),
    after: t.array(strict("observation", { op: OpCodec, outcome: OutcomeCodec }, {})),
  },
  { host: Text },
);

const Provenance = strict(
  "provenance",
  {},
  {
    seed: t.number,
    path: Text,
    replayPath: Text,
    suite: Text,
    faultline: Text,
    fastCheck: Text,
    bugs: t.array(Text),
    found: Text,
    /** The `faultline check --seed` and the run of that check that found it (docs/CLI.md, sharding). */
    checkSeed: t.number,
    run: Count,
  },
);

export const ScenarioCodec = strict(
  "scenario",
  { version: t.literal(1), name: Text, config: ConfigCodec },
  {
    description: Text,
    steps: t.array(OpCodec),
    actors: t.array(Actor),
    /** Decisions where several actors can run: e picks the e-th runnable actor counting on from the last one (props/concurrent/schedules.ts). */
    schedule: t.array(intIn("schedule decision", 0, 63)),
    /** The kernel's outcome of each step, in order; null leaves a step unpinned (conformance compares it with the model only). */
    expect: t.array(orNull(OutcomeCodec)),
    /** Capabilities the host must have ("NAME") or lack ("!NAME") beyond what the steps show (conformance). */
    requires: t.array(RequirementCodec),
    failure: Failure,
    /**
     * The post-copy VMM's scenario. With steps (the kernel side, for reading): replay runs the reference VMM on it.
     * With actors (the post-copy race): replay also checks every completed read of guest memory against `source`.
     */
    postcopy: Postcopy,
    /** The poison VMM's scenario. The steps are what it did (for reading): replay runs it again, with its judgement. */
    poison: Poison,
    /** A documented flaw of a proposed design: replays are expected to reproduce it. */
    expectedToFail: Text,
    /** A race recorded on the real kernel (faultline conform --races): the history the model was checked against. */
    recorded: Recorded,
    provenance: Provenance,
  },
);

export type Scenario = t.TypeOf<typeof ScenarioCodec>;

/** What a file is checked against beyond its own shape. */
export interface Known {
  /** Seeded bug ids of this build (impl/bugs.ts). */
  readonly bugs: readonly string[];
}

/** Parses and decodes a file's text; every failure is a FileError naming the file and the field. */
export function decodeScenario(file: string, text: string, known: Known): Scenario {
  const json = parseFile(file, text);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new FileError(file, "", `expected a scenario object, found ${Array.isArray(json) ? "an array" : describeValue(json)}`);
  }
  const version = (json as { version?: unknown }).version;
  const reads = `this build reads version ${VERSIONS.join(", ")}`;
  if (version === undefined) throw new FileError(file, "version", `missing; ${reads}`);
  if (!(VERSIONS as readonly unknown[]).includes(version)) {
    throw new FileError(file, "version", `${reads}, found ${describeValue(version)}`);
  }
  const cap = sizeProblem(json);
  if (cap !== undefined) throw new FileError(file, cap.path, cap.message);
  const r = ScenarioCodec.decode(json);
  if (isLeft(r)) {
    const d = describeErrors(r.left);
    throw new FileError(file, d.path, `${d.message}${d.others > 0 ? ` (+${d.others} more)` : ""}`);
  }
  const problem = scenarioProblem(r.right, known);
  if (problem !== undefined) throw new FileError(file, problem.path, problem.message);
  return r.right;
}

/** Any JSON file faultline reads (parseJson: exact numbers, no duplicate keys, bounded nesting), errors as FileError. */
export function parseFile(file: string, text: string): unknown {
  try {
    return parseJson(text);
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    throw new FileError(file, e.path === "" ? e.where : e.path, e.message);
  }
}

/** The caps, checked before decoding: a million steps would take minutes to decode and hours to run. */
function sizeProblem(json: object): Problem | undefined {
  const { steps, actors, schedule } = json as { steps?: unknown; actors?: unknown; schedule?: unknown };
  if (Array.isArray(actors) && actors.length > MAX_ACTORS) {
    return { path: "actors", message: `${actors.length} actors, more than the ${MAX_ACTORS} a scenario may hold` };
  }
  const stepsOf = (a: unknown, i: number): [string, unknown] => [`actors[${i}].steps`, (a as { steps?: unknown } | null)?.steps];
  const lists = Array.isArray(actors) ? actors.map(stepsOf) : [];
  let total = 0;
  for (const [path, list] of [["steps", steps] as [string, unknown], ...lists]) {
    if (!Array.isArray(list)) continue;
    total += list.length;
    if (total > MAX_STEPS) return { path, message: `more than the ${MAX_STEPS} operations a scenario may hold (all actors together)` };
  }
  if (Array.isArray(schedule) && schedule.length > MAX_SCHEDULE) {
    return { path: "schedule", message: `${schedule.length} decisions, more than the ${MAX_SCHEDULE} a schedule may hold` };
  }
  return undefined;
}

interface Problem {
  readonly path: string;
  readonly message: string;
}

/** What the codec cannot see: references between fields, indices against lengths, ids against this build. */
export function scenarioProblem(s: Scenario, known: Known): Problem | undefined {
  return shapeProblem(s) ?? referenceProblem(s) ?? recordedProblem(s) ?? configProblem(s, known) ?? opsProblem(s) ?? postcopyProblem(s);
}

function shapeProblem(s: Scenario): Problem | undefined {
  // Named by the field to add or drop, so that every problem of a scenario names one.
  const which = 'expected "steps" (sequential) or "actors" (concurrent)';
  if (s.steps !== undefined && s.actors !== undefined) return { path: "actors", message: `${which}, found both` };
  if (s.steps === undefined && s.actors === undefined) return { path: "steps", message: `${which}, found neither` };
  if (s.actors === undefined) {
    if (s.schedule !== undefined) return { path: "schedule", message: 'only a concurrent scenario ("actors") has a schedule' };
    if (s.failure?.actor !== undefined) return { path: "failure.actor", message: 'only a concurrent scenario ("actors") names an actor' };
  } else if (s.expect !== undefined) {
    return { path: "expect", message: 'only a sequential scenario ("steps") has an expect list' };
  }
  if (s.recorded !== undefined && s.actors === undefined) {
    return { path: "recorded", message: 'only a concurrent scenario ("actors") has a recorded race' };
  }
  if (s.expectedToFail !== undefined && s.failure === undefined) return { path: "expectedToFail", message: 'a documented design flaw needs the "failure" it shows' };
  if (s.poison !== undefined && s.steps === undefined) {
    return { path: "poison", message: 'only a sequential scenario ("steps") has a poison scenario' };
  }
  if (s.poison !== undefined && s.postcopy !== undefined) {
    return { path: "poison", message: 'a scenario is run by one VMM: "postcopy" or "poison", found both' };
  }
  return undefined;
}

function referenceProblem(s: Scenario): Problem | undefined {
  const actors = s.actors ?? [];
  const names = actors.map((a) => a.name);
  const dup = names.findIndex((n, i) => names.indexOf(n) !== i);
  if (dup >= 0) return { path: `actors[${dup}].name`, message: `actor "${names[dup]}" is already actors[${names.indexOf(names[dup]!)}]` };
  if (s.steps !== undefined && s.expect !== undefined && s.expect.length > s.steps.length) {
    return { path: `expect[${s.steps.length}]`, message: `expected at most ${s.steps.length} outcomes, one per step, found ${s.expect.length}` };
  }
  const f = s.failure;
  if (f === undefined) return undefined;
  let steps = s.steps?.length ?? actors.reduce((n, a) => n + a.steps.length, 0);
  let what = "the scenario";
  if (f.actor !== undefined) {
    const actor = actors.find((a) => a.name === f.actor);
    if (actor === undefined) return { path: "failure.actor", message: `expected one of ${names.map((n) => JSON.stringify(n)).join(", ")}, found ${JSON.stringify(f.actor)}` };
    steps = actor.steps.length;
    what = `actor "${actor.name}"`;
  }
  if (f.step >= steps) return { path: "failure.step", message: `expected a step index below ${steps} (${what} has ${steps} steps), found ${f.step}` };
  return undefined;
}

/** Each recorded operation names an actor's step, once, and answers after it was invoked. */
function recordedProblem(s: Scenario): Problem | undefined {
  const seen = new Set<string>();
  for (const [i, r] of (s.recorded?.ops ?? []).entries()) {
    const path = `recorded.ops[${i}]`;
    const actor = (s.actors ?? []).find((a) => a.name === r.actor);
    if (actor === undefined) return { path: `${path}.actor`, message: `expected an actor of the scenario, found ${JSON.stringify(r.actor)}` };
    if (r.index >= actor.steps.length) {
      return { path: `${path}.index`, message: `expected a step index below ${actor.steps.length} (actor "${r.actor}"), found ${r.index}` };
    }
    const key = `${r.actor}#${r.index}`;
    if (seen.has(key)) return { path, message: `actor "${r.actor}" step ${r.index} is recorded twice` };
    seen.add(key);
    if (r.ret !== null && r.ret < r.call) {
      return { path: `${path}.ret`, message: `expected a response at or after the invocation (${r.call}), found ${r.ret}` };
    }
    if ((r.ret === null) !== (r.outcome === null)) {
      return { path: `${path}.outcome`, message: "expected an outcome exactly when the operation answered (ret)" };
    }
  }
  return undefined;
}

function configProblem(s: Scenario, known: Known): Problem | undefined {
  const bugs = s.config.bugs ?? [];
  const bad = bugs.findIndex((b) => !known.bugs.includes(b));
  if (bad >= 0) {
    const near = nearest(bugs[bad]!, known.bugs);
    const hint = near === undefined ? "" : `did you mean "${near}"? `;
    return { path: `config.bugs[${bad}]`, message: `unknown seeded bug ${JSON.stringify(bugs[bad])}; ${hint}this build knows ${known.bugs.join(", ")}` };
  }
  if (bugs.length > 0 && s.expectedToFail !== undefined) {
    return { path: "expectedToFail", message: "a documented design flaw is a flaw of the real design; it cannot rely on seeded bugs (config.bugs)" };
  }
  return undefined;
}

const FDS = ["vm", "gmem", "uffd", "file"] as const;

function opsProblem(s: Scenario): Problem | undefined {
  const lists: [string, readonly Op[]][] = s.steps !== undefined ? [["steps", s.steps]] : (s.actors ?? []).map((a, i) => [`actors[${i}].steps`, a.steps]);
  for (const [path, ops] of lists) {
    for (const [i, op] of ops.entries()) {
      if (op.op !== "close") continue;
      const named = FDS.filter((k) => op[k] !== undefined);
      if (named.length > 1) return { path: joinPath(path, i), message: `close takes one of ${FDS.join(", ")}, found ${named.join(" and ")}` };
    }
  }
  return undefined;
}

/** Every array of a post-copy scenario sized by its page count, every page below it, the fetch order without repeats. */
function postcopyProblem(s: Scenario): Problem | undefined {
  const p = s.postcopy;
  if (p === undefined) return undefined;
  for (const key of ["source", "precopied"] as const) {
    const found = p[key].length;
    if (found !== p.pages) return { path: `postcopy.${key}`, message: `expected ${p.pages} entries, one per page, found ${found}` };
  }
  const over = (page: number): string => `expected a page below ${p.pages}, found ${page}`;
  for (const [i, page] of p.fetchOrder.entries()) {
    if (page >= p.pages) return { path: `postcopy.fetchOrder[${i}]`, message: over(page) };
    const first = p.fetchOrder.indexOf(page);
    if (first !== i) return { path: `postcopy.fetchOrder[${i}]`, message: `page ${page} is already fetchOrder[${first}]` };
  }
  const unit = p.backing === "hugetlb-2m" ? 2 ** 21 : 4096;
  for (const [i, e] of p.events.entries()) {
    if (e.kind !== "fetcher" && e.kind !== "handler" && e.page >= p.pages) return { path: `postcopy.events[${i}].page`, message: over(e.page) };
    if ((e.kind === "guest" || e.kind === "vmm") && e.offset >= unit) return { path: `postcopy.events[${i}].offset`, message: `expected an offset below the page size ${unit}, found ${e.offset}` };
    if (e.kind === "guest" && (e.vcpu ?? 0) >= (p.vcpus ?? 1)) return { path: `postcopy.events[${i}].vcpu`, message: `expected a vCPU below ${p.vcpus ?? 1}, found ${e.vcpu}` };
  }
  return undefined;
}
