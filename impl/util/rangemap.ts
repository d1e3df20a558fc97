// A mutable interval map (maple-tree-like): sorted disjoint spans, adjacent equal values merged, held in chunks of
// at most a few hundred spans under an index of each chunk's last end. A lookup is two binary searches; an
// assignment splices one or two chunks, O(log n + spans it touches + chunk size), so a guest_memfd fragmented into a
// million ranges converts as fast as one with ten thousand (bench/rangemap.ts). impl/util/rangemap-flat.ts is the
// one-array reference it is fuzzed against (test/rangemap.test.ts).
import { nextVersion } from "./versioned.js";

export interface Span<V> {
  readonly start: number;
  readonly end: number;
  readonly value: V;
}

/** Spans per chunk: splits above twice this, neighbours join when both fit in it. */
const CHUNK = 128;

interface Chunk<V> {
  starts: number[];
  ends: number[];
  values: V[];
}

export class RangeMap<V> {
  private chunks: Chunk<V>[] = [];
  /** The end of each chunk's last span, ascending: the index the first binary search runs on. */
  private lastEnds: number[] = [];
  private count = 0;
  // The position seek() found: chunk c and index k within it, or c = chunks.length past the last span.
  private c = 0;
  private k = 0;
  /** Changes with every assignment (impl/util/versioned.ts). */
  version = nextVersion();

  constructor(
    private readonly same: (a: V, b: V) => boolean = Object.is,
    /** A seeded slip (impl/bugs.ts): a store strictly inside one span keeps the span's head and loses its tail. */
    private readonly splitLosesTail = false,
    /** Spans per chunk; tests shrink it so that a few dozen spans cross many chunks. */
    private readonly chunk: number = CHUNK,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Sets (c, k) to the first span ending after i. */
  private seek(i: number): void {
    let lo = 0;
    let hi = this.lastEnds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lastEnds[mid]! <= i) lo = mid + 1;
      else hi = mid;
    }
    this.c = lo;
    this.k = 0;
    if (lo === this.chunks.length) return;
    const ends = this.chunks[lo]!.ends;
    // The chunk's last span ends after i, so k stays inside the chunk.
    let a = 0;
    let b = ends.length - 1;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (ends[mid]! <= i) a = mid + 1;
      else b = mid;
    }
    this.k = a;
  }

  get(i: number): V | undefined {
    this.seek(i);
    const ch = this.chunks[this.c];
    return ch !== undefined && ch.starts[this.k]! <= i ? ch.values[this.k] : undefined;
  }

  /** Spans intersecting [start, end), clipped: none for an empty range. */
  *spans(start = 0, end = Number.MAX_SAFE_INTEGER): Generator<Span<V>> {
    if (start >= end) return;
    this.seek(start);
    // Copied out: a caller may look something up between two spans, which moves (c, k).
    let k = this.k;
    for (let c = this.c; c < this.chunks.length; c++, k = 0) {
      const ch = this.chunks[c]!;
      for (; k < ch.starts.length; k++) {
        if (ch.starts[k]! >= end) return;
        yield { start: Math.max(start, ch.starts[k]!), end: Math.min(end, ch.ends[k]!), value: ch.values[k]! };
      }
    }
  }

  /** Sets [start, end) to value, or clears it for undefined. */
  set(start: number, end: number, value: V | undefined): void {
    if (start >= end) return;
    this.version = nextVersion();
    this.seek(start);
    const cf = this.c;
    const kf = this.k;
    // The first span starting at or after end: the first ending after end, or the one past it if it starts before.
    this.seek(end);
    let c1 = this.c;
    let k1 = this.k;
    if (c1 < this.chunks.length && this.chunks[c1]!.starts[k1]! < end) [c1, k1] = this.after(c1, k1);
    // (cf, kf) up to (c1, k1) are the spans [start, end) overlaps.
    const overlaps = cf !== c1 || kf !== k1;
    if (!overlaps && value === undefined) return;
    // Their replacement: the outer remainders of the first and last around the new span, between the two
    // neighbours, which are replaced as well so that equal neighbours merge.
    const s: number[] = [];
    const e: number[] = [];
    const v: V[] = [];
    const push = (a: number, b: number, x: V): void => {
      const n = s.length;
      if (n > 0 && e[n - 1] === a && this.same(v[n - 1]!, x)) e[n - 1] = b;
      else {
        s.push(a);
        e.push(b);
        v.push(x);
      }
    };
    const hasPrevious = cf > 0 || kf > 0;
    const [c0, k0] = hasPrevious ? this.before(cf, kf) : [cf, kf];
    if (hasPrevious) this.pushAt(c0, k0, push);
    if (overlaps) {
      const first = this.chunks[cf]!;
      if (first.starts[kf]! < start) push(first.starts[kf]!, start, first.values[kf]!);
    }
    if (value !== undefined) push(start, end, value);
    if (overlaps) {
      const [cl, kl] = this.before(c1, k1);
      const last = this.chunks[cl]!;
      const inside = cl === cf && kl === kf && last.starts[kl]! < start && last.ends[kl]! > end;
      if (last.ends[kl]! > end && !(this.splitLosesTail && inside)) push(end, last.ends[kl]!, last.values[kl]!);
    }
    if (c1 < this.chunks.length) {
      this.pushAt(c1, k1, push);
      [c1, k1] = this.after(c1, k1);
    }
    this.replace(c0, k0, c1, k1, s, e, v);
  }

  private pushAt(c: number, k: number, push: (a: number, b: number, x: V) => void): void {
    const ch = this.chunks[c]!;
    push(ch.starts[k]!, ch.ends[k]!, ch.values[k]!);
  }

  /** The position after (c, k), normalised: k inside chunk c, or c past the last chunk. */
  private after(c: number, k: number): [number, number] {
    return k + 1 < this.chunks[c]!.starts.length ? [c, k + 1] : [c + 1, 0];
  }

  /** The position before (c, k); (c, k) is not the first span. */
  private before(c: number, k: number): [number, number] {
    return k > 0 ? [c, k - 1] : [c - 1, this.chunks[c - 1]!.starts.length - 1];
  }

  /** Replaces the spans in [(c0, k0), (c1, k1)) by s/e/v, then splits or joins chunks to keep them in bounds. */
  private replace(c0: number, k0: number, c1: number, k1: number, s: number[], e: number[], v: V[]): void {
    const chunks = this.chunks;
    // An empty map's window is empty and starts past the last chunk: give it one.
    if (chunks.length === 0) {
      chunks.push({ starts: [], ends: [], values: [] });
      this.lastEnds.push(0);
    }
    const first = chunks[c0]!;
    if (c1 === c0) {
      this.count += s.length - (k1 - k0);
      first.starts.splice(k0, k1 - k0, ...s);
      first.ends.splice(k0, k1 - k0, ...e);
      first.values.splice(k0, k1 - k0, ...v);
    } else {
      let removed = first.starts.length - k0;
      first.starts.splice(k0, removed, ...s);
      first.ends.splice(k0, removed, ...e);
      first.values.splice(k0, removed, ...v);
      for (let c = c0 + 1; c < c1; c++) removed += chunks[c]!.starts.length;
      if (c1 < chunks.length) {
        const last = chunks[c1]!;
        last.starts.splice(0, k1);
        last.ends.splice(0, k1);
        last.values.splice(0, k1);
        removed += k1;
      }
      this.count += s.length - removed;
      chunks.splice(c0 + 1, c1 - c0 - 1);
      this.lastEnds.splice(c0 + 1, c1 - c0 - 1);
      this.refresh(c0 + 1);
    }
    this.refresh(c0);
    this.rebalance(c0);
  }

  /** Brings lastEnds[c] up to date with chunk c, if there is one. */
  private refresh(c: number): void {
    const ch = this.chunks[c];
    if (ch !== undefined) this.lastEnds[c] = ch.ends[ch.ends.length - 1]!;
  }

  /** Drops chunk c if empty, splits it if over twice the chunk size, joins it with a neighbour if both fit in one. */
  private rebalance(c: number): void {
    const chunks = this.chunks;
    const ch = chunks[c]!;
    const n = ch.starts.length;
    if (n === 0) {
      chunks.splice(c, 1);
      this.lastEnds.splice(c, 1);
      if (c < chunks.length) this.rebalance(c);
      return;
    }
    if (n > 2 * this.chunk) {
      const half = n >> 1;
      chunks.splice(c + 1, 0, { starts: ch.starts.splice(half), ends: ch.ends.splice(half), values: ch.values.splice(half) });
      this.lastEnds.splice(c + 1, 0, 0);
      this.refresh(c);
      this.refresh(c + 1);
      return;
    }
    const next = chunks[c + 1];
    if (next !== undefined && n + next.starts.length <= this.chunk) this.join(c);
    else if (c > 0 && chunks[c - 1]!.starts.length + n <= this.chunk) this.join(c - 1);
  }

  /** Moves chunk c + 1's spans onto the end of chunk c. */
  private join(c: number): void {
    const a = this.chunks[c]!;
    const b = this.chunks[c + 1]!;
    a.starts.push(...b.starts);
    a.ends.push(...b.ends);
    a.values.push(...b.values);
    this.chunks.splice(c + 1, 1);
    this.lastEnds.splice(c + 1, 1);
    this.refresh(c);
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
    if (start >= end) return false;
    this.seek(start);
    const ch = this.chunks[this.c];
    return ch !== undefined && ch.starts[this.k]! < end;
  }

  clear(): void {
    this.version = nextVersion();
    this.chunks = [];
    this.lastEnds = [];
    this.count = 0;
  }
}
