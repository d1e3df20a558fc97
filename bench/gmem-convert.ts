// In-place conversion at scale: KVM_SET_MEMORY_ATTRIBUTES2 of 1 GiB inside a 1 TiB guest_memfd, with pages
// present inside and outside the range, host-mapped, pinned elsewhere and mapped in stage 2. The impl's cost
// follows ranges and present pages, never the 262144 pages of the range. Run: npm run build, then
// node dist/bench/gmem-convert.js (or add gmemConvertBench to bench/run.ts).
import { fileURLToPath } from "node:url";
import { createSystem } from "../impl/system.js";
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await gmemConvertBench()) console.log(JSON.stringify(r));
}
