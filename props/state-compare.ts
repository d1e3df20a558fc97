// Comparing and counting abstract states without building their canonical JSON text on every step.
// canonicalText (model/canonical.ts) stays the definition of "equal states": sameState answers from a walk of
// both values when that walk proves the texts equal, and falls back to the texts for anything else. Model states
// and the incremental abstraction share unchanged parts between steps, and the walk remembers the pairs it proved,
// so a step's comparison walks what that step changed.
import { canonicalText, provenSame, type ProvenPairs } from "../model/canonical.js";
import type { State } from "../model/index.js";

/** Pairs of model and impl objects proven to have the same canonical text: immutable, so they stay so. */
const proven: ProvenPairs = new WeakMap();

/** Equal canonical texts, as `canonicalText(a) === canonicalText(b)`, usually without building them. */
export const sameState = (a: State, b: State): boolean =>
  (provenSame(a.kvm, b.kvm, proven) && provenSame(a.gmem, b.gmem, proven) && provenSame(a.mm, b.mm, proven) && provenSame(a.uffd, b.uffd, proven)) || canonicalText(a) === canonicalText(b);

// A 53-bit hash of a state's canonical form, for counting distinct states. Model states are immutable and share
// unchanged parts between steps, so each object's hash is kept: a step costs what it changed. Two 32-bit
// multiplicative lanes held in locals (no object per value); they stay int32 (no % or Math.floor on doubles, which
// cost more than the rest of the walk); the result keeps 32 bits of one lane and 21 of the other.
const hashes = new WeakMap<object, number>();
const TWO32 = 2 ** 32;
const A0 = 0x811c9dc5 | 0;
const B0 = 0x01000193;

const laneA = (a: number, x: number): number => Math.imul(a ^ x, 0x01000193);
function laneB(b: number, x: number): number {
  const c = Math.imul(b ^ x, 0x5bd1e995);
  return c ^ (c >>> 15);
}
const low = (h: number): number => h | 0;
const high = (h: number): number => (h / TWO32) | 0;
const hashOf = (a: number, b: number): number => (a >>> 0) * 2097152 + (b >>> 11);

function stringHash(s: string): number {
  let a = laneA(A0, 3);
  let b = laneB(B0, 3);
  for (let i = 0; i < s.length; i++) {
    a = laneA(a, s.charCodeAt(i));
    b = laneB(b, s.charCodeAt(i));
  }
  return hashOf(a, b);
}

function valueHash(v: unknown): number {
  switch (typeof v) {
    case "string":
      return stringHash(v);
    case "number": {
      if (!Number.isSafeInteger(v)) return stringHash(`n${v}`);
      const a = laneA(laneA(laneA(A0, 1), low(v)), high(v));
      const b = laneB(laneB(laneB(B0, 1), low(v)), high(v));
      return hashOf(a, b);
    }
    case "boolean":
      return v ? 11 : 12;
    case "object":
      return v === null ? 13 : objectHash(v);
    default:
      return 13; // undefined and functions: null in arrays, dropped from objects
  }
}

/** One Map entry or object member: its key's and value's hashes mixed. */
function entryHash(k: unknown, v: unknown): number {
  const hk = valueHash(k);
  const hv = valueHash(v);
  const a = laneA(laneA(laneA(laneA(A0, low(hk)), high(hk)), low(hv)), high(hv));
  const b = laneB(laneB(laneB(laneB(B0, low(hk)), high(hk)), low(hv)), high(hv));
  return hashOf(a, b);
}

function objectHash(o: object): number {
  const known = hashes.get(o);
  if (known !== undefined) return known;
  let a: number;
  let b: number;
  if (Array.isArray(o)) {
    a = laneA(A0, 5);
    b = laneB(B0, 5);
    for (let i = 0; i < o.length; i++) {
      const h = valueHash(o[i]);
      a = laneA(laneA(a, low(h)), high(h));
      b = laneB(laneB(b, low(h)), high(h));
    }
  } else {
    // Map entries and object members hash as an order-independent sum (the canonical text sorts them).
    let lo = 0;
    let hi = 0;
    let n = 0;
    const add = (e: number): void => {
      lo = (lo + low(e)) | 0;
      hi = (hi + high(e)) | 0;
      n++;
    };
    const tag = o instanceof Map ? 6 : 7;
    if (o instanceof Map) for (const [k, v] of o) add(entryHash(k, v));
    else {
      const r = o as Record<string, unknown>;
      for (const k of Object.keys(r)) if (r[k] !== undefined && typeof r[k] !== "function") add(entryHash(k, r[k]));
    }
    a = laneA(laneA(laneA(laneA(A0, tag), n), lo), hi);
    b = laneB(laneB(laneB(laneB(B0, tag), n), lo), hi);
  }
  const h = hashOf(a, b);
  hashes.set(o, h);
  return h;
}

/** Hash of everything canonicalText covers (not the configuration). */
export function stateHash(s: State): number {
  let a = A0;
  let b = B0;
  for (const part of [s.kvm, s.gmem, s.mm, s.uffd]) {
    const h = valueHash(part);
    a = laneA(laneA(a, low(h)), high(h));
    b = laneB(laneB(b, low(h)), high(h));
  }
  return hashOf(a, b);
}
