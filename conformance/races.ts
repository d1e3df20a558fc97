// Races against the real kernel: a concurrent scenario's actors run on threads of their own in the native helper
// (__race), every operation timed on CLOCK_MONOTONIC, and the recorded history is checked for linearizability
// against the model with the host configuration, with the alternatives of the TypeScript races.
import { alsoReached, alternatives, canonicalText, initial, step, type State, type StepResult } from "../model/index.js";
import { linearize, type Operation } from "../props/concurrent/linearizability.js";
import { sameOutcome } from "../props/outcomes.js";
import type { Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { DEVIATIONS } from "./compare.js";

/** An actor of a race: a thread and its operations (props/concurrent/harness.ts RaceActor). */
export interface Actor {
  readonly name: string;
  readonly steps: readonly Op[];
}

/** One actor operation as the helper recorded it: times in ns from the actors' release; ret null when it never answered. */
export interface RecordedOp {
  readonly actor: string;
  readonly index: number;
  readonly call: number;
  readonly ret: number | null;
  readonly outcome: Outcome | null;
  /** The kernel function its thread slept in when the watchdog ended the run. */
  readonly waits?: string;
}

export interface Observation {
  readonly op: Op;
  readonly outcome: Outcome;
}

/** A recorded run: the actors' operations, whether the watchdog ended it, and the reads made after it. */
export interface Recording {
  readonly seed: number;
  readonly watchdog: boolean;
  readonly ops: readonly RecordedOp[];
  readonly after: readonly Observation[];
}

/** The model's sequential step; a test swaps in a deliberately wrong one. */
export type StepFn = (s: State, op: Op) => StepResult;

const opOf = (actors: readonly Actor[], r: { readonly actor: string; readonly index: number }): Op =>
  actors.find((a) => a.name === r.actor)!.steps[r.index]!;

/** In flight when the run ended: it never answered, or answered only after the watchdog released it. */
export const pending = (r: RecordedOp): boolean => r.ret === null || r.waits !== undefined;

/**
 * Whether the model lets `op` stay blocked in state `s`. A memslot update that gets past its checks ends in
 * synchronize_srcu(&kvm->srcu) (virt/kvm/kvm_main.c kvm_swap_active_memslots), and a vCPU holds kvm->srcu's read
 * side for its whole fault, GUP and handle_userfault included (vcpu_run -> kvm_vcpu_srcu_read_lock): while a vCPU
 * of that VM sleeps in a userfault the update waits (docs/CONFORMANCE.md D6). Nothing else the races run may block:
 * a fault that sleeps is answered `blocked` by the helper itself.
 */
export function mayBlock(s: State, op: Op, stepFn: StepFn = step): boolean {
  if (op.op !== "set_memory_region" || "errno" in stepFn(s, op).outcome) return false;
  return s.uffd.threads.some((t) => t.status.kind === "blocked" && t.op.op === "vcpu_access" && t.op.vm === op.vm);
}

interface Input {
  readonly op: Op;
  /** Operations overlapping it in real time: what the alternatives may blame. */
  readonly concurrent: readonly Op[];
  readonly pending: boolean;
  /**
   * "op": the model's step. "wake-call": a UFFDIO_WAKE as its caller sees it (checked, nothing changes yet). "retry":
   * one woken thread's retry after a fill or a UFFDIO_WAKE (`op` is a UFFDIO_WAKE of the range; any outcome).
   */
  readonly role: "op" | "wake-call" | "retry";
  /** For a retry: the thread (its name; null for the unnamed ones, together). */
  readonly thread?: string | null;
}

/**
 * The retry of one woken thread: the model's UFFDIO_WAKE of the range with every other sleeper held back (so the
 * thread retries alone, at its own time, as woken threads do), then the others put back, ahead of it in the queue.
 * Nothing when the thread does not sleep in the range (the wake finds nobody).
 */
function retryOne(stepFn: StepFn, s: State, wake: Op, thread: string | null): State {
  const mine = (t: State["uffd"]["threads"][number]): boolean => t.status.kind === "blocked" && t.name === thread;
  if (!s.uffd.threads.some(mine)) return s;
  const others = s.uffd.threads.filter((t) => t.status.kind === "blocked" && !mine(t));
  const alone = { ...s, uffd: { ...s.uffd, threads: s.uffd.threads.filter((t) => !others.includes(t)) } };
  const r = stepFn(alone, wake).state;
  return { ...r, uffd: { ...r.uffd, threads: [...others, ...r.uffd.threads] } };
}

/** The ioctls that wake what they filled, and their count field (fs/userfaultfd.c userfaultfd_copy, _zeropage,
 * _continue, _poison, _move: range.len = ret). */
const FILLED = {
  uffdio_copy: "copy",
  uffdio_zeropage: "zeropage",
  uffdio_continue: "mapped",
  uffdio_poison: "updated",
  uffdio_move: "move",
} as const;

/**
 * The kernel wakes and retries in two steps: wake_userfault (fs/userfaultfd.c) only wakes the sleepers of the range,
 * and each woken thread returns VM_FAULT_RETRY from handle_userfault and faults again when it next runs (the arch
 * fault handler's retry, or KVM's hva_to_pfn for a vCPU), while the model's fill and UFFDIO_WAKE retry the woken
 * threads in the same step (model/uffd/thread.ts wakeRange, rule uffd.wake-retry). So a recorded fill is checked as
 * the model's fill with DONTWAKE, and its wakeup (a UFFDIO_WAKE of the range: the retries) as a separate step that
 * may come anywhere from the fill's invocation to the end of the run, one step per woken thread (each retries when it
 * next runs, in no fixed order). Undefined for an op that wakes nobody.
 */
function deferWake(op: Op, out: Outcome | null): { readonly now: Op; readonly role: Input["role"]; readonly wake?: Op } | undefined {
  if (op.op === "uffdio_wake") return { now: op, role: "wake-call", wake: op };
  if (op.op !== "uffdio_writeprotect" && !(op.op in FILLED)) return undefined;
  const fill = op as Extract<Op, { op: keyof typeof FILLED | "uffdio_writeprotect" }>;
  // A mode given as a raw number keeps the model's own (atomic) wakeup: stricter, never laxer.
  const mode: readonly unknown[] | number = fill.mode ?? [];
  if (!Array.isArray(mode) || mode.includes("DONTWAKE")) return undefined;
  const range = (len: number): Op => ({ op: "uffdio_wake", uffd: fill.uffd, map: fill.map, offset: fill.offset, len });
  const now = { ...fill, mode: [...mode, "DONTWAKE"] } as Op;
  if (fill.op === "uffdio_writeprotect") {
    // userfaultfd_writeprotect wakes the whole range, only when it resolved (no WP) and succeeded.
    if (mode.includes("WP")) return undefined;
    return out === null || ("result" in out && out.result === "ok") ? { now, role: "op", wake: range(fill.len) } : { now, role: "op" };
  }
  // Only what was filled is woken, and nothing after a failure (userfaultfd_copy & co: range.len = ret, and
  // wake_userfault only when ret > 0); an answer never seen (the watchdog) may have filled it all.
  const count = out === null ? fill.len : ((out as Record<string, unknown>)[FILLED[fill.op]] as number | undefined) ?? 0;
  return count <= 0 ? { now, role: "op" } : { now, role: "op", wake: range(count) };
}

/** The threads a race's accesses run as: each access id, each vCPU, and null for accesses without an id. */
function threadNames(actors: readonly Actor[]): (string | null)[] {
  const names = new Set<string | null>();
  for (const op of actors.flatMap((a) => a.steps)) {
    if (op.op === "access") names.add(op.id ?? null);
    if (op.op === "vcpu_access") names.add(`${op.vm}.vcpu${op.vcpu}`);
  }
  return [...names];
}

export interface CheckOptions {
  /** The model's step (a test gives a deliberately wrong one). */
  readonly stepFn?: StepFn;
  /** Check fills and wakes as the model has them, waking and retrying in one step (deferWake off). */
  readonly atomicWake?: boolean;
}

const PAGE = 4096;

/** A documented difference of this machine's kernel that only a race shows: the state after it, or undefined. */
export interface RaceDeviation {
  readonly id: string;
  readonly reason: string;
  after(pre: State, op: Op, concurrent: readonly Op[], kernel: Outcome): State | undefined;
}

/** Whether `op` deletes or moves (KVM_MR_DELETE, KVM_MR_MOVE) a memslot of `vm` whose old or new range holds gpa. */
function invalidatesAt(pre: State, op: Op, vm: string, gpa: number): boolean {
  if (op.op !== "set_memory_region" || op.vm !== vm || op.slot >>> 16 !== 0) return false;
  const v = pre.kvm.vms[pre.kvm.names.get(vm) ?? -1];
  const old = v?.slots.find((sl) => sl.slot === op.slot);
  if (old === undefined || (op.memory_size > 0 && op.guest_phys_addr === old.baseGfn * PAGE)) return false;
  const gfn = Math.floor(gpa / PAGE);
  const inOld = gfn >= old.baseGfn && gfn < old.baseGfn + old.npages;
  const inNew = op.memory_size > 0 && gpa >= op.guest_phys_addr && gpa < op.guest_phys_addr + op.memory_size;
  return inOld || inNew;
}

/**
 * This machine's kernel (the kvm_pvm module, docs/CONFORMANCE.md) against upstream x86, where a vCPU fault that finds
 * the slot KVM_MEMSLOT_INVALID retries (arch/x86/kvm/mmu/mmu.c kvm_mmu_faultin_pfn returns RET_PF_RETRY) until the
 * DELETE or MOVE has installed the new memslots, so either is atomic to the guest.
 */
export const RACE_DEVIATIONS: readonly RaceDeviation[] = [
  {
    id: "pvm-invalid-slot-is-mmio",
    reason:
      "a guest access while a concurrent DELETE or MOVE has its slot KVM_MEMSLOT_INVALID exits with KVM_EXIT_MMIO here: " +
      "the access is emulated through the hva (virt/kvm/kvm_main.c __gfn_to_hva_many: an invalid slot is KVM_HVA_ERR_BAD), " +
      "where upstream retries the fault",
    after: (pre, op, concurrent, kernel) => {
      if (op.op !== "vcpu_access" || !("exit" in kernel) || kernel.exit !== "mmio" || kernel.gpa !== op.gpa) return undefined;
      return concurrent.some((c) => invalidatesAt(pre, c, op.vm, op.gpa)) ? pre : undefined;
    },
  },
];

/**
 * The model's state after `op` answered `out`, and how: its own step, an alternative a concurrent op allows, or a
 * documented deviation (its id). A pending operation took effect with whatever outcome.
 */
function explainWith(stepFn: StepFn, s: State, input: Input, out: Outcome | null): { state: State; deviation?: string } | undefined {
  if (input.role === "retry") return { state: retryOne(stepFn, s, input.op, input.thread ?? null) };
  const r = stepFn(s, input.op);
  if (input.role === "wake-call") return out !== null && sameOutcome(r.outcome, out) ? { state: s } : undefined;
  if (input.pending || out === null || sameOutcome(r.outcome, out)) return { state: r.state };
  for (const alt of alternatives(s, input.op, input.concurrent)) if (sameOutcome(alt.outcome, out)) return { state: alt.state };
  const dev = DEVIATIONS.find((d) => !d.diverges && d.applies(s, input.op, r.fired, r.outcome, out as unknown as Record<string, unknown>));
  if (dev !== undefined) return { state: r.state, deviation: dev.id };
  for (const d of RACE_DEVIATIONS) {
    const after = d.after(s, input.op, input.concurrent, out);
    if (after !== undefined) return { state: after, deviation: d.id };
  }
  return undefined;
}

export type HistoryVerdict =
  /** `deviations`: the documented deviation each operation of the order needed, by id. */
  | {
      readonly kind: "ok";
      readonly order: readonly string[];
      readonly blocked: readonly RecordedOp[];
      readonly deviations: readonly string[];
    }
  /** No order of the model's steps explains the outcomes: `stuck` is where the longest explanation stopped. */
  | {
      readonly kind: "illegal";
      readonly prefix: readonly string[];
      readonly stuck: string;
      readonly op: Op;
      readonly expected: Outcome | null;
      readonly actual: Outcome | null;
    }
  /** Every outcome is explained, but an operation stayed blocked where the model says it cannot block. */
  | { readonly kind: "blocked"; readonly stuck: string; readonly op: Op; readonly waits: string }
  | { readonly kind: "undecided" };

/** Up to this many operations in flight at the watchdog are tried each way (linearized or not): 2^k searches. */
const MAX_PENDING = 4;
/** Model steps one search may take (the TypeScript races' default budget). */
const BUDGET = 200_000;

const keyOf = (r: { readonly actor: string; readonly index: number }): string => `${r.actor}#${r.index}`;

/**
 * Checks a recorded race that started in model state `start`: some order of the model's atomic steps must respect
 * real-time order, give every recorded outcome (or one the alternatives allow), and then give the observations made
 * after the run. Operations still in flight at the watchdog may or may not have taken effect, with any outcome; each
 * must be one the model lets block (mayBlock) in the state the order ends in.
 */
export function checkRecording(start: State, actors: readonly Actor[], rec: Recording, opts: CheckOptions = {}): HistoryVerdict {
  const stepFn = opts.stepFn ?? step;
  const ops = rec.ops;
  const end = Math.max(0, ...ops.map((r) => r.ret ?? r.call)) + 1;
  const FAR = Number.MAX_SAFE_INTEGER;
  const span = (r: RecordedOp): [number, number] => [r.call, pending(r) ? FAR : r.ret!];
  const overlapsWith = (r: RecordedOp): Op[] =>
    ops.filter((x) => x !== r && span(x)[0] < span(r)[1] && span(r)[0] < span(x)[1]).map((x) => opOf(actors, x));
  type Entry = Operation<Input, Outcome | null> & { readonly key: string; readonly rec?: RecordedOp };
  const entries: Entry[] = [];
  const threads = threadNames(actors);
  for (const r of ops) {
    const op = opOf(actors, r);
    const d = opts.atomicWake ? undefined : deferWake(op, pending(r) ? null : r.outcome);
    const input: Input = { op: d?.now ?? op, concurrent: overlapsWith(r), pending: pending(r), role: d?.role ?? "op" };
    entries.push({ key: keyOf(r), rec: r, input, output: pending(r) ? null : r.outcome, call: r.call, ret: span(r)[1] });
    // One retry per thread that may sleep in the range, each anywhere from the wakeup's call to the end of the run.
    for (const thread of d?.wake === undefined ? [] : threads) {
      const retry: Input = { op: d!.wake!, concurrent: [], pending: true, role: "retry", thread };
      entries.push({ key: `${keyOf(r)}:retry(${thread ?? "unnamed"})`, input: retry, output: null, call: r.call, ret: end - 0.5 });
    }
  }
  rec.after.forEach((o, i) => {
    const input: Input = { op: o.op, concurrent: [], pending: false, role: "op" };
    entries.push({ key: `after#${i}`, input, output: o.outcome, call: end + 2 * i, ret: end + 2 * i + 1 });
  });
  const inFlight = entries.filter((e) => e.input.pending && e.input.role !== "retry").slice(0, MAX_PENDING);
  const blockers = ops.filter(pending);
  const spec = (accept?: (s: State) => boolean) => ({
    init: start,
    step: (s: State, input: Input, out: Outcome | null) => explainWith(stepFn, s, input, out)?.state,
    // The states a write may also leave (a dirty-logging enable in flight): the same as in the TypeScript races.
    also: (s: State, input: Input, out: Outcome | null) =>
      input.role !== "op" || input.pending || out === null
        ? []
        : alsoReached(s, input.op, input.concurrent, start).flatMap((r) => (sameOutcome(r.outcome, out) ? [r.state] : [])),
    key: canonicalText,
    ...(accept === undefined ? {} : { accept }),
  });
  const allowed = (s: State): boolean => blockers.every((r) => mayBlock(s, opOf(actors, r), stepFn));
  let lastIllegal: ReturnType<typeof linearize<State, Input, Outcome | null>> | undefined;
  let lastEntries: Entry[] = entries;
  let undecided = false;
  // Each subset of the operations in flight is left out (never took effect) or kept (took effect, any outcome).
  for (let mask = 0; mask < 1 << inFlight.length; mask++) {
    const omitted = new Set(inFlight.filter((_, b) => (mask >> b) & 1));
    const chosen = entries.filter((e) => !omitted.has(e));
    const v = linearize(spec(allowed), chosen, BUDGET);
    if (v.kind === "ok") {
      const order = v.order.map((i) => chosen[i]!.key);
      // The deviations this order needed (the search may have tried others on paths it left).
      const deviations: string[] = [];
      v.order.forEach((i, k) => {
        const e = explainWith(stepFn, k === 0 ? start : v.path[k - 1]!, chosen[i]!.input, chosen[i]!.output);
        if (e?.deviation !== undefined) deviations.push(e.deviation);
      });
      return { kind: "ok", order, blocked: blockers, deviations };
    }
    if (v.kind === "undecided") undecided = true;
    else if (lastIllegal === undefined || mask === (1 << inFlight.length) - 1) {
      lastIllegal = v;
      lastEntries = chosen;
    }
  }
  if (undecided) return { kind: "undecided" };
  // Explained without the blocking condition: then an operation blocked where the model says it cannot.
  if (blockers.length > 0) {
    const loose = linearize(spec(), lastEntries, BUDGET);
    if (loose.kind === "ok") {
      const b = blockers.find((r) => !mayBlock(loose.final, opOf(actors, r), stepFn)) ?? blockers[0]!;
      return { kind: "blocked", stuck: keyOf(b), op: opOf(actors, b), waits: b.waits ?? "no answer" };
    }
  }
  const v = lastIllegal!;
  if (v.kind !== "illegal") return { kind: "undecided" };
  const stuck = lastEntries[v.stuck]!;
  return {
    kind: "illegal",
    prefix: v.deepest.order.map((i) => lastEntries[i]!.key),
    stuck: stuck.key,
    op: stuck.input.op,
    expected: stepFn(v.deepest.state, stuck.input.op).outcome,
    actual: stuck.output,
  };
}

/** Operations of different actors whose invocation-response intervals intersect (one in flight at the end overlaps all after it). */
export function overlaps(rec: Recording): boolean {
  const end = (r: RecordedOp): number => (pending(r) ? Number.MAX_SAFE_INTEGER : r.ret!);
  return rec.ops.some((a, i) => rec.ops.some((b, j) => i < j && a.actor !== b.actor && a.call < end(b) && b.call < end(a)));
}

/** The order in which the actors' operations answered, as one key. */
export const responseOrder = (rec: Recording): string =>
  rec.ops
    .filter((r) => !pending(r))
    .slice()
    .sort((a, b) => a.ret! - b.ret!)
    .map(keyOf)
    .join(" ");

/** The model state a race starts from: the setup's steps, in order. */
export function stateAfter(config: Config, setup: readonly Op[], stepFn: StepFn = step): State {
  return setup.reduce((s, op) => stepFn(s, op).state, initial(config));
}

/**
 * What to read after a run, one at a time: every sleeping thread's fate (wake_check of each access id and of each
 * vCPU that ran), then each byte an actor touched, through a second mapping for a file (never faulting through the
 * registered one) and through the mapping itself for anonymous memory (which may sleep: the model says when).
 */
export function observations(setup: readonly Op[], actors: readonly Actor[]): Op[] {
  const fileMaps = new Set(setup.flatMap((o) => (o.op === "mmap" && o.file !== "anon" ? [o.map] : [])));
  const anonMaps = new Set(setup.flatMap((o) => (o.op === "mmap" && o.file === "anon" ? [o.map] : [])));
  const threads = new Set<string>();
  const bytes = new Map<string, { map: string; offset: number }>();
  for (const op of actors.flatMap((a) => a.steps)) {
    if (op.op === "access" && op.id !== undefined) threads.add(op.id);
    if (op.op === "vcpu_access") threads.add(`${op.vm}.vcpu${op.vcpu}`);
    switch (op.op) {
      case "access":
      case "write_alias":
      case "read_alias":
      case "uffdio_copy":
      case "uffdio_zeropage":
      case "uffdio_continue":
        bytes.set(`${op.map}:${op.offset}`, { map: op.map, offset: op.offset });
    }
  }
  const reads = [...bytes.values()]
    .sort((a, b) => a.map.localeCompare(b.map) || a.offset - b.offset)
    .flatMap(({ map, offset }): Op[] =>
      fileMaps.has(map) ? [{ op: "read_alias", map, offset }] : anonMaps.has(map) ? [{ op: "access", map, offset, kind: "read" }] : [],
    );
  return [...[...threads].sort().map((id): Op => ({ op: "wake_check", id })), ...reads];
}
