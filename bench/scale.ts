// The implementation at real VM sizes: userfault bitmap scan/clear against C, USERFAULT enable on a huge
// slot with a sparse stage-2 table, memslot lookups with up to 32k slots; against the model where it finishes.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Memslots, type ImplMemslot } from "../impl/kvm/kvm.js";
import { createSystem } from "../impl/system.js";
import { Bitmap } from "../impl/util/bitmap.js";
import { initial, step, type State } from "../model/index.js";
import { findSlot } from "../model/kvm/memslot.js";
import type { Memslot, Vm } from "../model/kvm/types.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { ratios, show, spread, type Spread } from "./ratio.js";

export interface Row {
  readonly bench: string;
  readonly size: string;
  readonly [figure: string]: string | number;
}

export const GiB = 2 ** 30;
const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, "..", "..", "bench", "c", "bitmap.c");
const BINARY = join(here, "..", "..", "bench", "build", "bitmap");

function time<T>(f: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = f();
  return { ms: performance.now() - t0, value };
}

async function timeAsync<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { ms: performance.now() - t0, value };
}

/** Best of n runs: the least-disturbed measurement on a shared 2-core machine. */
function best(n: number, f: () => number): number {
  let m = Infinity;
  for (let i = 0; i < n; i++) m = Math.min(m, f());
  return m;
}

/** ms per call of f: repeated until a batch takes 20 ms (timer and JIT noise), best of 5 batches. */
function perCall(f: () => void): number {
  let reps = 1;
  while (time(() => {
    for (let i = 0; i < reps; i++) f();
  }).ms < 20 && reps < 1 << 20) reps *= 2;
  return best(5, () => time(() => {
    for (let i = 0; i < reps; i++) f();
  }).ms) / reps;
}

const round = (x: number, digits = 2): number => +x.toFixed(digits);

interface CFigures {
  readonly flatScanMs: number;
  readonly summaryScanMs: number;
  readonly readMs: number;
  readonly clearMs: number;
  readonly runs: number;
}

/** One run of bench/c/bitmap.c (built on first use): each scan best of five inside it. */
function cBitmap(pages: number, every: number): CFigures {
  if (!existsSync(BINARY) || statSync(BINARY).mtimeMs < statSync(SOURCE).mtimeMs) {
    mkdirSync(dirname(BINARY), { recursive: true });
    execFileSync("gcc", ["-O2", "-Wall", "-Werror", "-o", BINARY, SOURCE]);
  }
  return JSON.parse(execFileSync(BINARY, [String(pages), String(every)], { encoding: "utf8" })) as CFigures;
}

/**
 * The scan Bitmap.runs() did before its summary, kept here as a figure beside it: eight words per test while nothing
 * changes, then word by word.
 */
function flatRuns(words: Uint32Array, bits: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const n = words.length;
  let start = -1;
  for (let w = 0; w < n; w++) {
    if (start < 0) {
      while (w + 8 <= n && (words[w]! | words[w + 1]! | words[w + 2]! | words[w + 3]! | words[w + 4]! | words[w + 5]! | words[w + 6]! | words[w + 7]!) === 0) w += 8;
    } else {
      while (w + 8 <= n && (words[w]! & words[w + 1]! & words[w + 2]! & words[w + 3]! & words[w + 4]! & words[w + 5]! & words[w + 6]! & words[w + 7]!) === -1) w += 8;
    }
    if (w >= n) break;
    const v = words[w]!;
    if (start < 0 ? v === 0 : v === 0xffffffff) continue;
    for (let pos = 0; pos < 32; ) {
      const rest = v >>> pos;
      if (start < 0) {
        if (rest === 0) break;
        const b = 31 - Math.clz32(rest & -rest);
        start = w * 32 + pos + b;
        pos += b;
      } else {
        const zeros = ~rest >>> 0;
        if (zeros === 0) break;
        const b = 31 - Math.clz32(zeros & -zeros);
        if (pos + b >= 32) break;
        out.push({ start, end: w * 32 + pos + b });
        start = -1;
        pos += b;
      }
    }
  }
  if (start >= 0) out.push({ start, end: bits });
  return out;
}

export const SLOT_SIZES = [1, 16, 64, 256, 1024].map((g) => g * GiB);

export interface BitmapResult {
  readonly rows: Row[];
  /** TypeScript's scan over the best C scan of a bare bitmap, per size (min / median / max over the repetitions). */
  readonly overBestC: readonly Spread[];
}

/**
 * Scan for set bits and clear the whole bitmap, as a VMM does after a post-copy phase; one bit per 16 MiB. Each
 * repetition measures, per size, the TypeScript scan (best of 5 batches), the flat scan it replaced, and one run of
 * the C program (the best flat C scan and the C twin of the TypeScript's, best of 5 each).
 */
export function bitmapBench(reps: number): BitmapResult {
  const every = 4096;
  const maps = SLOT_SIZES.map((bytes) => {
    const b = new Bitmap(bytes / 4096);
    for (let i = 0; i < b.bits; i += every) b.assign(i, i + 1, true);
    return b;
  });
  const ts = SLOT_SIZES.map(() => [] as number[]);
  const tsFlat = SLOT_SIZES.map(() => [] as number[]);
  const cFlat = SLOT_SIZES.map(() => [] as number[]);
  const cSame = SLOT_SIZES.map(() => [] as number[]);
  const clear = SLOT_SIZES.map(() => [] as number[]);
  const cClear = SLOT_SIZES.map(() => [] as number[]);
  for (let r = 0; r < reps; r++) {
    maps.forEach((b, i) => {
      let runs = 0;
      ts[i]!.push(perCall(() => {
        runs = b.runs().length;
      }));
      let flat = 0;
      tsFlat[i]!.push(perCall(() => {
        flat = flatRuns(b.words, b.bits).length;
      }));
      const c = cBitmap(b.bits, every);
      if (c.runs !== runs || flat !== runs) throw new Error(`C found ${c.runs} runs, the flat scan ${flat}, Bitmap.runs ${runs}`);
      cFlat[i]!.push(c.flatScanMs);
      cSame[i]!.push(c.summaryScanMs);
      cClear[i]!.push(c.clearMs);
      clear[i]!.push(time(() => b.assign(0, b.bits, false)).ms);
      for (let j = 0; j < b.bits; j += every) b.assign(j, j + 1, true);
    });
  }
  const overBestC = SLOT_SIZES.map((_, i) => ratios(ts[i]!, cFlat[i]!));
  const rows = SLOT_SIZES.map((bytes, i): Row => ({
    bench: "userfault bitmap scan+clear",
    size: `${bytes / GiB} GiB slot`,
    pages: maps[i]!.bits,
    tsScanMs: show(spread(ts[i]!), 4),
    tsFlatScanMs: show(spread(tsFlat[i]!), 4),
    cFlatScanMs: show(spread(cFlat[i]!), 4),
    cSameScanMs: show(spread(cSame[i]!), 4),
    tsOverBestC: show(overBestC[i]!),
    tsOverSameC: show(ratios(ts[i]!, cSame[i]!)),
    tsClearMs: show(spread(clear[i]!), 3),
    cClearMs: show(spread(cClear[i]!), 3),
  }));
  return { rows, overBestC };
}

const enableSetup = (bytes: number): { ops: Op[]; region: (flags: "USERFAULT"[]) => Op } => {
  const region = (flags: "USERFAULT"[]): Op => ({ op: "set_memory_region", vm: "v0", slot: 0, flags, guest_phys_addr: 0, memory_size: bytes, userspace: "m0", userspace_offset: 0 });
  return { ops: [{ op: "create_vm", vm: "v0" }, { op: "mmap", map: "m0", file: "anon", offset: 0, length: bytes }, region([])], region };
};
const faults = (bytes: number, mapped: number): Op[] => {
  const stride = Math.floor(bytes / 4096 / mapped);
  return Array.from({ length: mapped }, (_, i): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: i * stride * 4096, kind: "write", byte: 1 }));
};

/** Enabling USERFAULT (FLAGS_ONLY) on a slot of `bytes` with `mapped` sparse stage-2 mappings, in the impl. */
async function implEnable(config: Config, bytes: number, mapped: number): Promise<number> {
  const sys = createSystem(config);
  const { ops, region } = enableSetup(bytes);
  for (const op of [...ops, ...faults(bytes, mapped)]) await sys.exec(op);
  return (await timeAsync(() => sys.exec(region(["USERFAULT"])))).ms;
}

/** The same in the model: its stage 2 is a range map too, so it finishes at any size. */
function modelEnable(config: Config, bytes: number, mapped: number): number {
  const { ops, region } = enableSetup(bytes);
  let s: State = initial(config);
  for (const op of [...ops, ...faults(bytes, mapped)]) s = step(s, op).state;
  return time(() => step(s, region(["USERFAULT"]))).ms;
}

export async function userfaultEnableBench(): Promise<Row[]> {
  const rows: Row[] = [];
  await implEnable(PRESETS.default, GiB, 4096); // warm-up
  const noQuirk: Config = { ...PRESETS.default, kernel: { ...PRESETS.default.kernel, slotZapAll: false } };
  const row = async (bytes: number, mapped: number): Promise<Row> => {
    const impl = async (c: Config): Promise<number> => Math.min(await implEnable(c, bytes, mapped), await implEnable(c, bytes, mapped));
    return {
      bench: "enable USERFAULT (sparse stage-2)",
      size: `${bytes / GiB} GiB slot, ${mapped} mapped`,
      mappings: mapped,
      zapAllQuirkMs: round(await impl(PRESETS.default), 3),
      zapSlotMs: round(await impl(noQuirk), 3),
      modelZapSlotMs: round(modelEnable(noQuirk, bytes, mapped), 3),
    };
  };
  for (const bytes of SLOT_SIZES) rows.push(await row(bytes, 4096));
  for (const mapped of [1024, 16384]) rows.push(await row(1024 * GiB, mapped));
  return rows;
}

function implSlots(n: number): Memslots {
  const slots: ImplMemslot[] = [];
  for (let i = 0; i < n; i++) {
    slots.push({ slot: i, as: 0, id: i, baseGfn: i * 512, npages: 256, userspaceAddr: 0, flags: 0, gmem: null, gmemOnly: false, userfaultBitmap: null, invalid: false, dirtyBitmap: null });
  }
  return new Memslots(slots);
}

function modelVm(n: number): Vm {
  const slots: Memslot[] = [];
  for (let i = 0; i < n; i++) slots.push({ slot: i, as: 0, id: i, baseGfn: i * 512, npages: 256, userspaceAddr: 0, flags: [], gmem: null, gmemOnly: false, userfaultBitmap: null });
  return { type: 0, slots, attributes: [], stage2: [[]], bitmaps: new Map(), dirty: new Map(), manualDirtyLogProtect: 0 };
}

export const SLOT_COUNTS = [1024, 4096, 8192, 16384, 32764];

/** gfn -> memslot at random gfns (half of them in holes): binary search in the impl, a linear scan in the model. */
export function memslotLookupBench(): Row[] {
  const lookups = 200_000;
  return SLOT_COUNTS.map((n) => {
    const gfns = Array.from({ length: lookups }, (_, i) => ((i * 2654435761) % (n * 512)) >>> 0);
    const slots = implSlots(n);
    let hits = 0;
    const implMs = best(5, () =>
      time(() => {
        hits = 0;
        for (const g of gfns) if (slots.find(g) !== undefined) hits++;
      }).ms,
    );
    const vm = modelVm(n);
    const modelLookups = 2000;
    const modelMs = best(2, () =>
      time(() => {
        for (let i = 0; i < modelLookups; i++) findSlot(vm, 0, gfns[i]!);
      }).ms,
    );
    return { bench: "memslot lookup", size: `${n} slots`, log2Slots: round(Math.log2(n), 1), implNsPerLookup: round((implMs * 1e6) / lookups, 1), modelNsPerLookup: round((modelMs * 1e6) / modelLookups, 0), hitRate: round(hits / lookups) };
  });
}
