// In-place conversion at scale (KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd): 1 GiB inside a 1 TiB file with
// pages present inside and outside the range, host-mapped, pinned elsewhere and mapped in stage 2; and a million
// random-range conversions on files from 1 GiB to 1 TiB. The impl's cost follows ranges and present pages, never
// the pages of a range.
import { createSystem, type Kernel } from "../impl/system.js";
import { initial, step, type State } from "../model/index.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Row } from "./scale.js";

const PAGE = 4096;
const GiB = 2 ** 30;
const TiB = 2 ** 40;
/** The converted range starts in the middle of the file. */
const RANGE = 512 * GiB;

async function populated(config: Config, present: number): Promise<ReturnType<typeof createSystem>> {
  const sys = createSystem(config);
  const setup: Op[] = [
    { op: "create_vm", vm: "v0", type: 1 },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: TiB, flags: ["MMAP", "INIT_SHARED"] },
    { op: "set_memory_region", vm: "v0", slot: 0, flags: ["GUEST_MEMFD"], guest_phys_addr: 0, memory_size: TiB, userspace: null, guest_memfd: "g0", guest_memfd_offset: 0 },
    { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: TiB },
  ];
  for (const op of setup) await sys.exec(op);
  // Pages spread over the range and around it: host-written (mapped), guest-faulted (stage 2), and pins outside.
  const stride = Math.floor((2 * GiB) / present / PAGE) * PAGE;
  for (let i = 0; i < present; i++) {
    const at = RANGE - GiB / 2 + i * stride;
    await sys.exec({ op: "access", map: "m5", offset: at, kind: "write", byte: 1 + (i % 255) });
    if (i % 4 === 0) await sys.exec({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: at, kind: "read", private: false });
    if (i % 16 === 1 && (at < RANGE || at >= RANGE + GiB)) await sys.exec({ op: "pin", map: "m5", offset: at });
  }
  return sys;
}

const convert = async (sys: ReturnType<typeof createSystem>, to: "private" | "shared"): Promise<number> => {
  const t0 = performance.now();
  const r = await sys.exec({ op: "gmem_convert", gmem: "g0", offset: RANGE, size: GiB, to });
  if (!("result" in r)) throw new Error(`conversion to ${to} failed: ${JSON.stringify(r)}`);
  return performance.now() - t0;
};

/**
 * The first conversion to private (it unmaps the range's host PTEs and zaps its SPTEs; best of 3 freshly
 * populated files), then the best of n round trips once nothing in the range is mapped any more.
 */
async function measure(config: Config, present: number, n: number): Promise<{ first: number; toPrivate: number; toShared: number }> {
  let first = Infinity;
  let sys = await populated(config, present);
  for (let i = 0; i < 3; i++) {
    if (i > 0) sys = await populated(config, present);
    first = Math.min(first, await convert(sys, "private"));
  }
  let toShared = await convert(sys, "shared");
  let toPrivate = Infinity;
  for (let i = 0; i < n; i++) {
    toPrivate = Math.min(toPrivate, await convert(sys, "private"));
    toShared = Math.min(toShared, await convert(sys, "shared"));
  }
  return { first, toPrivate, toShared };
}

export async function gmemConvertBench(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const folio of ["4K", "2M", "1G"] as const) {
    for (const present of [0, 1024, 16384]) {
      const config: Config = { ...PRESETS["gmem-v7"], gmemFolio: folio };
      const r = await measure(config, present, 5);
      rows.push({
        bench: "gmem convert 1 GiB of 1 TiB",
        size: `${folio} folios, ${present} pages present`,
        firstToPrivateMs: +r.first.toFixed(2),
        toPrivateMs: +r.toPrivate.toFixed(2),
        toSharedMs: +r.toShared.toFixed(2),
      });
    }
  }
  return rows;
}

/** A deterministic stream of conversions: page offset, pages and direction, in [1, maxPages] pages. */
function* conversions(filePages: number, maxPages: number, count: number): Generator<Op> {
  let x = 12345;
  const next = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return Math.floor((x / 2 ** 32) * n);
  };
  for (let i = 0; i < count; i++) {
    const pages = 1 + next(maxPages);
    const at = next(filePages - pages + 1);
    yield { op: "gmem_convert", gmem: "g0", offset: at * PAGE, size: pages * PAGE, to: next(2) === 1 ? "private" : "shared" };
  }
}

const fileSetup = (bytes: number): Op[] => [
  { op: "create_vm", vm: "v0", type: 1 },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: bytes, flags: ["MMAP", "INIT_SHARED"] },
  { op: "set_memory_region", vm: "v0", slot: 0, flags: ["GUEST_MEMFD"], guest_phys_addr: 0, memory_size: bytes, userspace: null, guest_memfd: "g0", guest_memfd_offset: 0 },
];

export const FILE_SIZES = [1, 16, 256, 1024].map((g) => g * GiB);
/** Conversions the model runs of the same stream: its immutable ranges copy on every step, O(ranges). */
const MODEL_CONVERSIONS = 20_000;

/**
 * `count` conversions of random ranges on files of every size, through the impl's ioctl path (bound to a memslot,
 * so each one also opens an mmu_invalidate window and zaps its range). Ranges of 1 to 512 pages (4 KiB to 2 MiB):
 * the larger the file, the fewer overlap and the more shared/private ranges the file ends with. Ranges scaled to
 * the file (up to 1/512 of it): the same number of ranges at every size.
 */
export async function randomConversionsBench(count: number): Promise<Row[]> {
  const config: Config = { ...PRESETS["gmem-v7"], gmemFolio: "4K" };
  const rows: Row[] = [];
  for (const scaled of [false, true]) {
    for (const bytes of FILE_SIZES) {
      const filePages = bytes / PAGE;
      const maxPages = scaled ? filePages / 512 : 512;
      const sys = createSystem(config) as Kernel;
      for (const op of fileSetup(bytes)) await sys.exec(op);
      const window = count / 10;
      let firstMs = 0;
      let lastMs = 0;
      let modelPrefixMs = 0;
      const prefix = Math.min(count, MODEL_CONVERSIONS);
      let i = 0;
      const t0 = performance.now();
      let tw = t0;
      for (const op of conversions(filePages, maxPages, count)) {
        const r = await sys.exec(op);
        if (!("result" in r)) throw new Error(`conversion ${i} failed: ${JSON.stringify(r)}`);
        i++;
        if (i === prefix) modelPrefixMs = performance.now() - t0;
        if (i === window) firstMs = performance.now() - t0;
        if (i === count - window) tw = performance.now();
      }
      const totalMs = performance.now() - t0;
      lastMs = totalMs - (tw - t0);
      let s: State = initial(config);
      for (const op of fileSetup(bytes)) s = step(s, op).state;
      const m0 = performance.now();
      for (const op of conversions(filePages, maxPages, prefix)) s = step(s, op).state;
      const modelMs = performance.now() - m0;
      const us = (ms: number, n: number): number => +((ms * 1000) / n).toFixed(2);
      rows.push({
        bench: scaled ? "random conversions, ranges scaled to the file" : "random conversions, 4 KiB-2 MiB ranges",
        size: `${bytes / GiB} GiB file`,
        conversions: count,
        maxRangePages: maxPages,
        rangesAtEnd: sys.gmemInodes[0]!.shared.size,
        usPerConversion: us(totalMs, count),
        usFirstTenth: us(firstMs, window),
        usLastTenth: us(lastMs, window),
        implUsFirst20k: us(modelPrefixMs, prefix),
        modelUsFirst20k: us(modelMs, prefix),
      });
    }
  }
  return rows;
}
