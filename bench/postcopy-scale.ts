// The scalability question of the KVM Userfault cover letter, answered by simulation (issue 19, item 4). The
// reference VMM (props/postcopy/vmm.ts) runs a demand-fetch burst at N vCPUs on each backing and strategy, through
// model and implementation; the cost model (impl/costs.ts) counts what each fault made the kernel do. A closed
// queueing model (exact Mean Value Analysis) then turns those counts into fault-service time and lock contention,
// with every latency taken from a cited measurement. What this can and cannot conclude: docs/BENCHMARKS.md.
import { PAGE_SIZE } from "../model/consts.js";
import { Vmm } from "../props/postcopy/vmm.js";
import type { BackingName, PostcopyEvent, PostcopyScenario } from "../props/postcopy/scenario.js";
import { PRESETS } from "../schema/config.js";
import { panelsSvg, type Panel } from "./chart.js";
import type { Row } from "./scale.js";

/** "~30us network latency for a PAGE_SIZE demand-fetch": [PATCH v2 00/13] KVM: Introduce KVM Userfault (seeds/000). */
export const FETCH_US = 30;
/**
 * Paging rates in thousands of pages/s, `demand_paging_test -b 64M -u MINOR -s shmem -a -v N -r N` on a 256-core x86
 * host, all guest memory on one uffd, without and with the vCPU-exit path: Anish Moorthy, "[PATCH v1 00/14] Improve
 * KVM + userfaultfd live migration via annotated memory faults" cover letter (KVM_CAP_MEM_FAULT_NOWAIT), Feb 2023,
 * http://mail.spinics.net/lists/kvm/msg304774.html. The exit path is the one KVM Userfault keeps: the vCPU thread
 * resolves its own fault instead of sleeping on the uffd.
 */
export const MEASURED: readonly { vcpus: number; uffd: number; exit: number }[] = [
  { vcpus: 1, uffd: 150, exit: 340 },
  { vcpus: 2, uffd: 191, exit: 477 },
  { vcpus: 4, uffd: 210, exit: 809 },
  { vcpus: 8, uffd: 155, exit: 1239 },
  { vcpus: 16, uffd: 130, exit: 1595 },
  { vcpus: 32, uffd: 108, exit: 2299 },
  { vcpus: 64, uffd: 86, exit: 3482 },
  { vcpus: 128, uffd: 62, exit: 4134 },
  { vcpus: 256, uffd: 36, exit: 4012 },
];
/** A 2 MiB fetch: the seed's 30 µs plus 2 MiB at 25 Gbit/s. An assumption (no source measures it), stated as one. */
const HUGE_FETCH_US = FETCH_US + (2 * 2 ** 20 * 8) / 25e3;

export const VCPU_COUNTS = [4, 16, 64, 256] as const;

type Strategy = "uffd, one handler" | "uffd, handler per vCPU" | "KVM Userfault + uffd";
const STRATEGIES: readonly Strategy[] = ["uffd, one handler", "uffd, handler per vCPU", "KVM Userfault + uffd"];
const BACKINGS: readonly BackingName[] = ["anon", "shmem", "hugetlb-2m", "gmem"];

/** What one demand burst cost per vCPU fault, from the counters. */
interface PerFault {
  readonly waitQueue: number;
  readonly rwLocks: number;
  readonly exits: number;
  readonly fetches: number;
  readonly ops: number;
}

/** Every vCPU reads once: two vCPUs per 4 KiB page, 32 per 2 MiB page (the gfns of one huge page); no background fetch. */
function burst(backing: BackingName, strategy: Strategy, n: number): PostcopyScenario {
  const huge = backing === "hugetlb-2m";
  const per = huge ? 32 : 2;
  const pages = Math.max(1, Math.ceil(n / per));
  const events: PostcopyEvent[] = Array.from({ length: n }, (_, v) => ({ kind: "guest", vcpu: v, write: false, page: Math.floor(v / per), offset: huge ? (v % per) * PAGE_SIZE + 8 : (v % per) * 8, byte: 1 }));
  return {
    pages,
    source: Array.from({ length: pages }, (_, p) => (p % 255) + 1),
    precopied: Array.from({ length: pages }, () => null),
    fetchOrder: [],
    events,
    backing,
    userfault: strategy === "KVM Userfault + uffd",
    vcpus: n,
    handlers: strategy === "uffd, one handler" ? "one" : "per-vcpu",
  };
}

async function countBurst(backing: BackingName, strategy: Strategy, n: number): Promise<PerFault> {
  const vmm = new Vmm(PRESETS.default, burst(backing, strategy, n), { refinement: false, invariants: [] });
  await vmm.run();
  const c = { ...vmm.checker.costs()!, ...vmm.costs() } as Record<string, number>;
  const setup = vmm.log.filter((e) => e.actor === "setup").length;
  const checks = vmm.log.filter((e) => e.op.op === "read_alias" || (e.op.op === "access" && e.op.id === "final") || e.op.op === "uffd_unregister").length;
  return {
    waitQueue: (c["uffd.messages"]! + c["uffd.wakeups"]!) / n,
    rwLocks: (c["lock.mmap_lock.acquired"]! + c["lock.mmu_lock.acquired"]!) / n,
    exits: c["kvm.memory_fault_exits"]! / n,
    fetches: c["postcopy.fetches"]! / n,
    ops: (vmm.log.length - setup - checks) / n,
  };
}

/** Exact MVA for one closed class: queueing stations (demand in µs) plus a delay; n customers with no think time. */
export function mva(queues: readonly number[], delay: number, n: number): { responseUs: number; throughput: number; queue: number[] } {
  let q = queues.map(() => 0);
  let r = 0;
  let x = 0;
  for (let k = 1; k <= n; k++) {
    const rs = queues.map((d, i) => d * (1 + q[i]!));
    r = rs.reduce((a, b) => a + b, 0) + delay;
    x = k / r;
    q = rs.map((ri) => x * ri);
  }
  return { responseUs: r, throughput: x, queue: q };
}

/**
 * The hold time of one shared acquisition, from the measured saturation rates with the counts of shmem at one vCPU:
 * the exit path's ceiling (4134 k pages/s) is its read-side lock traffic, the uffd path's (210 k pages/s) adds its
 * wait-queue traffic. The non-shared CPU per fault is what is left of the one-vCPU time.
 */
export interface Calibration {
  readonly rwHoldUs: number;
  readonly waitQueueHoldUs: number;
  readonly uffdPrivateUs: number;
  readonly exitPrivateUs: number;
}

export function calibrate(uffd: PerFault, exit: PerFault): Calibration {
  const dExit = 1e3 / Math.max(...MEASURED.map((m) => m.exit));
  const dUffd = 1e3 / Math.max(...MEASURED.map((m) => m.uffd));
  const rwHoldUs = dExit / exit.rwLocks;
  const waitQueueHoldUs = (dUffd - rwHoldUs * uffd.rwLocks) / uffd.waitQueue;
  return { rwHoldUs, waitQueueHoldUs, uffdPrivateUs: 1e3 / MEASURED[0]!.uffd - dUffd, exitPrivateUs: 1e3 / MEASURED[0]!.exit - dExit };
}

function simulate(cal: Calibration, f: PerFault, strategy: Strategy, n: number, fetchUs: number) {
  const lock = cal.waitQueueHoldUs * f.waitQueue + cal.rwHoldUs * f.rwLocks;
  const own = strategy === "KVM Userfault + uffd" ? cal.exitPrivateUs : cal.uffdPrivateUs;
  // One handler thread fetches every page in turn; otherwise each faulting thread's fetch overlaps the others'.
  const handler = strategy === "uffd, one handler" ? f.fetches * fetchUs : 0;
  const delay = own + (strategy === "uffd, one handler" ? 0 : fetchUs);
  const m = mva([lock, handler], delay, n);
  return { ...m, lockUs: lock, utilization: Math.min(1, m.throughput * lock), waitsP: Math.min(1, mva([lock, handler], delay, n - 1).throughput * lock) };
}

const fix = (x: number, d = 1): string => x.toFixed(d);

export interface PostcopyScaleResult {
  readonly rows: Row[];
  readonly validation: Row[];
  readonly calibration: Calibration;
  readonly svg: string;
  readonly markdown: string;
}

export async function postcopyScaleBench(): Promise<PostcopyScaleResult> {
  const cal = calibrate(await countBurst("shmem", "uffd, handler per vCPU", 2), await countBurst("shmem", "KVM Userfault + uffd", 2));
  const rows: Row[] = [];
  const series = new Map<string, [number, number][]>();
  for (const backing of BACKINGS) {
    for (const strategy of STRATEGIES) {
      for (const n of VCPU_COUNTS) {
        const t0 = performance.now();
        const f = await countBurst(backing, strategy, n);
        const ms = performance.now() - t0;
        const s = simulate(cal, f, strategy, n, backing === "hugetlb-2m" ? HUGE_FETCH_US : FETCH_US);
        rows.push({
          bench: `${backing}, ${strategy}`,
          size: `${n} vCPUs`,
          uffdMsgsPerFault: fix(f.waitQueue, 2),
          rwLocksPerFault: fix(f.rwLocks, 2),
          exitsPerFault: fix(f.exits, 2),
          fetchesPerFault: fix(f.fetches, 2),
          sharedUsPerFault: fix(s.lockUs, 3),
          faultServiceUs: fix(s.responseUs),
          kPagesPerS: fix(s.throughput * 1e3),
          lockUtilization: fix(s.utilization, 3),
          acquireWaitsP: fix(s.waitsP, 3),
          simulatedMs: Math.round(ms),
        });
        const key = `${backing}|${strategy}`;
        series.set(key, [...(series.get(key) ?? []), [n, s.responseUs]]);
      }
    }
  }
  // The calibration checked against the measurement it came from: no network, shmem, 1 ... 256 vCPUs.
  const validation: Row[] = [];
  const fu = await countBurst("shmem", "uffd, handler per vCPU", 2);
  const fk = await countBurst("shmem", "KVM Userfault + uffd", 2);
  for (const m of MEASURED) {
    const u = simulate(cal, fu, "uffd, handler per vCPU", m.vcpus, 0);
    const k = simulate(cal, fk, "KVM Userfault + uffd", m.vcpus, 0);
    validation.push({ bench: "no network, shmem", size: `${m.vcpus} vCPUs`, uffdMeasured: m.uffd, uffdSimulated: fix(u.throughput * 1e3, 0), exitMeasured: m.exit, exitSimulated: fix(k.throughput * 1e3, 0) });
  }
  const colors: Readonly<Record<Strategy, string>> = { "uffd, one handler": "#d62728", "uffd, handler per vCPU": "#ff7f0e", "KVM Userfault + uffd": "#2ca02c" };
  const panels: Panel[] = BACKINGS.map((backing) => ({
    title: `${backing}: fault-service time`,
    x: "vCPUs",
    y: "µs per fault",
    series: STRATEGIES.map((st) => ({ label: st, color: colors[st], points: series.get(`${backing}|${st}`) ?? [] })),
  }));
  panels.push({
    title: "calibration: shmem, no network (k pages/s)",
    x: "vCPUs",
    y: "k pages/s",
    series: [
      { label: "uffd, measured", color: "#ff7f0e", points: validation.map((r) => [Number(/\d+/.exec(String(r.size))![0]), Number(r.uffdMeasured)]) },
      { label: "uffd, simulated", color: "#ff7f0e", dashed: true, points: validation.map((r) => [Number(/\d+/.exec(String(r.size))![0]), Number(r.uffdSimulated)]) },
      { label: "exit path, measured", color: "#2ca02c", points: validation.map((r) => [Number(/\d+/.exec(String(r.size))![0]), Number(r.exitMeasured)]) },
      { label: "exit path, simulated", color: "#2ca02c", dashed: true, points: validation.map((r) => [Number(/\d+/.exec(String(r.size))![0]), Number(r.exitSimulated)]) },
    ],
  });
  return { rows, validation, calibration: cal, svg: panelsSvg(panels), markdown: markdownOf(rows, validation, cal) };
}

function table(rows: readonly Row[]): string {
  const keys = Object.keys(rows[0] ?? {});
  return [`| ${keys.join(" | ")} |`, `|${keys.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${keys.map((k) => String(r[k])).join(" | ")} |`)].join("\n");
}

function markdownOf(rows: readonly Row[], validation: readonly Row[], cal: Calibration): string {
  return [
    "<!-- Written by npm run bench (bench/postcopy-scale.ts); do not edit. What it can and cannot conclude: BENCHMARKS.md. -->",
    "# Post-copy at scale: the simulation's table",
    "",
    `Fetch latency ${FETCH_US} µs per 4 KiB (KVM Userfault v2 cover letter), ${fix(HUGE_FETCH_US, 0)} µs per 2 MiB (assumed: 30 µs + 2 MiB at 25 Gbit/s).`,
    `Calibrated from the paging rates of the KVM_CAP_MEM_FAULT_NOWAIT cover letter: ${fix(cal.waitQueueHoldUs, 3)} µs per uffd wait-queue acquisition, ` +
      `${fix(cal.rwHoldUs, 3)} µs per shared mmap_lock / mmu_lock acquisition, ${fix(cal.uffdPrivateUs, 2)} µs (uffd) and ${fix(cal.exitPrivateUs, 2)} µs (exit) of unshared work per fault.`,
    "",
    "![fault-service time against vCPUs](bench-postcopy.svg)",
    "",
    table(rows),
    "",
    "## The calibration against its own measurement (no network)",
    "",
    table(validation),
    "",
  ].join("\n");
}
