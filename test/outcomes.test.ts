// props/outcomes: sameOutcome walks two outcomes structurally and must agree with comparing their stableStringify
// texts, which it replaced in the checker (keys in any order, undefined keys absent, NaN as null, -0 as 0).
import fc from "fast-check";
import { expect, it } from "vitest";
import { sameOutcome, stableStringify } from "../props/outcomes.js";

it("sameOutcome(a, b) is stableStringify(a) === stableStringify(b)", () => {
  const leaf = fc.constantFrom(null, 0, -0, 1, NaN, "a", "b", true, false);
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("value"), { maxLength: 3 }), fc.dictionary(fc.constantFrom("a", "b", "c"), fc.option(tie("value"), { nil: undefined }), { maxKeys: 3 })),
  }));
  fc.assert(
    fc.property(value, value, (a, b) => {
      expect(sameOutcome(a, b)).toBe(stableStringify(a) === stableStringify(b));
      expect(sameOutcome(a, structuredClone(a))).toBe(true);
    }),
    { numRuns: 5000 },
  );
});
