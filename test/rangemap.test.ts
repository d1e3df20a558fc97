// The range maps, impl/util/rangemap.ts (mutable, chunked), its one-array reference impl/util/rangemap-flat.ts and
// model/ranges.ts (immutable), against a plain array: every lookup agrees, and the spans stay canonical (adjacent
// equal values merged). The chunked map runs with chunks of 1 to 4 spans too, so that assignments cross, empty,
// split and join chunks, and against the reference over long random streams. Canonical spans are what keep
// the impl O(ranges) and make equal model states structurally equal; a map that forgot to merge would read the
// same but grow with every assignment (the merge-back mutants of the util Stryker run, docs/mutation/kvm.md).
import fc from "fast-check";
import { expect, it } from "vitest";
import { RangeMap } from "../impl/util/rangemap.js";
import { FlatRangeMap } from "../impl/util/rangemap-flat.js";
import { assign, covers, EMPTY_RANGES, get, size, some, spans, type RangeMap as Ranges } from "../model/ranges.js";

const N = 40;
type Assignment = readonly [start: number, end: number, value: number | undefined];
type Run = { start: number; end: number; value: number };
const assignments = fc.array(fc.tuple(fc.nat(N), fc.nat(N), fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined })), { maxLength: 30 });

/** The maximal runs of equal defined values of a plain array, as spans() must return them. */
function runs(naive: readonly (number | undefined)[]): Run[] {
  const out: Run[] = [];
  naive.forEach((v, i) => {
    const last = out.at(-1);
    if (v === undefined) return;
    if (last !== undefined && last.end === i && last.value === v) out[out.length - 1] = { ...last, end: i + 1 };
    else out.push({ start: i, end: i + 1, value: v });
  });
  return out;
}

/** What each map must answer about the window [lo, hi) of the array. */
function expected(naive: readonly (number | undefined)[], lo: number, hi: number) {
  const window = naive.slice(lo, hi);
  return {
    spans: runs(naive.map((v, i) => (i >= lo && i < hi ? v : undefined))),
    covers: window.every((v) => v !== undefined),
    coversOnes: window.every((v) => v === 1),
    any: window.some((v) => v !== undefined),
  };
}

const property = (check: (ops: readonly Assignment[], naive: readonly (number | undefined)[], lo: number, hi: number) => void) =>
  fc.property(assignments, fc.nat(N), fc.nat(N), (ops, x, y) => {
    const naive = new Array<number | undefined>(N).fill(undefined);
    for (const [a, b, v] of ops) for (let i = a; i < b; i++) naive[i] = v;
    check(ops, naive, Math.min(x, y), Math.max(x, y));
  });

const impls = [
  ["chunked", () => new RangeMap<number>()],
  ["chunked, 1 span a chunk", () => new RangeMap<number>(Object.is, false, 1)],
  ["chunked, 2 spans a chunk", () => new RangeMap<number>(Object.is, false, 2)],
  ["chunked, 4 spans a chunk", () => new RangeMap<number>(Object.is, false, 4)],
  ["flat reference", () => new FlatRangeMap<number>()],
] as const;

it.each(impls)("impl (%s): spans, size, get, covers and any agree with a plain array after any assignments, spans merged", (_, make) => {
  fc.assert(
    property((ops, naive, lo, hi) => {
      const map = make();
      for (const [a, b, v] of ops) map.set(a, b, v);
      expect([...map.spans()]).toEqual(runs(naive));
      expect(map.size).toBe(runs(naive).length);
      naive.forEach((v, i) => expect(map.get(i)).toBe(v));
      const e = expected(naive, lo, hi);
      expect([...map.spans(lo, hi)]).toEqual(e.spans);
      expect([map.covers(lo, hi), map.covers(lo, hi, (v) => v === 1), map.any(lo, hi)]).toEqual([e.covers, e.coversOnes, e.any]);
    }),
    { numRuns: 800 },
  );
});

it("model: assign keeps the spans merged; spans, get, covers, some and size agree with a plain array", () => {
  fc.assert(
    property((ops, naive, lo, hi) => {
      const map = ops.reduce<Ranges<number>>((m, [a, b, v]) => assign(m, a, b, v), EMPTY_RANGES);
      expect(map).toEqual(runs(naive));
      expect(size(map)).toBe(naive.filter((v) => v !== undefined).length);
      naive.forEach((v, i) => expect(get(map, i)).toBe(v));
      const e = expected(naive, lo, hi);
      expect(spans(map, lo, hi)).toEqual(e.spans);
      expect([covers(map, lo, hi), covers(map, lo, hi, (v) => v === 1), some(map, lo, hi)]).toEqual([e.covers, e.coversOnes, e.any]);
    }),
    { numRuns: 3000 },
  );
});

it("setting a range to the value of both neighbours joins the three spans into one", () => {
  const map = new RangeMap<number>();
  map.set(0, 4, 1);
  map.set(6, 10, 1);
  map.set(4, 6, 1);
  expect([...map.spans()]).toEqual([{ start: 0, end: 10, value: 1 }]);
  expect(map.size).toBe(1);
  expect(assign(assign(assign(EMPTY_RANGES, 0, 4, 1), 6, 10, 1), 4, 6, 1)).toEqual([{ start: 0, end: 10, value: 1 }]);
});

it.each([1, 2, 3, 8])("chunked with %i spans a chunk answers as the flat reference over long streams of assignments", (chunk) => {
  const step = fc.tuple(fc.nat(2000), fc.nat(64), fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }), fc.nat(2000), fc.nat(2000));
  fc.assert(
    fc.property(fc.array(step, { minLength: 50, maxLength: 400 }), (steps) => {
      const map = new RangeMap<number>(Object.is, false, chunk);
      const ref = new FlatRangeMap<number>();
      for (const [at, len, v, x, y] of steps) {
        map.set(at, at + len, v);
        ref.set(at, at + len, v);
        const [lo, hi] = [Math.min(x, y), Math.max(x, y)];
        expect([map.size, map.get(x), map.any(lo, hi), map.covers(lo, hi)]).toEqual([ref.size, ref.get(x), ref.any(lo, hi), ref.covers(lo, hi)]);
        expect([...map.spans(lo, hi)]).toEqual([...ref.spans(lo, hi)]);
      }
      expect([...map.spans()]).toEqual([...ref.spans()]);
    }),
    { numRuns: 40 },
  );
});

it("a lookup between two spans of a walk does not move the walk", () => {
  const map = new RangeMap<number>(Object.is, false, 2);
  for (let i = 0; i < 10; i++) map.set(2 * i, 2 * i + 1, i);
  const seen: number[] = [];
  for (const sp of map.spans(3, 15)) {
    seen.push(sp.value);
    map.get(0);
  }
  expect(seen).toEqual([2, 3, 4, 5, 6, 7]);
});
