// faultline prove (props/prove/): DPOR with sleep sets reaches what brute force reaches, an unsound footprint is
// caught by that comparison, the fast scopes are proved and their seeded races refuted, every race suite has a scope
// and every seeded race one that must refute it, the post-copy VMM's event scope and its replayed counterexample,
// and the CLI's report.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { explore, type Exploration, type ExploreOptions } from "../props/prove/explore.js";
import { ALL, dependent, type Footprint } from "../props/prove/footprint.js";
import { proveScope } from "../props/prove/prove.js";
import { PROOF_SCOPES, raceScope, scopeNamed, type RaceScope } from "../props/prove/scopes.js";
import { replay } from "../props/replay.js";
import { BUGS } from "../impl/bugs.js";
import { SUITES } from "../props/registry.js";
import { parseJson } from "../schema/json.js";
import { ProveReportCodec } from "../schema/prove-report.js";
import { expectOneLineError, faultline, scratch } from "./cli-child.js";

const scope = raceScope;

const run = (s: RaceScope, bugs: readonly string[], opts: Omit<ExploreOptions, "terminals">): Promise<Exploration> =>
  explore({ ...s.config, bugs: [...bugs] }, s.actors(bugs), { ...opts, terminals: true, ...(s.check === undefined ? {} : { check: s.check }) });

const some = (reads: string[], writes: string[], invokes = false, returns = false): Footprint => ({
  kind: "some",
  access: { reads, writes },
  invokes,
  returns,
});

describe("dependence of two steps", () => {
  it("conflicts on a resource, real-time order and visibility make steps dependent; nothing else does", () => {
    expect(dependent(some(["kvm.userfault-bitmap"], []), some([], ["kvm.userfault-bitmap"]))).toBe(true);
    expect(dependent(some(["kvm.userfault-bitmap"], []), some(["kvm.userfault-bitmap"], []))).toBe(false);
    expect(dependent(some([], ["kvm.srcu"]), some([], ["kvm.userfault-bitmap"]))).toBe(false);
    // An invocation and a response are ordered in real time: the linearizability check sees it.
    expect(dependent(some([], [], true, false), some([], [], false, true))).toBe(true);
    expect(dependent(some([], [], true, false), some([], [], true, false))).toBe(false);
    // Two writes the invariants checked at every yield point see are ordered (the states between them are checked).
    expect(dependent(some([], ["kvm.stage2"]), some([], ["kvm.slots"]))).toBe(true);
    expect(dependent(some([], ["kvm.stage2"]), some([], ["data"]))).toBe(false);
    expect(dependent(ALL, some([], []))).toBe(true);
  });
});

describe("DPOR against brute force", () => {
  // Small scopes whose steps have declared footprints (the vCPU fault, the bitmap, attributes), with and without a
  // seeded race. `npm run bench -- --only prove` compares every scope of the library the same way.
  const cases: [string, readonly string[]][] = [
    ["race-userfault-clear", []],
    ["race-userfault-clear", ["userfault-double-fetch"]],
    ["race-attributes", []],
  ];
  for (const [name, bugs] of cases) {
    it(`${name}${bugs.length > 0 ? ` with ${bugs.join()}` : ""}: the same terminal states and verdicts, in fewer runs`, async () => {
      const s = scope(name);
      const brute = await run(s, bugs, { reduction: "none" });
      const dpor = await run(s, bugs, { reduction: "dpor" });
      expect(brute.exhaustive && dpor.exhaustive).toBe(true);
      expect([...dpor.terminals!].sort()).toEqual([...brute.terminals!].sort());
      expect(dpor.runs).toBeLessThan(brute.runs);
      expect(dpor.shortest?.run.failure?.property).toBe(brute.shortest?.run.failure?.property);
      expect(dpor.shortest?.steps).toBe(brute.shortest?.steps);
      expect(brute.failing > 0).toBe(bugs.length > 0);
    }, 120_000);
  }

  it("an unsound footprint (every step independent) explores one run and misses the race: the comparison catches it", async () => {
    const s = scope("race-userfault-clear");
    const bugs = ["userfault-double-fetch"];
    const brute = await run(s, bugs, { reduction: "none" });
    const unsound = await run(s, bugs, { reduction: "dpor", footprint: () => some([], []) });
    expect(unsound.runs).toBe(1);
    expect(unsound.failing).toBe(0);
    expect([...unsound.terminals!].sort()).not.toEqual([...brute.terminals!].sort());
  }, 60_000);
});

describe("proofs of the fast scopes", () => {
  it("race-userfault-clear and race-attributes are proved, each property non-vacuous or reported not proved", async () => {
    for (const name of ["race-userfault-clear", "race-attributes"]) {
      const { report, counterexample } = await proveScope(scope(name));
      expect(report.verdict, name).toBe("proved");
      expect(counterexample).toBeUndefined();
      expect(report.naive).toBeGreaterThan(report.schedules);
      const byName = new Map(report.properties.map((p) => [p.name, p]));
      expect(byName.get("linearizable")!.proved, name).toBe(true);
      expect(byName.get("stage2-in-slot")!.nonVacuous).toBeGreaterThan(0);
      // Nothing of guest_memfd is in these scopes: reported as not proved, not as holding.
      expect(byName.get("gmem-stage2-backed")!.proved).toBe(false);
    }
  }, 120_000);

  it("their seeded races are refuted, with a counterexample that names the bug", async () => {
    for (const name of ["race-userfault-clear", "race-attributes"]) {
      for (const bug of scope(name).refutes) {
        const { report, counterexample } = await proveScope(scope(name), { bugs: [bug] });
        expect(report.verdict, bug).toBe("refuted");
        expect(counterexample!.config.bugs).toEqual([bug]);
      }
    }
  }, 120_000);
});

describe("the library of scopes", () => {
  // A 2 MiB post-copy fill yields before each of its 512 pages (the copy through the alias, CONTINUE's mfill loop):
  // every interleaving of one takes DPOR far past a minute, so these two races have no scope yet.
  const UNSCOPED = ["postcopy-race-hugetlb-2m", "postcopy-race-gmem-2m"];
  it("has one for every race suite of the check, on each configuration the suite runs on", () => {
    const scoped = new Set(PROOF_SCOPES.map((s) => s.suite));
    expect(SUITES.filter((s) => s.kind === "concurrent" && !scoped.has(s.name) && !UNSCOPED.includes(s.name)).map((s) => s.name)).toEqual([]);
  });
});

describe("every seeded race", () => {
  it("is listed by a scope that must refute it (docs/RACES.md measures each)", () => {
    const listed = new Set(PROOF_SCOPES.flatMap((s) => s.refutes));
    const races = Object.entries(BUGS).filter(([, b]) => b.kind === "race").map(([id]) => id);
    expect(races.filter((id) => !listed.has(id))).toEqual([]);
  });

  it("of the post-copy VMM's actors: every short event sequence, the shortest refutation stored and replayed", async () => {
    const s = scopeNamed("postcopy")!;
    const { report, counterexample } = await proveScope(s, { bugs: ["postcopy-double-fetch"] });
    expect(report.verdict).toBe("refuted");
    expect(report.schedules).toBe(report.naive);
    // The guest's access exits and the handler fetches the page; the fetcher, not skipping it, fetches it again: the
    // fetch-at-most-once bound fails before any byte differs, so one event is the shortest refutation.
    expect(counterexample!.postcopy!.events.map((e) => e.kind)).toEqual(["guest"]);
    const replayed = await replay(counterexample!);
    expect(replayed.failure?.property).toBe("postcopy-fetch-once");
    expect(replayed.failure?.property).toBe(report.failure!.property);
    expect((await replay({ ...counterexample!, config: { ...counterexample!.config, bugs: [] } })).failure).toBeUndefined();
  }, 120_000);
});

describe("faultline prove", () => {
  it("--json: one document the schema reads, each scope as expected", () => {
    const dir = scratch();
    const r = faultline(["prove", "--suite", "race-userfault-clear", "--json"], dir);
    expect(r.status, r.stderr).toBe(0);
    const doc = ProveReportCodec.decode(parseJson(r.stdout));
    expect(doc._tag).toBe("Right");
    const report = (doc as { right: { proofs: { verdict: string; schedules: number; naive: number }[]; ok: boolean } }).right;
    expect(report.ok).toBe(true);
    expect(report.proofs[0]!.verdict).toBe("proved");
  });

  it("refutes the 2024 RFC without its fault lock: the shortest counterexample is stored and replays as the design flaw", () => {
    const dir = scratch();
    const r = faultline(["prove", "--suite", "race-gmem-rfc-2024-no-fault-lock", "--html", "proofs/index.html"], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^race-gmem-rfc-2024-no-fault-lock: REFUTED: /m);
    const files = readdirSync(join(dir, "counterexamples"));
    expect(files).toHaveLength(1);
    expect(readdirSync(join(dir, "proofs"))).toEqual(["index.html"]);
    const replay = faultline(["replay", join("counterexamples", files[0]!)], dir);
    expect(replay.status).toBe(1);
    expect(replay.stdout).toContain("REPRODUCES, as expected: a documented design flaw");
  }, 120_000);

  it("usage errors are one line", () => {
    const dir = scratch();
    expectOneLineError(faultline(["prove"], dir), /faultline prove: give either --suite NAME\[,NAME\] or --all/);
    expectOneLineError(faultline(["prove", "--suite", "nope"], dir), /--suite: no scope for "nope"/);
    expectOneLineError(faultline(["prove", "--all", "--bugs", "nope"], dir), /--bugs: no seeded bug "nope"/);
  });
});
