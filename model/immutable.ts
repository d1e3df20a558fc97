// Copy-on-write helpers for the model's readonly arrays and maps.

export const replaceAt = <T>(xs: readonly T[], i: number, x: T): readonly T[] => xs.map((y, k) => (k === i ? x : y));

export function withEntry<K, V>(m: ReadonlyMap<K, V>, k: K, v: V): ReadonlyMap<K, V> {
  const out = new Map(m);
  out.set(k, v);
  return out;
}

export function withoutEntry<K, V>(m: ReadonlyMap<K, V>, k: K): ReadonlyMap<K, V> {
  const out = new Map(m);
  out.delete(k);
  return out;
}

/** Drops entries whose key lies in [start, end). */
export function withoutKeysIn<V>(m: ReadonlyMap<number, V>, start: number, end: number): ReadonlyMap<number, V> {
  let out: Map<number, V> | undefined;
  for (const k of m.keys()) {
    if (k >= start && k < end) {
      out ??= new Map(m);
      out.delete(k);
    }
  }
  return out ?? m;
}
