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
