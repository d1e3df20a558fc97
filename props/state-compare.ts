// Comparing and counting abstract states without building their canonical JSON text on every step.
// canonicalText (model/canonical.ts) stays the definition of "equal states": sameState answers from a walk of
// both values when that walk proves the texts equal, and falls back to the texts for anything else.
import { canonicalText, type State } from "../model/index.js";

const enumerable = (o: object, k: string): boolean => Object.prototype.propertyIsEnumerable.call(o, k);

/**
 * True only if a and b have the same canonical text (model/canonical.ts: Map entries sorted by key, object keys
 * sorted, undefined members dropped). False means "not proven": compare the texts.
 */
function provenSame(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    // Keys of one type (not NaN) sort the same way on both sides; mixed keys can tie and keep insertion order.
    let type: string | undefined;
    for (const [k, v] of a) {
      const t = typeof k;
      if ((t !== "string" && t !== "number") || k !== k || (type ??= t) !== t) return false;
      if (!b.has(k) || !provenSame(v, b.get(k))) return false;
    }
    return true;
  }
  if (b instanceof Map) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!provenSame(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let defined = 0;
  for (const k of Object.keys(x)) {
    if (x[k] === undefined) continue;
    defined++;
    if (!enumerable(y, k) || !provenSame(x[k], y[k])) return false;
  }
  for (const k of Object.keys(y)) if (y[k] !== undefined) defined--;
  return defined === 0;
}

/** Equal canonical texts, as `canonicalText(a) === canonicalText(b)`, usually without building them. */
export const sameState = (a: State, b: State): boolean =>
  (provenSame(a.kvm, b.kvm) && provenSame(a.gmem, b.gmem) && provenSame(a.mm, b.mm) && provenSame(a.uffd, b.uffd)) || canonicalText(a) === canonicalText(b);

// A 53-bit hash of a state's canonical form, for counting distinct states. Model states are immutable and share
// unchanged parts between steps, so each object's hash is kept: a step costs what it changed. Lanes stay int32
// (no % or Math.floor on doubles, which cost more than the rest of the walk).
const hashes = new WeakMap<object, number>();
const TWO32 = 2 ** 32;

/** Two 32-bit multiplicative lanes; the result keeps 32 bits of one and 21 of the other. */
class Mixer {
  private a = 0x811c9dc5 | 0;
  private b = 0x01000193;
  add(x: number): void {
    this.a = Math.imul(this.a ^ x, 0x01000193);
    const b = Math.imul(this.b ^ x, 0x5bd1e995);
    this.b = b ^ (b >>> 15);
  }
  /** A 53-bit hash, as its low and high 32 bits. */
  addHash(h: number): void {
    this.add(h | 0);
    this.add((h / TWO32) | 0);
  }
  get value(): number {
    return (this.a >>> 0) * 2097152 + (this.b >>> 11);
  }
}

function stringHash(s: string): number {
  const m = new Mixer();
  m.add(3);
  for (let i = 0; i < s.length; i++) m.add(s.charCodeAt(i));
  return m.value;
}

function valueHash(v: unknown): number {
  switch (typeof v) {
    case "string":
      return stringHash(v);
    case "number": {
      if (!Number.isSafeInteger(v)) return stringHash(`n${v}`);
      const m = new Mixer();
      m.add(1);
      m.addHash(v);
      return m.value;
    }
    case "boolean":
      return v ? 11 : 12;
    case "object":
      return v === null ? 13 : objectHash(v);
    default:
      return 13; // undefined and functions: null in arrays, dropped from objects
  }
}

/** Map entries and object members hash as an order-independent sum (the canonical text sorts them). */
class Sum {
  lo = 0;
  hi = 0;
  n = 0;
  add(k: unknown, v: unknown): void {
    const m = new Mixer();
    m.addHash(valueHash(k));
    m.addHash(valueHash(v));
    const e = m.value;
    this.lo = (this.lo + (e | 0)) | 0;
    this.hi = (this.hi + ((e / TWO32) | 0)) | 0;
    this.n++;
  }
}

function objectHash(o: object): number {
  const known = hashes.get(o);
  if (known !== undefined) return known;
  const m = new Mixer();
  if (Array.isArray(o)) {
    m.add(5);
    for (let i = 0; i < o.length; i++) m.addHash(valueHash(o[i]));
  } else {
    const sum = new Sum();
    if (o instanceof Map) {
      m.add(6);
      for (const [k, v] of o) sum.add(k, v);
    } else {
      m.add(7);
      const r = o as Record<string, unknown>;
      for (const k of Object.keys(r)) if (r[k] !== undefined && typeof r[k] !== "function") sum.add(k, r[k]);
    }
    m.add(sum.n);
    m.add(sum.lo);
    m.add(sum.hi);
  }
  const h = m.value;
  hashes.set(o, h);
  return h;
}

/** Hash of everything canonicalText covers (not the configuration). */
export function stateHash(s: State): number {
  const m = new Mixer();
  for (const part of [s.kvm, s.gmem, s.mm, s.uffd]) m.addHash(valueHash(part));
  return m.value;
}
