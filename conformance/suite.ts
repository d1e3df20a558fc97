// Random conformance: fast-check generates operation sequences restricted to what the running kernel supports and
// the model implements, runs each through both, and shrinks any disagreement to a minimal scenario file.
import { createHash } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { initial, step } from "../model/index.js";
import { regionOp, type LayoutSlot } from "../props/layouts.js";
import { configToInput, type Config } from "../schema/config.js";
import { CAPS, type DirtyLogManualName, type MemslotFlagName, type Op } from "../schema/ops.js";
import { stringifyExact } from "../schema/json.js";
import type { Scenario } from "../schema/scenario.js";
import type { Host } from "./capabilities.js";
import { isFailure, runSteps, type StepReport, type Verdict } from "./compare.js";
import type { Helper } from "./native.js";
import { stepRuns, type Names } from "./requirements.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const PAGE = 4 * KiB;

/**
 * The layout every sequence starts from: anonymous memory, a shmem memfd, and an MMAP|INIT_SHARED guest_memfd whose
 * slot's userspace_addr is its own host mapping (so both fault paths reach the same page, see deviations), plus a
 * READONLY slot.
 */
const SLOTS: readonly LayoutSlot[] = [
  { slot: 0, gpa: 0, size: 2 * MiB, userspace: "m0", userspaceOffset: 0, flags: [] },
  { slot: 1, gpa: 2 * MiB, size: 2 * MiB, userspace: "m1", userspaceOffset: 0, flags: [] },
  { slot: 2, gpa: 4 * MiB, size: 2 * MiB, userspace: "m5", userspaceOffset: 0, flags: ["GUEST_MEMFD"], gmem: "g0" },
  { slot: 3, gpa: 8 * MiB, size: 2 * MiB, userspace: "m0", userspaceOffset: 2 * MiB, flags: ["READONLY"] },
];

const MAP_OPS: readonly Op[] = [
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB },
  { op: "mmap", map: "m1", file: "f0", offset: 0, length: 2 * MiB },
];

export const RANDOM_SETUP: readonly Op[] = [
  { op: "create_vm", vm: "v0" },
  MAP_OPS[0]!,
  { op: "memfd", file: "f0", size: 2 * MiB },
  MAP_OPS[1]!,
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * MiB, flags: ["MMAP", "INIT_SHARED"] },
  { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: 2 * MiB, shared: true },
  ...SLOTS.map((s) => regionOp(s)),
];

/** Whether the model implements an op family yet (so random sequences do not drown in "model not yet"). */
export function modelImplements(config: Config, probeOp: Op): boolean {
  return !step(initial(config), probeOp).fired.includes("faultline.not-modeled");
}

/** What the random suite's names refer to: its layout's objects and the few extra names its steps create. */
const RANDOM_NAMES: Names = {
  kinds: new Map([["v0", "vm"], ["f0", "file"], ["g0", "gmem"], ["g8", "gmem"], ["g9", "gmem"], ["u0", "uffd"]]),
  gmemMaps: new Set(["m5", "m6"]),
};

/** Whether the random suite may draw a step on this host. */
export const randomStepRuns = (host: Host, op: Op): boolean => stepRuns(host, op, RANDOM_NAMES);

/** The setup steps this host can run (no VM without /dev/kvm; the guest_memfd steps fail alike in model and kernel without it). */
export const randomSetup = (host: Host): Op[] => RANDOM_SETUP.filter((op) => randomStepRuns(host, op));

/** One random step, drawn only from what this host can run. */
export function randomOp(host: Host, uffd = true): fc.Arbitrary<Op> {
  const config = host.config;
  const byte = fc.integer({ min: 1, max: 255 });
  const inPage = fc.constantFrom(0, 0, 0, 1, 4095);
  const slotGpa = fc.constantFrom(...SLOTS.flatMap((s) => [s.gpa, s.gpa + PAGE, s.gpa + s.size - PAGE]));
  const gpa = fc.oneof({ weight: 6, arbitrary: slotGpa }, { weight: 1, arbitrary: fc.constantFrom(6 * MiB, 10 * MiB, 16 * MiB, 2 ** 30) });
  const vcpuAccess = fc
    .record({ vcpu: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(0, 1) }, { weight: 1, arbitrary: fc.constant(config.vcpus) }), gpa, off: inPage, write: fc.boolean(), byte })
    .map(({ vcpu, gpa: g, off, write, byte: b }): Op => ({ op: "vcpu_access", vm: "v0", vcpu, gpa: g + off, kind: write ? "write" : "read", ...(write ? { byte: b } : {}) }));

  const hostOffset = fc.constantFrom(0, PAGE, 2 * MiB - PAGE, 2 * MiB - 1, 2 * MiB, 4 * MiB - PAGE);
  const map = fc.constantFrom("m0", "m1", "m5", "m2");
  const hostAccess = fc
    .record({ map, offset: hostOffset, write: fc.boolean(), byte })
    .map(({ map: m, offset, write, byte: b }): Op => ({ op: "access", map: m, offset, kind: write ? "write" : "read", ...(write ? { byte: b } : {}) }));
  // alias writes of one byte, or crossing into the next page (past EOF from the last page: SIGBUS after storing)
  const alias = fc
    .record({ map, offset: hostOffset, write: fc.boolean(), byte, len: fc.constantFrom(1, 1, 2, PAGE + 1) })
    .map(({ map: m, offset, write, byte: b, len }): Op => (write ? { op: "write_alias", map: m, offset, byte: b, ...(len > 1 ? { len } : {}) } : { op: "read_alias", map: m, offset }));
  const fileIo = fc.oneof(
    fc.record({ offset: hostOffset, len: fc.constantFrom(1, PAGE), byte }).map((r): Op => ({ op: "pwrite", file: "f0", offset: r.offset, len: r.len, byte: r.byte })),
    hostOffset.map((offset): Op => ({ op: "pread", file: "f0", offset })),
    fc
      .record({
        // vfs_fallocate's order: EINVAL (len 0, negative offset) before the mode, EFBIG after it; never a huge allocation
        range: fc.oneof(
          { weight: 6, arbitrary: fc.record({ offset: fc.constantFrom(0, PAGE, 2 * MiB - PAGE), len: fc.constantFrom(PAGE, 2 * MiB) }) },
          { weight: 1, arbitrary: fc.constantFrom({ offset: 0, len: 0 }, { offset: 2 ** 63, len: PAGE }, { offset: 2 ** 62, len: 2 ** 62 }) },
        ),
        mode: fc.constantFrom<("PUNCH_HOLE" | "KEEP_SIZE")[]>(["PUNCH_HOLE", "KEEP_SIZE"], ["KEEP_SIZE"], [], ["PUNCH_HOLE"]),
      })
      .map((r): Op => ({ op: "file_fallocate", file: "f0", mode: r.mode, offset: r.range.offset, len: r.range.len })),
  );
  // madvise_walk_vmas over every kind of mapping, across m0's half munmap and past a mapping's end
  const madvise = fc
    .record({
      map: fc.constantFrom("m0", "m1", "m5", "m2"),
      offset: fc.constantFrom(0, PAGE, 2 * MiB - PAGE, 4 * MiB - PAGE),
      len: fc.constantFrom(PAGE, 2 * PAGE, 2 * MiB),
      remove: fc.constantFrom(false, false, true),
    })
    .map((r): Op => ({ op: "madvise", map: r.map, offset: r.offset, len: r.len, advice: r.remove ? "REMOVE" : "DONTNEED" }));
  // mmap validation (sys_mmap's offset check before the fd, hugetlbfs-free) on a window nothing else uses
  const mmapCases = fc
    .record({ file: fc.constantFrom("f0", "f9", "anon"), offset: fc.constantFrom(0, PAGE, 1), length: fc.constantFrom(0, PAGE, 2 * MiB), shared: fc.boolean() })
    .map((r): Op => ({ op: "mmap", map: "m2", file: r.file, offset: r.offset, length: r.length, shared: r.shared }));
  const remap = fc.oneof(
    fc.constantFrom(...MAP_OPS),
    mmapCases,
    fc.record({ map: fc.constantFrom("m0", "m1"), half: fc.boolean() }).map((r): Op => (r.half ? { op: "munmap", map: r.map, offset: 0, len: 2 * MiB } : { op: "munmap", map: r.map })),
  );

  const slot = fc.constantFrom(...SLOTS);
  const memslots = fc.oneof(
    fc.tuple(slot, fc.constantFrom<MemslotFlagName[]>(["LOG_DIRTY_PAGES"], ["READONLY"], ["LOG_DIRTY_PAGES", "READONLY"], [])).map(([s, t]) =>
      regionOp(s, { flags: (["LOG_DIRTY_PAGES", "READONLY", "GUEST_MEMFD"] as const).filter((f) => s.flags.includes(f) !== t.includes(f)) }),
    ),
    slot.map((s) => regionOp(s, { memory_size: 0 })),
    slot.map((s) => regionOp(s)),
    fc.tuple(slot, fc.constantFrom(16 * MiB, 32 * MiB, 3 * MiB)).map(([s, g]) => regionOp(s, { guest_phys_addr: g })),
    fc.tuple(slot, fc.constantFrom(PAGE, 4 * MiB)).map(([s, size]) => regionOp(s, { memory_size: size })),
    fc
      .record({
        slot: fc.constantFrom(0, 4, 5, 32763, 32764, 65536, 65535),
        flags: fc.subarray(["LOG_DIRTY_PAGES", "READONLY", "GUEST_MEMFD", "USERFAULT"] as MemslotFlagName[]),
        gpa: fc.constantFrom(12 * MiB, 12 * MiB + 1, 2 ** 52, 2 ** 64 - PAGE),
        size: fc.constantFrom(0, PAGE, 2 * MiB, PAGE + 1, 2 ** 31 * PAGE),
        userspace: fc.constantFrom<string | null>("m0", "m1", "m5", "m9", null),
        userspaceOffset: fc.constantFrom(0, PAGE, 1, 2 ** 47),
        gmem: fc.constantFrom<string | undefined>(undefined, "g0", "g9", "f0x"),
        gmemOffset: fc.constantFrom(0, PAGE, 1, 2 * MiB, 2 ** 63),
        v1: fc.boolean(),
      })
      .map((r) => regionOp(r, r.v1 ? { ioctl: "REGION" } : {})),
  );
  const gmem = fc.oneof(
    fc
      .record({ size: fc.constantFrom(PAGE, 2 * MiB, 0, PAGE + 1, 2 ** 63), flags: fc.subarray(["MMAP", "INIT_SHARED"] as const) })
      .map((r): Op => ({ op: "create_gmem", vm: "v0", gmem: "g9", size: r.size, flags: [...r.flags] })),
    fc
      .record({ gmem: fc.constantFrom("g9", "g9", "g8"), shared: fc.boolean(), offset: fc.constantFrom(0, PAGE, 1), length: fc.constantFrom(2 * MiB, 0) })
      .map((r): Op => ({ op: "gmem_mmap", gmem: r.gmem, map: "m6", offset: r.offset, length: r.length, shared: r.shared })),
    fc.record({ offset: fc.constantFrom(0, PAGE, 2 * MiB), write: fc.boolean(), byte }).map((r): Op => ({ op: "access", map: "m6", offset: r.offset, kind: r.write ? "write" : "read", ...(r.write ? { byte: r.byte } : {}) })),
    fc.constant<Op>({ op: "close", gmem: "g9" }),
    fc.constant<Op>({ op: "munmap", map: "m6" }),
  );
  // Dirty logging: GET and CLEAR on the layout's slots (logging toggled by `memslots`), at both sides of CLEAR's
  // bounds, and the manual-protect capability switched on and off between them.
  const noSlot = fc.constantFrom(5, 65536, 2 * 65536, config.kernel.userMemSlots);
  const dirtySlot = fc.oneof({ weight: 6, arbitrary: slot.map((s) => s.slot) }, { weight: 1, arbitrary: noSlot });
  const dirtyLog = fc.oneof(
    dirtySlot.map((n): Op => ({ op: "get_dirty_log", vm: "v0", slot: n })),
    fc
      .record({
        slot: dirtySlot,
        first: fc.constantFrom(0, 0, 64, 63, 448, 512),
        num: fc.constantFrom(64, 64, 512, 448, 63, 65, 0),
        pages: fc.option(fc.uniqueArray(fc.nat({ max: 70 }), { minLength: 1, maxLength: 3 }), { freq: 2 }),
      })
      .map((r): Op => {
        const pages = r.pages === null ? {} : { pages: r.pages };
        return { op: "clear_dirty_log", vm: "v0", slot: r.slot, first_page: r.first, num_pages: r.num, ...pages };
      }),
    fc
      .constantFrom<DirtyLogManualName[]>(["ENABLE"], ["ENABLE", "INITIALLY_SET"], [], ["INITIALLY_SET"])
      .map((args0): Op => ({ op: "enable_cap", vm: "v0", cap: "MANUAL_DIRTY_LOG_PROTECT2", args0 })),
  );
  const caps = CAPS.filter((c) => c !== "USERFAULT" && c !== "GUEST_MEMFD_MEMORY_ATTRIBUTES");
  const other = fc.oneof(
    fc.record({ cap: fc.constantFrom(...caps), vm: fc.boolean() }).map((r): Op => (r.vm ? { op: "check_extension", cap: r.cap, vm: "v0" } : { op: "check_extension", cap: r.cap })),
    fc.record({ address: fc.constantFrom(0, 1, 2 * MiB), size: fc.constantFrom(0, PAGE), priv: fc.boolean() }).map((r): Op => ({ op: "set_memory_attributes", vm: "v0", address: r.address, size: r.size, attributes: r.priv ? ["PRIVATE"] : [] })),
  );

  // One fd namespace: any name in any fd field (the layout's objects, an unknown name), refused by what it is.
  const anyFd = fc.constantFrom("v0", "f0", "g0", "u0", "g9", "zz");
  const crossed = fc.oneof(
    fc.record({ fd: anyFd, cap: fc.constantFrom(...caps) }).map((r): Op => ({ op: "check_extension", cap: r.cap, vm: r.fd })),
    anyFd.map((fd): Op => ({ op: "create_gmem", vm: fd, gmem: "g9", size: PAGE, flags: [] })),
    anyFd.map((fd): Op => ({ op: "set_memory_region", vm: fd, slot: 6, flags: [], guest_phys_addr: 12 * MiB, memory_size: PAGE, userspace: "m0" })),
    anyFd.map((fd): Op => ({ op: "set_memory_region", vm: "v0", slot: 6, flags: ["GUEST_MEMFD"], guest_phys_addr: 12 * MiB, memory_size: PAGE, userspace: "m0", guest_memfd: fd, guest_memfd_offset: 0 })),
    fc.record({ fd: anyFd, shared: fc.boolean(), ro: fc.boolean() }).map((r): Op => ({ op: "mmap", map: "m3", file: r.fd, offset: 0, length: PAGE, shared: r.shared, ...(r.ro ? { prot: "r" } : {}) })),
    fc.record({ fd: anyFd, gmem: fc.boolean() }).map((r): Op => (r.gmem ? { op: "gmem_fallocate", gmem: r.fd, mode: ["KEEP_SIZE"], offset: 0, len: PAGE } : { op: "file_fallocate", file: r.fd, mode: ["KEEP_SIZE"], offset: 0, len: PAGE })),
    fc.record({ fd: anyFd, write: fc.boolean() }).map((r): Op => (r.write ? { op: "pwrite", file: r.fd, offset: 0, byte: 5, len: 1 } : { op: "pread", file: r.fd, offset: 0 })),
    anyFd.map((fd): Op => ({ op: "uffd_register", uffd: fd, map: "m1", offset: 0, len: PAGE, mode: ["MISSING"] })),
    anyFd.map((fd): Op => ({ op: "uffdio_wake", uffd: fd, map: "m1", offset: 0, len: PAGE })),
    fc.constant<Op>({ op: "munmap", map: "m3" }),
  );

  const arbs: { weight: number; arbitrary: fc.Arbitrary<Op> }[] = [
    { weight: 30, arbitrary: vcpuAccess },
    { weight: 4, arbitrary: crossed },
    { weight: 14, arbitrary: hostAccess },
    { weight: 6, arbitrary: alias },
    { weight: 6, arbitrary: fileIo },
    { weight: 4, arbitrary: madvise },
    { weight: 3, arbitrary: remap },
    { weight: 14, arbitrary: memslots },
    { weight: 5, arbitrary: gmem },
    { weight: 3, arbitrary: other },
    { weight: 6, arbitrary: dirtyLog },
  ];
  if (uffd && modelImplements(config, { op: "uffd_open", uffd: "u0", features: [] })) arbs.push({ weight: 15, arbitrary: uffdOps() });
  return fc.oneof(...arbs).filter((op) => randomStepRuns(host, op));
}

/** userfaultfd on the shmem mapping m1 (used once the model implements userfaultfd). */
function uffdOps(): fc.Arbitrary<Op> {
  const off = fc.constantFrom(0, PAGE, 2 * MiB - PAGE);
  const len = fc.constantFrom(PAGE, 2 * PAGE, 2 * MiB);
  const mode = fc.subarray(["DONTWAKE"] as const);
  return fc.oneof(
    fc.constant<Op>({ op: "uffd_open", uffd: "u0", features: ["MINOR_SHMEM"] }),
    fc.record({ mode: fc.constantFrom<("MISSING" | "MINOR" | "WP")[]>(["MINOR"], ["MISSING"], ["MISSING", "MINOR"]) }).map((r): Op => ({ op: "uffd_register", uffd: "u0", map: "m1", offset: 0, len: 2 * MiB, mode: r.mode })),
    fc.constant<Op>({ op: "uffd_unregister", uffd: "u0", map: "m1", offset: 0, len: 2 * MiB }),
    fc.record({ offset: off, write: fc.boolean(), id: fc.constantFrom("a0", "a1") }).map((r): Op => ({ op: "access", map: "m1", offset: r.offset, kind: r.write ? "write" : "read", id: r.id, ...(r.write ? { byte: 7 } : {}) })),
    fc.constantFrom("a0", "a1", "v0.vcpu0", "v0.vcpu1").map((id): Op => ({ op: "wake_check", id })),
    fc.record({ offset: off, len, mode }).map((r): Op => ({ op: "uffdio_continue", uffd: "u0", map: "m1", offset: r.offset, len: r.len, mode: [...r.mode] })),
    fc.record({ offset: off, len, mode }).map((r): Op => ({ op: "uffdio_copy", uffd: "u0", map: "m1", offset: r.offset, len: r.len, mode: [...r.mode], byte: 9 })),
    fc.record({ offset: off, len }).map((r): Op => ({ op: "uffdio_zeropage", uffd: "u0", map: "m1", offset: r.offset, len: r.len })),
    fc.record({ offset: off, len }).map((r): Op => ({ op: "uffdio_wake", uffd: "u0", map: "m1", offset: r.offset, len: r.len })),
    fc.constant<Op>({ op: "close", uffd: "u0" }),
  );
}

export interface RandomResult {
  readonly sequences: number;
  readonly steps: number;
  readonly verdicts: Readonly<Record<Verdict, number>>;
  readonly durationMs: number;
  readonly failure?: { readonly reports: readonly StepReport[]; readonly file: string };
}

export interface RandomOptions {
  readonly runs: number;
  readonly seed: number;
  readonly maxLength?: number;
  /** Where shrunk disagreements are written (default conformance/found; tests give a temporary directory). */
  readonly foundDir?: string;
  readonly onRun?: (n: number) => void;
  /** Include userfaultfd operations once the model implements them (default true). */
  readonly uffd?: boolean;
}

export async function runRandom(helper: Helper, host: Host, opts: RandomOptions): Promise<RandomResult> {
  const config = host.config;
  const setup = randomSetup(host);
  const verdicts: Record<Verdict, number> = { agree: 0, disagree: 0, "model only": 0, "model not yet": 0, deviation: 0, error: 0 };
  let sequences = 0;
  let steps = 0;
  let last: StepReport[] | undefined;
  const sequence = fc.array(randomOp(host, opts.uffd ?? true), { minLength: 1, maxLength: opts.maxLength ?? 30, size: "max" });
  const property = fc.asyncProperty(sequence, async (ops) => {
    sequences++;
    opts.onRun?.(sequences);
    const reports = await runSteps(helper, config, [...setup, ...ops], [], { stopAtFailure: true });
    steps += reports.length;
    for (const r of reports) verdicts[r.verdict]++;
    if (reports.some(isFailure)) {
      last = reports;
      return false;
    }
    return true;
  });
  const started = performance.now();
  const details = await fc.check(property, { numRuns: opts.runs, seed: opts.seed, endOnFailure: false });
  const durationMs = performance.now() - started;
  if (!details.failed) return { sequences, steps, verdicts, durationMs };
  if (details.errorInstance !== null && last === undefined) throw details.errorInstance;
  const ops = details.counterexample?.[0] ?? [];
  // Re-run the shrunk sequence so the written file and the report are those of the minimal case.
  const reports = await runSteps(helper, config, [...setup, ...ops], [], { stopAtFailure: true });
  const bad = reports.find(isFailure) ?? last?.find(isFailure);
  const scenario: Scenario = {
    version: 1,
    name: `conformance disagreement at ${bad?.op.op ?? "?"}`,
    description: bad === undefined ? "did not reproduce after shrinking" : `model ${JSON.stringify(bad.model)} vs kernel ${JSON.stringify(bad.kernel)}`,
    config: configToInput(config),
    steps: [...setup, ...ops],
    provenance: { seed: details.seed, suite: "conform-random", ...(details.counterexamplePath === null ? {} : { path: details.counterexamplePath }) },
  };
  const dir = opts.foundDir ?? join("conformance", "found");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `disagreement-${createHash("sha256").update(JSON.stringify(scenario.steps)).digest("hex").slice(0, 10)}.json`);
  // Atomically: a reader (or a second run) sees no file or the whole one.
  writeFileSync(`${file}.${process.pid}.tmp`, `${stringifyExact(scenario)}\n`);
  renameSync(`${file}.${process.pid}.tmp`, file);
  return { sequences, steps, verdicts, durationMs, failure: { reports, file } };
}
