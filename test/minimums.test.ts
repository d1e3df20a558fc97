// The coverage minimums can fail: a check in which an invariant only held vacuously, a linearizability check never
// saw overlapping operations, or an errno rule or exit was never reached is reported unmet, by name.
import { describe, expect, it } from "vitest";
import { BOUNDS } from "../model/bounds-index.js";
import { FEATURES } from "../props/features.js";
import { INVARIANTS } from "../model/index.js";
import { RULES } from "../model/rules-index.js";
import { coverageOf, describeUnmet, EXIT_KINDS, INVARIANT_MINIMUMS, LINEARIZABLE, LINEARIZABLE_MINIMUMS, UNREACHABLE, vocabularyErrors } from "../props/minimums.js";
import { SUITES, suiteNamed } from "../props/registry.js";
import { Stats } from "../props/stats.js";

/** Stats in which every invariant was non-vacuous and every required rule and exit was reached `n` times. */
function everything(n: number): Stats {
  const s = new Stats();
  for (const inv of INVARIANTS) for (let i = 0; i < n; i++) s.recordInvariant(inv.name, true);
  for (const r of RULES.values()) if (UNREACHABLE[r.id] === undefined) s.rules.set(r.id, n);
  for (const id of BOUNDS.keys()) s.bounds.set(id, [n, n, n, n, n, n]);
  for (const f of FEATURES) s.features.set(f.name, n);
  return s;
}

const HIGH = 1_000_000;

describe("coverage minimums", () => {
  it("are all met by counts above every minimum", () => {
    expect(coverageOf([{ suite: "all", stats: everything(HIGH) }]).unmet).toEqual([]);
  });

  it("an invariant evaluated many times but only vacuously is unmet", () => {
    const s = everything(HIGH);
    const name = INVARIANTS[0]!.name;
    s.invariants.set(name, { checked: HIGH, nonVacuous: 0 });
    expect(coverageOf([{ suite: "all", stats: s }]).unmet.map(describeUnmet)).toEqual([`invariant ${name}: non-vacuous 0 times, minimum ${INVARIANT_MINIMUMS[name]}`]);
  });

  it("an errno rule no sequence reached is unmet; a rule unreachable by construction is not", () => {
    const s = everything(HIGH);
    const rule = [...RULES.values()].find((r) => r.errno !== undefined && UNREACHABLE[r.id] === undefined)!;
    s.rules.delete(rule.id);
    for (const id of Object.keys(UNREACHABLE)) s.rules.delete(id);
    const unmet = coverageOf([{ suite: "all", stats: s }]).unmet;
    expect(unmet.map((l) => l.name)).toEqual([rule.id]);
  });

  it("an exit no vCPU access produced is unmet", () => {
    const s = everything(HIGH);
    const [kind, e] = Object.entries(EXIT_KINDS)[0]!;
    s.rules.delete(e.rule);
    const unmet = coverageOf([{ suite: "all", stats: s }]).unmet;
    expect(unmet.map((l) => `${l.kind} ${l.name}`)).toEqual(expect.arrayContaining([`exit ${kind}`]));
  });

  it("a concurrent suite whose segments never overlapped is unmet", () => {
    const [suite, minimum] = Object.entries(LINEARIZABLE_MINIMUMS)[0]!;
    const s = new Stats();
    s.invariants.set(LINEARIZABLE, { checked: HIGH, nonVacuous: 0 });
    const unmet = coverageOf([{ suite: "all", stats: everything(HIGH) }, { suite, stats: s }]).unmet;
    expect(unmet).toEqual([{ kind: "linearizability", name: `${LINEARIZABLE}@${suite}`, count: 0, checked: HIGH, minimum }]);
  });

  it("every concurrent suite has a linearizability minimum", () => {
    const concurrent = SUITES.filter((s) => s.kind === "concurrent").map((s) => s.name);
    expect(concurrent.length).toBeGreaterThan(0);
    expect(Object.keys(LINEARIZABLE_MINIMUMS).sort()).toEqual(concurrent.sort());
  });

  it("one KVM suite alone leaves the guest_memfd and userfaultfd invariants and rules unmet", async () => {
    const suite = suiteNamed("kvm-anon-x86")!;
    const r = await suite.run({ seed: 3, runs: 20 });
    expect(r.failure).toBeUndefined();
    const unmet = coverageOf([{ suite: suite.name, stats: r.stats }]).unmet;
    expect(unmet.filter((l) => l.count === 0).map((l) => l.name)).toEqual(expect.arrayContaining(["uffd-no-lost-wakeup", "gmem-convert-pins"]));
    expect(unmet.find((l) => l.name === "memslots-disjoint")?.count).toBeGreaterThan(0);
  });

  it("name only what the model declares, by well-formed ids (checked by every faultline check)", () => {
    expect(vocabularyErrors()).toEqual([]);
    const names = INVARIANTS.map((i) => i.name);
    // An errno rule renamed: its minimum names nothing. A rule without a minimum emptied: its id is malformed.
    const renamed = new Map([...RULES].map(([id, r]) => [id === "fd.ioctl-enotty" ? "fd.ioctl-notty" : id, r]));
    expect(vocabularyErrors(renamed, names)).toEqual(['RULE_MINIMUMS "fd.ioctl-enotty" names nothing the model declares']);
    const emptied = new Map([...RULES].map(([id, r]) => [id === "mm.munmap" ? "" : id, r]));
    expect(vocabularyErrors(emptied, names)).toEqual(['rule id "" is not dotted kebab-case']);
    const invariant = names.map((n) => (n === "zap-keeps-contents" ? "" : n));
    expect(vocabularyErrors(RULES, invariant)).toEqual(['invariant name "" is not kebab-case', 'INVARIANT_MINIMUMS "zap-keeps-contents" names nothing the model declares']);
  });
});
