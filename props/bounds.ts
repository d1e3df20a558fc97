// Bound coverage (docs/COVERAGE.md, "Bounds"): for every bounded rule of the model (model/bounds-index.ts), values
// drawn at bound-1, bound and bound+1 in the rule's own units, and which side of the bound each step reached. A bound
// counts as covered only when the last accepted value was accepted and the first refused value refused.
import fc from "fast-check";
import { edgeOf, offsetOf, type AnyBound } from "../model/bound.js";
import { BOUNDS } from "../model/bounds-index.js";
import { KVM_MEM_MAX_NR_PAGES, MAP_BASE, MAP_STRIDE, PAGE_SIZE, TASK_SIZE, TWO_64, X86_MAX_GFN } from "../model/consts.js";
import type { State, StepResult } from "../model/index.js";
import type { Config } from "../schema/config.js";
import { decodeFlags, MEMSLOT_FLAG_BITS } from "../schema/flags.js";
import type { Op, OpOf } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";

export type Side = "accepted" | "refused";

export interface BoundSample {
  readonly rule: string;
  /** -1, 0 or +1: bound-1, bound, bound+1 (model/bound.ts offsetOf). */
  readonly offset: number;
  readonly side: Side;
}

const succeeded = (o: Outcome): boolean => !("errno" in o) && !("result" in o && (o.result === "SIGBUS" || o.result === "SIGSEGV"));

/**
 * The bound samples of one step: each bound of the op's checks whose value lay within one unit of its limit, on the
 * side the step reached: refused when the rule fired, accepted when its check ran and passed (a later check may
 * still have refused) or the step succeeded.
 */
export function boundSamples(pre: State, op: Op, r: StepResult): BoundSample[] {
  const out: BoundSample[] = [];
  for (const b of BOUNDS.values()) {
    if (!b.ops.includes(op.op)) continue;
    const m = b.measure(pre, op);
    if (m === undefined) continue;
    const offset = offsetOf(b, m);
    if (!Number.isInteger(offset) || Math.abs(offset) > 1) continue;
    const refused = r.fired.includes(b.rule.id);
    const accepted = !refused && ((r.passed ?? []).includes(b.rule.id) || succeeded(r.outcome));
    if (refused || accepted) out.push({ rule: b.rule.id, offset, side: refused ? "refused" : "accepted" });
  }
  return out;
}

/** Counts per side and offset: [accepted at -1, 0, +1, refused at -1, 0, +1]. */
export type BoundCounts = readonly number[];

export const countIndex = (s: BoundSample): number => (s.side === "accepted" ? 0 : 3) + s.offset + 1;

/** The edge counts of a bound: its last accepted value accepted, its first refused value refused; covered is the smaller. */
export function edgeCounts(b: AnyBound, c: BoundCounts | undefined): { accepted: number; refused: number; covered: number } {
  const e = edgeOf(b.accepts);
  const accepted = c?.[e.accepted + 1] ?? 0;
  const refused = c?.[3 + e.refused + 1] ?? 0;
  return { accepted, refused, covered: Math.min(accepted, refused) };
}

/** What the setup of a suite built, as the bound generators need it: names and sizes of its objects. */
export interface BoundContext {
  readonly config: Config;
  readonly vmType?: number;
  readonly maps: readonly { readonly id: string; readonly length: number; readonly file?: string; readonly offset: number }[];
  readonly files: readonly { readonly name: string; readonly size: number; readonly hugetlb: boolean }[];
  readonly gmems: readonly { readonly name: string; readonly size: number }[];
  readonly slots: readonly { readonly slot: number; readonly gpa: number; readonly size: number; readonly userspace: string | null; readonly logged?: true }[];
  readonly uffds: readonly string[];
}

/** The objects a suite's setup creates, in the form the generators below read. */
export function contextOf(config: Config, setup: readonly Op[]): BoundContext {
  const vm = setup.find((o): o is OpOf<"create_vm"> => o.op === "create_vm");
  return {
    config,
    ...(vm === undefined ? {} : { vmType: vm.type ?? 0 }),
    maps: setup.flatMap((o) =>
      o.op === "mmap"
        ? [{ id: o.map, length: o.length, offset: o.offset, ...(o.file === "anon" ? {} : { file: o.file }) }]
        : o.op === "gmem_mmap"
          ? [{ id: o.map, length: o.length, offset: o.offset }]
          : [],
    ),
    files: setup.flatMap((o) => (o.op === "memfd" ? [{ name: o.file, size: o.size, hugetlb: (o.hugetlb ?? false) !== false }] : [])),
    gmems: setup.flatMap((o) => (o.op === "create_gmem" ? [{ name: o.gmem, size: o.size }] : [])),
    slots: setup.flatMap((o) =>
      o.op === "set_memory_region" && o.memory_size > 0
        ? [
            {
              slot: o.slot,
              gpa: o.guest_phys_addr,
              size: o.memory_size,
              userspace: o.userspace,
              ...(decodeFlags(o.flags, MEMSLOT_FLAG_BITS).names.includes("LOG_DIRTY_PAGES") ? { logged: true as const } : {}),
            },
          ]
        : [],
    ),
    uffds: setup.flatMap((o) => (o.op === "uffd_open" ? [o.uffd] : [])),
  };
}

const P = PAGE_SIZE;
/** A gpa no layout uses: new slots of the generators go here (1 TiB). */
const FREE_GPA = 2 ** 40;
/** An fd name no setup or generator opens. */
const NEVER_OPENED = "g99";
/** A raw slot id no layout uses. */
const NEW_SLOT = 77;
const mapBase = (id: string): number => MAP_BASE + Number(id.slice(1)) * MAP_STRIDE;
/**
 * A one-page range ending d pages from 2^64 for d <= 0, and two pages from the last page for d = +1: no field of
 * the op reaches 2^64, which is not a u64 (a counterexample holding it could not be replayed).
 */
const wrapAt = (d: number): { start: number; size: number } => ({ start: TWO_64 - P + Math.min(d, 0) * P, size: P + Math.max(d, 0) * P });

type Gen = (c: BoundContext, d: number) => fc.Arbitrary<Op> | undefined;

const region = (c: BoundContext, over: Partial<OpOf<"set_memory_region">>): Op => ({
  op: "set_memory_region",
  vm: "v0",
  slot: NEW_SLOT,
  flags: [],
  guest_phys_addr: FREE_GPA,
  memory_size: P,
  userspace: c.maps[0]?.id ?? null,
  userspace_offset: 0,
  ...over,
});

const constant = (op: Op): fc.Arbitrary<Op> => fc.constant(op);
const pick = <T>(xs: readonly T[]): fc.Arbitrary<T> | undefined => (xs.length === 0 ? undefined : fc.constantFrom(...xs));
const kvm = (c: BoundContext): boolean => c.vmType !== undefined;
const PUNCH: OpOf<"gmem_fallocate">["mode"] = ["PUNCH_HOLE", "KEEP_SIZE"];
const FILLS = ["uffdio_copy", "uffdio_zeropage", "uffdio_continue"] as const;

/**
 * For each bounded rule, the operations that put its value at `d` units from the limit (d in -1, 0, +1), built from
 * what the suite's setup made; undefined where the setup has nothing to aim at.
 */
export const BOUND_GENERATORS: Readonly<Record<string, Gen>> = {
  "memslot.slot-id": (c, d) => (kvm(c) ? constant(region(c, { slot: c.config.kernel.userMemSlots + d })) : undefined),
  "memslot.hva": (c, d) => {
    const m = c.maps[0];
    if (!kvm(c) || m === undefined) return undefined;
    return constant(region(c, { userspace: m.id, userspace_offset: TASK_SIZE[c.config.arch] - P + d * P - mapBase(m.id) }));
  },
  // Half the time a guest_memfd name nothing opened: past the wrap check, kvm_gmem_bind refuses the offset with the
  // same EINVAL, where fdget's EBADF shows that the check let the request through.
  "memslot.gmem-offset": (c, d) => {
    const { start, size } = wrapAt(d);
    return kvm(c) && c.gmems[0] !== undefined
      ? fc
          .constantFrom(c.gmems[0].name, NEVER_OPENED)
          .map((g) => region(c, { flags: ["GUEST_MEMFD"], guest_memfd: g, guest_memfd_offset: start, memory_size: size }))
      : undefined;
  },
  "memslot.as-id": (c, d) => {
    const ids = c.vmType === 1 ? 1 : c.config.kernel.addressSpaces;
    return kvm(c) ? constant(region(c, { slot: (ids + d) * 65536 + NEW_SLOT })) : undefined;
  },
  "memslot.gpa-wrap": (c, d) => {
    const { start, size } = wrapAt(d);
    return kvm(c) ? constant(region(c, { guest_phys_addr: start, memory_size: size })) : undefined;
  },
  // Over another slot's gpa, so that a slot this big never exists (its bitmap would be 256 MiB): past the checks, the
  // request is refused by kvm_check_memslot_overlap, and its size check still counts as passed.
  "memslot.max-pages": (c, d) => {
    const s = c.slots[0];
    if (!kvm(c) || s === undefined) return undefined;
    return constant(region(c, { guest_phys_addr: s.gpa, memory_size: (KVM_MEM_MAX_NR_PAGES + d) * P }));
  },
  "memslot.userfault-bitmap": (c, d) =>
    kvm(c)
      ? fc.constantFrom(1, 64, 65, 200).map((npages) =>
          region(c, {
            flags: ["USERFAULT"],
            memory_size: npages * P,
            userfault_bitmap: TASK_SIZE[c.config.arch] - Math.ceil(npages / 64) * 8 + d * 8,
          }),
        )
      : undefined,
  "memslot.overlap": (c, d) => {
    const s = pick(c.slots.filter((x) => x.slot < 65536));
    // A page-long slot d pages into another slot's last page, or d pages over its first one from below.
    return kvm(c) && s !== undefined
      ? fc
          .tuple(s, fc.boolean())
          // A slot too near gpa 0 to be approached from below is approached from above: a gpa is a u64.
          .map(([x, above]) => region(c, { guest_phys_addr: above || x.gpa - P + d * P < 0 ? x.gpa + x.size - d * P : x.gpa - P + d * P }))
      : undefined;
  },
  "memslot.max-gfn": (c, d) =>
    kvm(c) && c.config.arch === "x86" ? constant(region(c, { guest_phys_addr: (X86_MAX_GFN + d) * P })) : undefined,
  "attr.range": (c, d) => {
    const { start, size } = wrapAt(d);
    return kvm(c)
      ? constant({ op: "set_memory_attributes", vm: "v0", address: start, size, attributes: c.vmType === 1 ? ["PRIVATE"] : [] })
      : undefined;
  },
  "vcpu.ebadf": (c, d) => {
    const s = c.slots[0];
    if (!kvm(c) || s === undefined) return undefined;
    return constant({ op: "vcpu_access", vm: "v0", vcpu: c.config.vcpus + d, gpa: s.gpa, kind: "read" });
  },
  "userfault.no-buffer": (c, d) => {
    const s = pick(c.slots);
    return kvm(c) && s !== undefined
      ? fc.tuple(s, fc.constantFrom(1, 2, 64), fc.boolean()).map(([x, n, set]) => ({
          op: set ? "userfault_set" : "userfault_clear",
          vm: "v0",
          slot: x.slot,
          gfn_offset: Math.max(0, x.size / P - n + d),
          npages: n,
        }))
      : undefined;
  },
  "gmem.create-size": (c, d) =>
    kvm(c) ? constant({ op: "create_gmem", vm: "v0", gmem: "g8", size: 2 ** 63 + d * P, flags: [] }) : undefined,
  "gmem.bind-range": (c, d) => {
    const g = pick(c.gmems);
    return kvm(c) && g !== undefined
      ? g.map((x) => region(c, { flags: ["GUEST_MEMFD"], userspace: null, guest_memfd: x.name, guest_memfd_offset: x.size - P + d * P }))
      : undefined;
  },
  "gmem.convert-range": (c, d) => {
    const { start, size } = wrapAt(d);
    return pick(c.gmems)?.map((x): Op => ({ op: "gmem_convert", gmem: x.name, offset: start, size, to: "shared" }));
  },
  "gmem.convert-beyond": (c, d) => {
    const g = pick(c.gmems);
    return g === undefined
      ? undefined
      : fc
          .tuple(g, fc.constantFrom(P, 2 * P), fc.constantFrom("private" as const, "shared" as const))
          // Where the drawn size does not fit below the file's end, one page from offset 0 on: an offset is a u64.
          .map(([x, drawn, to]): Op => {
            const size = x.size - drawn + d * P < 0 ? P : drawn;
            return { op: "gmem_convert", gmem: x.name, offset: Math.max(0, x.size - size + d * P), size, to };
          });
  },
  "gmem.fallocate-args": (c, d) => pick(c.gmems)?.map((x): Op => ({ op: "gmem_fallocate", gmem: x.name, mode: PUNCH, offset: 0, len: 2 ** 63 + d * P })),
  "gmem.fallocate-efbig": (c, d) =>
    pick(c.gmems)?.map((x): Op => ({ op: "gmem_fallocate", gmem: x.name, mode: PUNCH, offset: 2 ** 63 - P + d * P, len: P })),
  "gmem.allocate-beyond": (c, d) => {
    const folio = c.config.gmemFolio === "1G" ? 2 ** 30 : c.config.gmemFolio === "2M" ? 2 ** 21 : P;
    return pick(c.gmems)?.map((x): Op => ({ op: "gmem_fallocate", gmem: x.name, mode: ["KEEP_SIZE"], offset: x.size + (d - 1) * folio, len: folio }));
  },
  "faultline.map-window": (_c, d) => constant({ op: "mmap", map: "m40", file: "anon", offset: 0, length: MAP_STRIDE + d * P }),
  // KVM_CLEAR_DIRTY_LOG: first_page d pages into a bitmap word (checked before the slot lookup, so any slot will do),
  // and a range from a word's start whose end lies d pages past a logged slot's end.
  "dirtylog.clear-first-page": (c, d) => {
    const s = pick(c.slots.filter((x) => x.slot < 65536));
    return kvm(c) && s !== undefined && d >= 0 ? s.map((x): Op => ({ op: "clear_dirty_log", vm: "v0", slot: x.slot, first_page: 64 + d, num_pages: 64 })) : undefined;
  },
  "dirtylog.clear-range": (c, d) => {
    const s = pick(c.slots.filter((x) => x.logged === true));
    return kvm(c) && s !== undefined
      ? fc.tuple(s, fc.boolean()).map(([x, last]): Op => {
          const npages = x.size / P;
          const first = last ? Math.floor((npages - 1) / 64) * 64 : 0;
          return { op: "clear_dirty_log", vm: "v0", slot: x.slot, first_page: first, num_pages: npages - first + d };
        })
      : undefined;
  },
  "mm.fallocate-args": (c, d) => pick(c.files)?.map((f): Op => ({ op: "file_fallocate", file: f.name, mode: PUNCH, offset: 0, len: 2 ** 63 + d * P })),
  "mm.fallocate-efbig": (c, d) =>
    pick(c.files)?.map((f): Op => ({ op: "file_fallocate", file: f.name, mode: PUNCH, offset: 2 ** 63 - P + d * P, len: P })),
  "mm.sigbus-eof": (c, d) => {
    // The first page at or past i_size, through a mapping of the file that reaches it.
    const reach = c.maps.flatMap((m) => {
      const f = c.files.find((x) => x.name === m.file && !x.hugetlb);
      const page = f === undefined ? -1 : Math.ceil(f.size / P) - m.offset / P + d;
      return f !== undefined && page >= 0 && page * P < m.length ? [{ map: m.id, page }] : [];
    });
    const access = (map: string, page: number, write: boolean): Op =>
      write ? { op: "access", map, offset: page * P, kind: "write", byte: 7 } : { op: "access", map, offset: page * P, kind: "read" };
    return pick(reach)?.chain((r) => fc.boolean().map((write) => access(r.map, r.page, write)));
  },
  "uffd.range": (c, d) => {
    const u = c.uffds[0];
    const m = pick(c.maps);
    if (u === undefined || m === undefined) return undefined;
    return fc.tuple(m, fc.constantFrom("uffd_register", "uffd_unregister", "uffdio_wake", "uffdio_copy")).map(([x, op]): Op => {
      const range = { uffd: u, map: x.id, offset: 0, len: TASK_SIZE[c.config.arch] - mapBase(x.id) + d * P };
      return op === "uffd_register" ? { op, ...range, mode: ["MISSING"] } : ({ op, ...range } as Op);
    });
  },
  "uffd.mfill-vma-end": (c, d) => {
    const u = c.uffds[0];
    const m = pick(c.maps);
    return u === undefined || m === undefined
      ? undefined
      : fc.tuple(m, fc.constantFrom(1, 2), fc.constantFrom(...FILLS)).map(([x, n, op]): Op => {
          const pages = Math.ceil(x.length / P);
          return { op, uffd: u, map: x.id, offset: Math.max(0, pages - n + d) * P, len: n * P };
        });
  },
  "uffd.mfill-eof": (c, d) => eofFill(c, d, "uffdio_copy"),
  "uffd.continue-eof": (c, d) => eofFill(c, d, "uffdio_continue"),
};

/** An mfill whose last page starts d pages past the first page at or past i_size, through a shmem mapping reaching it. */
function eofFill(c: BoundContext, d: number, op: "uffdio_copy" | "uffdio_continue"): fc.Arbitrary<Op> | undefined {
  const u = c.uffds[0];
  const reach = c.maps.flatMap((m) => {
    const f = c.files.find((x) => x.name === m.file && !x.hugetlb);
    const last = f === undefined ? -1 : Math.ceil(f.size / P) - m.offset / P + d;
    return f !== undefined && last >= 0 && last * P < m.length ? [{ map: m.id, last }] : [];
  });
  if (u === undefined) return undefined;
  return pick(reach)?.chain((r) =>
    fc.constantFrom(1, 2).map((n): Op => ({ op, uffd: u, map: r.map, offset: Math.max(0, r.last - n + 1) * P, len: Math.min(n, r.last + 1) * P })),
  );
}

/**
 * Bounds only a few suites can reach, drawn more often there: conversions exist only in the v7 suites, which run a
 * fraction of the check's commands; guest_memfd's fallocate len, whose slip refusals-gmem must show within its 80
 * runs (at weight 1 it took 39 to 498 runs at check seeds 1..4); a guest_memfd slot's offset, which only suites with
 * a VM and a guest_memfd reach (at weight 1 its covered count was 17 to 21 at check seeds 1..3, minimum 12).
 */
const WEIGHTS: Readonly<Record<string, number>> = {
  "gmem.convert-beyond": 6,
  "gmem.convert-range": 6,
  "gmem.fallocate-args": 4,
  "memslot.gmem-offset": 2,
};

/** Operations at bound-1, bound and bound+1 of every bound the suite's setup gives something to aim at. */
export function boundOps(c: BoundContext): fc.Arbitrary<Op> | undefined {
  const arbs = Object.entries(BOUND_GENERATORS).flatMap(([id, g]) =>
    [-1, 0, 1].flatMap((d) => {
      const arbitrary = g(c, d);
      return arbitrary === undefined ? [] : [{ weight: WEIGHTS[id] ?? 1, arbitrary }];
    }),
  );
  return arbs.length === 0 ? undefined : fc.oneof(...arbs);
}
