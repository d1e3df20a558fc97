// Threads that sleep in handle_userfault: recording a sleeper, waking a range (wake_userfault) and retrying each
// woken access at once (VM_FAULT_RETRY), and wake_check, which reports what became of a thread.
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { windowOf } from "../mm/layout.js";
import { rule } from "../rules.js";
import { refuse, result, type State, type StepResult } from "../state.js";
import type { Message, ThreadOp, UffdThread } from "./types.js";

export const THREAD_RULES = {
  unknown: rule("faultline.wake-check-esrch", "docs/VOCABULARY.md (userfaultfd: wake_check)", "no thread of that name slept on a userfault", "ESRCH"),
  sleeping: rule("faultline.wake-check-blocked", "docs/VOCABULARY.md (userfaultfd: wake_check)", "the thread still sleeps: its current message"),
  ran: rule("faultline.wake-check-completed", "docs/VOCABULARY.md (userfaultfd: wake_check)", "the thread was woken and its retried access finished"),
  retry: rule("uffd.wake-retry", "fs/userfaultfd.c (userfaultfd_wake_function, handle_userfault: VM_FAULT_RETRY)", "a woken thread returns VM_FAULT_RETRY and retries its whole access at once"),
};

/** The scenario's name for the thread running an access: its id, or "<vm>.vcpu<n>" for a vCPU. */
export const threadName = (op: ThreadOp): string | null => (op.op === "access" ? (op.id ?? null) : `${op.vm}.vcpu${op.vcpu}`);

/** The name a message's ctx goes by: the one it was opened under while that still names it, else "unnamed". */
export function ctxName(s: State, ctx: number): string {
  const name = s.uffd.ctxs[ctx]!.name;
  return s.uffd.names.get(name) === ctx ? name : UNNAMED;
}

/** What a rebound (or closed) name's old ctx is called in outcomes (docs/VOCABULARY.md). */
export const UNNAMED = "unnamed";

export function blockedOutcome(s: State, msg: Message): Outcome {
  return { result: "blocked", fault: { uffd: ctxName(s, msg.ctx), flags: [...msg.flags], address_offset: windowOf(msg.address)!.offset } };
}

const withThreads = (s: State, threads: readonly UffdThread[]): State => ({ ...s, uffd: { ...s.uffd, threads } });

/** Adds a sleeping thread at the tail of the wait queue: after the other sleepers, before the finished threads. */
function queued(threads: readonly UffdThread[], t: UffdThread): readonly UffdThread[] {
  const firstDone = threads.findIndex((x) => x.status.kind === "done");
  const at = firstDone < 0 ? threads.length : firstDone;
  return [...threads.slice(0, at), t, ...threads.slice(at)];
}

/** A new access under a name: a finished thread of that name is forgotten, a sleeping one lives on unnamed. */
export function beginThread(s: State, name: string | null): State {
  if (name === null || !s.uffd.threads.some((t) => t.name === name)) return s;
  return withThreads(
    s,
    s.uffd.threads.filter((t) => t.name !== name || t.status.kind === "blocked").map((t) => (t.name === name ? { ...t, name: null } : t)),
  );
}

/** Runs a thread's access as a new thread; if it goes to sleep, it joins the tail of the wait queue. */
export function runThread(s: State, op: ThreadOp, run: ThreadRunner): StepResult {
  const name = threadName(op);
  const r = run(beginThread(s, name), op);
  if (r.blocked === undefined) return r;
  return { ...r, state: withThreads(r.state, queued(r.state.uffd.threads, { name, op, faults: 1, status: { kind: "blocked", msg: r.blocked } })) };
}

/** Runs one access op (access or vcpu_access) from scratch; passed in by step() to keep this module acyclic. */
export type ThreadRunner = (s: State, op: ThreadOp) => StepResult;

/** The woken set of wake_userfault: sleepers of ctx whose message address lies in [start, end) (all when end is undefined). */
function wokenBy(s: State, ctx: number, start: number, end: number | undefined): UffdThread[] {
  return s.uffd.threads.filter(
    (t) => t.status.kind === "blocked" && t.status.msg.ctx === ctx && (end === undefined || (t.status.msg.address >= start && t.status.msg.address < end)),
  );
}

/** Retries one woken thread: it finishes (an unnamed one is forgotten) or sleeps again at the tail with a new message. */
function retry(s: State, t: UffdThread, run: ThreadRunner): { state: State; fired: readonly string[] } {
  const r = run(s, t.op);
  const rest = r.state.uffd.threads.filter((x) => x !== t);
  if (r.blocked !== undefined) return { state: withThreads(r.state, queued(rest, { ...t, faults: t.faults + 1, status: { kind: "blocked", msg: r.blocked } })), fired: r.fired };
  const done = t.name === null ? rest : [...rest, { ...t, status: { kind: "done" as const, outcome: r.outcome } }];
  return { state: withThreads(r.state, done), fired: r.fired };
}

/** wake_userfault on [start, end) of ctx (every sleeper when end is undefined), then each woken thread's retry in queue order. */
export function wakeRange(s: State, ctx: number, start: number, end: number | undefined, run: ThreadRunner): { state: State; fired: readonly string[] } {
  let state = s;
  const fired: string[] = [];
  for (const t of wokenBy(s, ctx, start, end)) {
    const r = retry(state, t, run);
    state = r.state;
    fired.push(THREAD_RULES.retry.id, ...r.fired);
  }
  return { state, fired };
}

/** Adds the fired ids of the wakeups that followed a step. */
export const afterWake = (res: StepResult, woke: { state: State; fired: readonly string[] }): StepResult => ({ ...res, state: woke.state, fired: [...res.fired, ...woke.fired] });

/** What a finished thread's access returned, as wake_check reports it. */
function completed(o: Outcome): Outcome {
  if (!("result" in o) || o.result !== "ok") return o;
  return "value" in o && typeof o.value === "number" ? { result: "completed", value: o.value } : { result: "completed" };
}

export function wakeCheck(s: State, op: OpOf<"wake_check">): StepResult {
  const t = s.uffd.threads.find((x) => x.name === op.id);
  if (t === undefined) return refuse(s, THREAD_RULES.unknown);
  if (t.status.kind === "blocked") return result(s, blockedOutcome(s, t.status.msg), THREAD_RULES.sleeping);
  return result(s, completed(t.status.outcome), THREAD_RULES.ran);
}

