// A canonical, JSON-able form of a state: equal states have equal text, and a diff names the first difference.
import type { State } from "./state.js";

function plain(v: unknown): unknown {
  if (v instanceof Map) return [...v.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, plain(x)]);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = plain((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** Everything but the configuration (identical on both sides by construction). */
export const canonical = (s: State): unknown => plain({ kvm: s.kvm, gmem: s.gmem, mm: s.mm, uffd: s.uffd });

export const canonicalText = (s: State): string => JSON.stringify(canonical(s));

const enumerable = (o: object, k: string): boolean => Object.prototype.propertyIsEnumerable.call(o, k);

/** Objects proven to have the same canonical text as another (immutable values only). */
export type ProvenPairs = WeakMap<object, object>;

/**
 * True only if a and b have the same canonical text (Map entries sorted by key, object keys sorted, undefined
 * members dropped); false means "not proven": compare the texts. `proven` remembers, for immutable values, the
 * objects proven equal, so that parts shared with an earlier comparison are not walked again.
 */
export function provenSame(a: unknown, b: unknown, proven?: ProvenPairs): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (proven !== undefined && proven.get(a) === b) return true;
  if (!provenWalk(a, b, proven)) return false;
  proven?.set(a, b);
  return true;
}

function provenWalk(a: object, b: object, proven: ProvenPairs | undefined): boolean {
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    // Keys of one type (not NaN) sort the same way on both sides; mixed keys can tie and keep insertion order.
    let type: string | undefined;
    for (const [k, v] of a) {
      const t = typeof k;
      if ((t !== "string" && t !== "number") || k !== k || (type ??= t) !== t) return false;
      if (!b.has(k) || !provenSame(v, b.get(k), proven)) return false;
    }
    return true;
  }
  if (b instanceof Map) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!provenSame(a[i], b[i], proven)) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let defined = 0;
  for (const k of Object.keys(x)) {
    if (x[k] === undefined) continue;
    defined++;
    if (!enumerable(y, k) || !provenSame(x[k], y[k], proven)) return false;
  }
  for (const k of Object.keys(y)) if (y[k] !== undefined) defined--;
  return defined === 0;
}

/** Equal canonical texts, usually without building them. */
export const sameCanonical = (a: unknown, b: unknown): boolean => provenSame(a, b) || JSON.stringify(plain(a)) === JSON.stringify(plain(b));

/** The JSON path and both values of the first difference, or undefined when equal. */
export function firstDifference(a: unknown, b: unknown, path = "state"): { path: string; left: unknown; right: unknown } | undefined {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
  } else if (a !== null && b !== null && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d !== undefined) return d;
    }
  }
  return { path, left: a, right: b };
}
