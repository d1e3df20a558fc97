// The reference interval map: sorted disjoint spans in three flat arrays, adjacent equal values merged. Lookups are
// O(log n); an assignment splices the arrays, O(n). impl/util/rangemap.ts is the one the kernel objects use; this
// one is what tests fuzz it against and what bench/rangemap.ts measures it beside.

import type { Span } from "./rangemap.js";

export class FlatRangeMap<V> {
  private starts: number[] = [];
  private ends: number[] = [];
  private values: V[] = [];

  constructor(private readonly same: (a: V, b: V) => boolean = Object.is) {}

  get size(): number {
    return this.starts.length;
  }

  /** Index of the first span ending after i. */
  private firstEndingAfter(i: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! <= i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get(i: number): V | undefined {
    const k = this.firstEndingAfter(i);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a bound that only stops reading past the last span (undefined compares false)
    return k < this.starts.length && this.starts[k]! <= i ? this.values[k] : undefined;
  }

  /** Spans intersecting [start, end), clipped: none for an empty range. */
  *spans(start = 0, end = Number.MAX_SAFE_INTEGER): Generator<Span<V>> {
    if (start >= end) return;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a bound that only stops reading past the last span (undefined compares false)
    for (let k = this.firstEndingAfter(start); k < this.starts.length && this.starts[k]! < end; k++) {
      yield { start: Math.max(start, this.starts[k]!), end: Math.min(end, this.ends[k]!), value: this.values[k]! };
    }
  }

  /** Sets [start, end) to value, or clears it for undefined. */
  set(start: number, end: number, value: V | undefined): void {
    if (start >= end) return;
    const k0 = this.firstEndingAfter(start);
    let k1 = k0;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a bound that only stops reading past the last span (undefined compares false); a span starting at end comes back whole as the right remainder
    while (k1 < this.starts.length && this.starts[k1]! < end) k1++;
    const s: number[] = [];
    const e: number[] = [];
    const v: V[] = [];
    // Whether some span overlaps [start, end), so that k0 and k1 - 1 are the first and last that do.
    // Stryker disable next-line ConditionalExpression,EqualityOperator: without it starts[k0] (the next span) is never below start, ends[k1 - 1] (the one before) never past end
    const overlaps = k0 < k1;
    if (overlaps && this.starts[k0]! < start) {
      s.push(this.starts[k0]!);
      e.push(start);
      v.push(this.values[k0]!);
    }
    if (value !== undefined) {
      s.push(start);
      e.push(end);
      v.push(value);
    }
    if (overlaps && this.ends[k1 - 1]! > end) {
      s.push(end);
      e.push(this.ends[k1 - 1]!);
      v.push(this.values[k1 - 1]!);
    }
    this.starts.splice(k0, k1 - k0, ...s);
    this.ends.splice(k0, k1 - k0, ...e);
    this.values.splice(k0, k1 - k0, ...v);
    // Stryker disable next-line MethodExpression,EqualityOperator: trying more neighbours than can merge is only slower
    for (let k = Math.min(k0 + s.length, this.starts.length - 1); k > Math.max(0, k0 - 1); k--) this.mergeWithPrevious(k);
  }

  private mergeWithPrevious(k: number): void {
    if (this.ends[k - 1] === this.starts[k] && this.same(this.values[k - 1]!, this.values[k]!)) {
      this.ends[k - 1] = this.ends[k]!;
      this.starts.splice(k, 1);
      this.ends.splice(k, 1);
      this.values.splice(k, 1);
    }
  }

  /** Every index of [start, end) has a value satisfying pred. */
  covers(start: number, end: number, pred: (v: V) => boolean = () => true): boolean {
    let pos = start;
    for (const sp of this.spans(start, end)) {
      if (sp.start > pos || !pred(sp.value)) return false;
      pos = sp.end;
    }
    return pos >= end;
  }

  /** Whether any index of [start, end) has a value (none of an empty range). */
  any(start: number, end: number): boolean {
    const k = this.firstEndingAfter(start);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a bound that only stops reading past the last span (undefined compares false)
    return start < end && k < this.starts.length && this.starts[k]! < end;
  }

  clear(): void {
    this.starts = [];
    this.ends = [];
    this.values = [];
  }
}
