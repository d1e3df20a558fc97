// An immutable map from integer indexes (gfns, page indexes) to values, stored as sorted disjoint spans;
// adjacent spans with equal values are merged, so two maps with the same contents are structurally equal.

export interface Span<V> {
  readonly start: number;
  readonly end: number;
  readonly value: V;
}
export type RangeMap<V> = readonly Span<V>[];

export const EMPTY_RANGES: RangeMap<never> = [];

const same = <V>(a: V, b: V): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

/** Index of the first span whose end is above i. */
function firstEndingAfter<V>(m: RangeMap<V>, i: number): number {
  let lo = 0;
  let hi = m.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (m[mid]!.end <= i) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function get<V>(m: RangeMap<V>, i: number): V | undefined {
  const s = m[firstEndingAfter(m, i)];
  return s !== undefined && s.start <= i ? s.value : undefined;
}

/** The spans intersecting [start, end), clipped to it: none for an empty range. */
export function spans<V>(m: RangeMap<V>, start: number, end: number): Span<V>[] {
  const out: Span<V>[] = [];
  if (start >= end) return out;
  for (let k = firstEndingAfter(m, start); k < m.length && m[k]!.start < end; k++) {
    const s = m[k]!;
    out.push({ start: Math.max(s.start, start), end: Math.min(s.end, end), value: s.value });
  }
  return out;
}

/** Sets [start, end) to value, or clears it when value is undefined. */
export function assign<V>(m: RangeMap<V>, start: number, end: number, value: V | undefined): RangeMap<V> {
  if (start >= end) return m;
  const k0 = firstEndingAfter(m, start);
  let k1 = k0;
  // Stryker disable next-line EqualityOperator: a span starting at end joins [k0, k1) and comes back whole as the right remainder
  while (k1 < m.length && m[k1]!.start < end) k1++;
  const middle: Span<V>[] = [];
  // The first and last spans overlapping [start, end), if any.
  // Stryker disable next-line ConditionalExpression,EqualityOperator: without the guard, m[k0] is the next span (or none), which never starts below start
  const first = k0 < k1 ? m[k0] : undefined;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: without the guard, m[k1 - 1] is the span before start (or none), which never ends past end
  const last = k0 < k1 ? m[k1 - 1] : undefined;
  if (first !== undefined && first.start < start) middle.push({ start: first.start, end: start, value: first.value });
  if (value !== undefined) middle.push({ start, end, value });
  if (last !== undefined && last.end > end) middle.push({ start: end, end: last.end, value: last.value });
  const out = [...m.slice(0, k0), ...middle, ...m.slice(k1)];
  return mergeAround(out, Math.max(0, k0 - 1), k0 + middle.length + 1);
}

function mergeAround<V>(m: Span<V>[], from: number, to: number): Span<V>[] {
  for (let k = Math.min(to, m.length - 1); k > from; k--) {
    const a = m[k - 1]!;
    const b = m[k]!;
    if (a.end === b.start && same(a.value, b.value)) m.splice(k - 1, 2, { start: a.start, end: b.end, value: a.value });
  }
  return m;
}

/** Every index of [start, end) has a value satisfying pred. */
export function covers<V>(m: RangeMap<V>, start: number, end: number, pred: (v: V) => boolean = () => true): boolean {
  let pos = start;
  for (const s of spans(m, start, end)) {
    if (s.start > pos || !pred(s.value)) return false;
    pos = s.end;
  }
  return pos >= end;
}

/** Some index of [start, end) has a value satisfying pred. */
export function some<V>(m: RangeMap<V>, start: number, end: number, pred: (v: V) => boolean = () => true): boolean {
  return spans(m, start, end).some((s) => pred(s.value));
}

/** Number of indexes covered (by any value). */
export const size = <V>(m: RangeMap<V>): number => m.reduce((n, s) => n + s.end - s.start, 0);
