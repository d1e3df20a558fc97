// The checker's fast state comparison must decide exactly as the canonical texts do, and the distinct-state
// hash must not tell apart states whose texts are equal.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalText, type State } from "../model/index.js";
import { sameState, stateHash } from "../props/state-compare.js";

type Value = unknown;

/** JSON-like values with the shapes states have: Maps keyed by numbers or by strings, optional members. */
const value: fc.Arbitrary<Value> = fc.letrec<{ v: Value }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer({ min: -2, max: 2 }),
    fc.constantFrom("a", "b", "1"),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("x", "y", "z"), fc.oneof(tie("v"), fc.constant(undefined)), { maxKeys: 3 }),
    fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 3 }), tie("v")), { selector: ([k]) => k, maxLength: 3 }).map((e) => new Map(e)),
    fc.uniqueArray(fc.tuple(fc.constantFrom("p", "q", "1"), tie("v")), { selector: ([k]) => k, maxLength: 3 }).map((e) => new Map(e)),
  ),
})).v;

/** A deep copy with object members and Map entries in the reverse order (the same canonical text). */
function reordered(v: Value): Value {
  if (v instanceof Map) return new Map([...v].reverse().map(([k, x]) => [k, reordered(x)]));
  if (Array.isArray(v)) return v.map(reordered);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reordered(x)]));
  return v;
}

const state = (kvm: Value, mm: Value): State => ({ kvm, gmem: null, mm, uffd: null }) as unknown as State;

describe("state comparison", () => {
  it("sameState agrees with the canonical texts, on equal, reordered and unrelated values", () => {
    fc.assert(
      fc.property(value, value, value, fc.boolean(), (a, b, m, reorder) => {
        const x = state(a, m);
        const y = state(reorder ? reordered(a) : b, reordered(m));
        expect(sameState(x, y)).toBe(canonicalText(x) === canonicalText(y));
      }),
      { numRuns: 3000, seed: 1 },
    );
  });

  it("states with equal texts hash alike; different ones almost never do", () => {
    let collisions = 0;
    let different = 0;
    fc.assert(
      fc.property(value, value, (a, b) => {
        const x = state(a, b);
        const y = state(reordered(a), reordered(b));
        expect(stateHash(y)).toBe(stateHash(x));
        const z = state(b, a);
        if (canonicalText(z) !== canonicalText(x)) {
          different++;
          if (stateHash(z) === stateHash(x)) collisions++;
        }
      }),
      { numRuns: 3000, seed: 2 },
    );
    expect(different).toBeGreaterThan(1000);
    expect(collisions).toBe(0);
  });
});
