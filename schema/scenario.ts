// Scenario and counterexample files (DESIGN.md section 3): one versioned JSON schema, decoded with io-ts.
import { isLeft } from "fp-ts/lib/Either.js";
import * as t from "io-ts";
import { Id, intIn, strict } from "./codecs.js";
import { ConfigCodec } from "./config.js";
import { OpCodec } from "./ops.js";
import { OutcomeCodec } from "./outcome.js";
import { formatErrors } from "./report.js";

/** File format versions this build reads. */
export const VERSIONS = [1] as const;

const Actor = strict("actor", { name: Id, steps: t.array(OpCodec) }, {});

const Failure = strict("failure", { property: t.string, step: intIn("step", 0, 1_000_000), expected: t.unknown, actual: t.unknown }, { detail: t.string, actor: Id });

const Provenance = strict(
  "provenance",
  {},
  {
    seed: t.number,
    path: t.string,
    replayPath: t.string,
    suite: t.string,
    faultline: t.string,
    fastCheck: t.string,
    bugs: t.array(t.string),
    found: t.string,
  },
);

export const ScenarioCodec = strict(
  "scenario",
  { version: t.literal(1), name: t.string, config: ConfigCodec },
  {
    description: t.string,
    steps: t.array(OpCodec),
    actors: t.array(Actor),
    schedule: t.array(intIn("actor index", 0, 63)),
    expect: t.array(OutcomeCodec),
    failure: Failure,
    /** A documented flaw of a proposed design: replays are expected to reproduce it. */
    expectedToFail: t.string,
    provenance: Provenance,
  },
);

export type Scenario = t.TypeOf<typeof ScenarioCodec>;

export class FileError extends Error {}

/** Parses and decodes a file's text; every failure is one line naming the file and the field. */
export function decodeScenario(file: string, text: string): Scenario {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FileError(`${file}: not JSON (${(e as Error).message})`);
  }
  const version = typeof json === "object" && json !== null ? (json as { version?: unknown }).version : undefined;
  if (version !== undefined && !(VERSIONS as readonly unknown[]).includes(version)) {
    throw new FileError(`${file}: version: this build reads version ${VERSIONS.join(", ")}, found ${JSON.stringify(version)}`);
  }
  const r = ScenarioCodec.decode(json);
  if (isLeft(r)) throw new FileError(formatErrors(file, r.left));
  const s = r.right;
  if ((s.steps === undefined) === (s.actors === undefined)) throw new FileError(`${file}: (top level): expected exactly one of "steps" or "actors"`);
  return s;
}
