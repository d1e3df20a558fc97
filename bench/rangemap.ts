// Conversions against the ranges a guest_memfd holds: the chunked RangeMap (impl/util/rangemap.ts) beside the
// one-array reference it replaced (impl/util/rangemap-flat.ts), and whole KVM_SET_MEMORY_ATTRIBUTES2 conversions
// through the impl on files fragmented into 10 000 to 1 000 000 shared ranges. Target: a conversion at a million
// ranges within 1.5x of one at ten thousand, measured in the same repetition.
import { createSystem, type Kernel } from "../impl/system.js";
import { RangeMap } from "../impl/util/rangemap.js";
import { FlatRangeMap } from "../impl/util/rangemap-flat.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { interleaved, ratios, show, spread, type Spread } from "./ratio.js";
import type { Row } from "./scale.js";

const PAGE = 4096;
export const HELD = [10_000, 100_000, 1_000_000];

/** A deterministic stream of span indices below n. */
function lcg(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return Math.floor((x / 2 ** 32) * n);
  };
}

interface Toggler {
  set(start: number, end: number, value: true | undefined): void;
  readonly size: number;
}

/** n spans [2i, 2i+1): each toggle fills the gap after a random one (three spans merge) and empties it again. */
function fragmented<M extends Toggler>(map: M, n: number): M {
  for (let i = 0; i < n; i++) map.set(2 * i, 2 * i + 1, true);
  return map;
}

function togglesUs(map: Toggler, n: number, toggles: number, next: (n: number) => number): number {
  const t0 = performance.now();
  for (let t = 0; t < toggles; t++) {
    const i = 2 * next(n - 1) + 1;
    map.set(i, i + 1, true);
    map.set(i, i + 1, undefined);
  }
  const us = ((performance.now() - t0) * 1000) / (2 * toggles);
  if (map.size !== n) throw new Error(`a toggle left ${map.size} spans, not ${n}`);
  return us;
}

/** A guest_memfd of 2n pages bound to a memslot, its shared ranges the n pages [2i, 2i+1) (set directly). */
async function fragmentedFile(n: number): Promise<Kernel> {
  const config: Config = { ...PRESETS["gmem-v7"], gmemFolio: "4K" };
  const sys = createSystem(config) as Kernel;
  const bytes = 2 * n * PAGE;
  const setup: Op[] = [
    { op: "create_vm", vm: "v0", type: 1 },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: bytes, flags: ["MMAP"] },
    { op: "set_memory_region", vm: "v0", slot: 0, flags: ["GUEST_MEMFD"], guest_phys_addr: 0, memory_size: bytes, userspace: null, guest_memfd: "g0", guest_memfd_offset: 0 },
  ];
  for (const op of setup) await sys.exec(op);
  fragmented(sys.gmemInodes[0]!.shared, n);
  return sys;
}

async function conversionsUs(sys: Kernel, n: number, pairs: number, next: (n: number) => number): Promise<number> {
  const t0 = performance.now();
  for (let t = 0; t < pairs; t++) {
    const offset = (2 * next(n - 1) + 1) * PAGE;
    for (const to of ["shared", "private"] as const) {
      const r = await sys.exec({ op: "gmem_convert", gmem: "g0", offset, size: PAGE, to });
      if (!("result" in r)) throw new Error(`conversion failed: ${JSON.stringify(r)}`);
    }
  }
  const us = ((performance.now() - t0) * 1000) / (2 * pairs);
  if (sys.gmemInodes[0]!.shared.size !== n) throw new Error(`conversions left ${sys.gmemInodes[0]!.shared.size} ranges, not ${n}`);
  return us;
}

export interface RangemapResult {
  readonly rows: Row[];
  /** µs per conversion at 1 000 000 ranges over µs at 10 000, per repetition. */
  readonly conversionGrowth: Spread;
  /** The flat map's µs per toggle over the chunked map's at 1 000 000 spans, per repetition. */
  readonly flatOverChunked: Spread;
}

export async function rangemapBench(reps: number): Promise<RangemapResult> {
  const chunked = HELD.map((n) => fragmented(new RangeMap<true>(), n));
  const flat = HELD.map((n) => fragmented(new FlatRangeMap<true>(), n));
  const files = await Promise.all(HELD.map(fragmentedFile));
  const next = lcg(12345);
  // The flat map splices O(n) per toggle: fewer toggles at a million spans keep the run short.
  const flatToggles = (n: number): number => Math.max(200, Math.min(20_000, 2e8 / n));
  const cases: Record<string, () => number | Promise<number>> = {};
  HELD.forEach((n, i) => {
    cases[`chunked ${n}`] = () => togglesUs(chunked[i]!, n, 20_000, next);
    cases[`flat ${n}`] = () => togglesUs(flat[i]!, n, flatToggles(n), next);
    cases[`convert ${n}`] = () => conversionsUs(files[i]!, n, 5_000, next);
  });
  // One repetition unmeasured: the JIT's warm-up would otherwise land on the first sizes.
  await interleaved(1, cases);
  const m = await interleaved(reps, cases);
  const rows: Row[] = HELD.map((n) => ({
    bench: "ranges held",
    size: `${n} spans`,
    chunkedUsPerSet: show(spread(m[`chunked ${n}`]!), 3),
    flatUsPerSet: show(spread(m[`flat ${n}`]!), 3),
    flatOverChunked: show(ratios(m[`flat ${n}`]!, m[`chunked ${n}`]!)),
    convertUs: show(spread(m[`convert ${n}`]!)),
    convertOver10k: show(ratios(m[`convert ${n}`]!, m[`convert ${HELD[0]}`]!)),
  }));
  const top = HELD[HELD.length - 1]!;
  return { rows, conversionGrowth: ratios(m[`convert ${top}`]!, m[`convert ${HELD[0]}`]!), flatOverChunked: ratios(m[`flat ${top}`]!, m[`chunked ${top}`]!) };
}
