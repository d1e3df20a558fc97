// The userfault bitmap against a plain array of booleans: runs() and test() agree after any writes. runs() skips
// groups through a summary kept in step with every write; groups of 1, 2 and 4 words put a few hundred bits over
// several summary words, and the default 32 words needs more than 32 Ki bits for the same.
import fc from "fast-check";
import { expect, it } from "vitest";
import { Bitmap } from "../impl/util/bitmap.js";

/** The maximal runs of true in a plain array. */
function naiveRuns(naive: Uint8Array): { start: number; end: number }[] {
  const runs: { start: number; end: number }[] = [];
  let st = -1;
  naive.forEach((on, i) => {
    if (on && st < 0) st = i;
    if (!on && st >= 0) {
      runs.push({ start: st, end: i });
      st = -1;
    }
  });
  if (st >= 0) runs.push({ start: st, end: naive.length });
  return runs;
}

it.each([
  [0, 600, 1000],
  [1, 600, 1000],
  [2, 600, 1000],
  [5, 70_000, 40],
])("bitmap runs match a naive scan (2^%i words a group, up to %i bits)", (shift, max, numRuns) => {
  const write = fc.tuple(fc.nat(max), fc.nat(max / 2), fc.boolean());
  fc.assert(
    fc.property(fc.integer({ min: 1, max }), fc.array(write), (bits, ops) => {
      const b = new Bitmap(bits, false, shift);
      const naive = new Uint8Array(bits);
      for (const [s, l, on] of ops) {
        const a = Math.min(s, bits);
        const e = Math.min(bits, a + l);
        b.assign(a, e, on);
        naive.fill(on ? 1 : 0, a, e);
      }
      expect(b.runs()).toEqual(naiveRuns(naive));
      expect(naive.findIndex((on, i) => b.test(i) !== (on === 1))).toBe(-1);
    }),
    { numRuns },
  );
});
