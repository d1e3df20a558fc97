// Repeated, interleaved measurements: each repetition measures every case once, in turn, so that a change in the
// machine's load between repetitions hits every case alike; figures are reported as min / median / max.

export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export function spread(xs: readonly number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]! };
}

/** "min / median / max" at the given precision. */
export function show(s: Spread, digits = 2): string {
  const f = (x: number): string => x.toFixed(digits);
  return `${f(s.min)} / ${f(s.median)} / ${f(s.max)}`;
}

/** Runs every case once per repetition, in order, `reps` times; returns each case's measurements. */
export async function interleaved<K extends string>(reps: number, cases: Readonly<Record<K, () => number | Promise<number>>>): Promise<Record<K, number[]>> {
  const keys = Object.keys(cases) as K[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let r = 0; r < reps; r++) for (const k of keys) out[k].push(await cases[k]());
  return out;
}

/** The ratio a / b within each repetition, as a spread: the figure a target is judged by. */
export const ratios = (a: readonly number[], b: readonly number[]): Spread => spread(a.map((x, i) => x / b[i]!));
