// The userfaultfd subsystem of the implementation: the fd table of contexts, the ioctls, and the threads that
// slept in handle_userfault. A wakeup retries each sleeping thread's access at once, inside the waking call
// (the thread returns VM_FAULT_RETRY and runs its access again); the retry has its own yield points.
import { PAGE_SIZE } from "../../model/consts.js";
import { mapBase } from "../../model/mm/layout.js";
import { decodeFlags, FILL_MODE_BITS, MOVE_MODE_BITS, UFFD_FEATURE_BITS, UFFD_FLAG_BITS, word32, WRITEPROTECT_MODE_BITS } from "../../schema/flags.js";
import { UFFD_FEATURES, type OpOf } from "../../schema/ops.js";
import type { Errno, Outcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import { ioctlFd, type FdTable } from "../fdtable.js";
import type { Hooks } from "../hooks.js";
import { UserfaultfdCtx, blockedOutcome, type Waiter } from "./ctx.js";
import { mfillAtomic, mwriteprotectRange, type MfillKind } from "./mfill.js";
import { movePages } from "./move.js";
import { releaseAll, userfaultfdRegister, userfaultfdUnregister, validRange, type RegisterCtx } from "./register.js";
import { asTask, noPreempt, type Task } from "./task.js";

export type ThreadOp = OpOf<"access"> | OpOf<"vcpu_access"> | OpOf<"kvm_access">;

/** A thread that slept on a userfault: asleep on `waiter`, or finished with `outcome`. */
export interface ImplThread {
  name: string | null;
  readonly op: ThreadOp;
  faults: number;
  waiter: Waiter | undefined;
  outcome: Outcome | undefined;
}

/** Runs one access from scratch as the given task. */
export type ThreadRun = (op: ThreadOp, h: Hooks) => Promise<Outcome>;

type MfillOp = OpOf<"uffdio_continue"> | OpOf<"uffdio_copy"> | OpOf<"uffdio_zeropage"> | OpOf<"uffdio_poison">;
const KIND: Readonly<Record<MfillOp["op"], MfillKind>> = { uffdio_continue: "continue", uffdio_copy: "copy", uffdio_zeropage: "zeropage", uffdio_poison: "poison" };
const FIELD = { uffdio_continue: "mapped", uffdio_copy: "copy", uffdio_zeropage: "zeropage", uffdio_poison: "updated" } as const;
/** UFFD_API_IOCTLS, in bit order. */
const API_IOCTLS = ["REGISTER", "UNREGISTER", "API"] as const;
const ERRNO: Readonly<Partial<Record<Errno, number>>> = { ENOENT: 2, EIO: 5, EAGAIN: 11, ENOMEM: 12, EFAULT: 14, EEXIST: 17, EINVAL: 22 };

export interface UffdEnv extends RegisterCtx {
  readonly bugs: Bugs;
  /** The process's fd table: contexts are installed here, and the ioctls look their fd up here. */
  readonly fds: FdTable;
}

export class Uffd {
  readonly ctxs: UserfaultfdCtx[] = [];
  /** Sleeping threads in the order they were queued, then finished named ones in the order they finished. */
  readonly threads: ImplThread[] = [];
  private readonly clock = { n: 0 };
  private readonly sleepers = new Map<Waiter, ImplThread>();
  /** The cost model (impl/costs.ts): threads taken off a wait queue by wake_userfault. */
  wakeups = 0;

  constructor(
    private readonly env: UffdEnv,
    private readonly run: ThreadRun,
  ) {}

  /**
   * userfaultfd_ioctl for any command but UFFDIO_API: the ctx the fd refers to, or the errno of fget, of the file it
   * is instead, or EINVAL while no handshake has succeeded.
   */
  private ctx(name: string): UserfaultfdCtx | { errno: Errno } {
    const r = ioctlFd(this.env.fds, name, "uffd", this.env.config.arch);
    if ("errno" in r) return r;
    const ctx = this.ctxs[r.id]!;
    return ctx.initialized ? ctx : { errno: "EINVAL" };
  }

  /** new_userfaultfd: flags beyond O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY are EINVAL; else a ctx before its handshake. */
  private newUserfaultfd(name: string, flags: OpOf<"uffd_create">["flags"]): UserfaultfdCtx | undefined {
    const word = word32(flags, UFFD_FLAG_BITS);
    const known = (2 ** UFFD_FLAG_BITS.USER_MODE_ONLY) | (2 ** UFFD_FLAG_BITS.NONBLOCK) | (2 ** UFFD_FLAG_BITS.CLOEXEC);
    if ((word & ~known) !== 0) return undefined;
    const ctx = new UserfaultfdCtx(this.clock, this.ctxs.length, name, [], (word & (2 ** UFFD_FLAG_BITS.USER_MODE_ONLY)) !== 0, false);
    this.env.fds.install(name, "uffd", this.ctxs.length);
    this.ctxs.push(ctx);
    return ctx;
  }

  /**
   * userfaultfd_api: the api number, then the features (WP_ASYNC implies WP_UNPOPULATED; every one is offered
   * here, so only unknown bits fail), then the cmpxchg that makes it once per ctx. Whether it succeeded.
   */
  private userfaultfdApi(ctx: UserfaultfdCtx, api: number, list: OpOf<"uffdio_api">["features"]): boolean {
    if (api !== 0xaa) return false;
    const requested = decodeFlags(list, UFFD_FEATURE_BITS);
    if (requested.unknown.length > 0 || ctx.initialized) return false;
    const named = requested.names.includes("WP_ASYNC") ? [...requested.names, "WP_UNPOPULATED" as const] : requested.names;
    ctx.features = UFFD_FEATURES.filter((f) => named.includes(f));
    ctx.initialized = true;
    return true;
  }

  create(op: OpOf<"uffd_create">): Outcome {
    return this.newUserfaultfd(op.uffd, op.flags) === undefined ? { errno: "EINVAL" } : { result: "ok" };
  }

  /** UFFDIO_API on whatever the name is: a refusal past fget writes the struct back zeroed. */
  api(op: OpOf<"uffdio_api">): Outcome {
    const r = ioctlFd(this.env.fds, op.uffd, "uffd", this.env.config.arch);
    if ("errno" in r) return r;
    if (!this.userfaultfdApi(this.ctxs[r.id]!, op.api ?? 0xaa, op.features)) return { errno: "EINVAL", api: 0, features: [], ioctls: [] };
    return { result: "ok", api: 0xaa, features: [...UFFD_FEATURES], ioctls: [...API_IOCTLS] };
  }

  /** userfaultfd(2) then UFFDIO_API. */
  open(op: OpOf<"uffd_open">): Outcome {
    const ctx = this.newUserfaultfd(op.uffd, op.flags);
    if (ctx === undefined) return { errno: "EINVAL" };
    if (!this.userfaultfdApi(ctx, 0xaa, op.features)) return { errno: "EINVAL", features: [], ioctls: [] };
    return { result: "ok", features: [...UFFD_FEATURES], ioctls: [...API_IOCTLS] };
  }

  /** userfaultfd_release of ctx `id`, whose fd was just closed: unregister everything, then wake all its sleepers. */
  async release(id: number, h: Hooks): Promise<Outcome> {
    const ctx = this.ctxs[id]!;
    ctx.named = false;
    ctx.released = true;
    await releaseAll(this.env.mm, ctx, h);
    await this.wakeRange(ctx, 0, undefined, h);
    return { result: "ok" };
  }

  async register(op: OpOf<"uffd_register">, h: Hooks): Promise<Outcome> {
    const ctx = this.ctx(op.uffd);
    return "errno" in ctx ? ctx : userfaultfdRegister(this.env, ctx, op, h);
  }

  async unregister(op: OpOf<"uffd_unregister">, h: Hooks): Promise<Outcome> {
    const ctx = this.ctx(op.uffd);
    if ("errno" in ctx) return ctx;
    const r = await userfaultfdUnregister(this.env, ctx, op, h);
    for (const [a, b] of r.wake) await this.wakeRange(ctx, a, b, h);
    return r.outcome;
  }

  /** userfaultfd_continue / _copy / _zeropage / _poison. */
  async mfill(op: MfillOp, h: Hooks): Promise<Outcome> {
    const field = FIELD[op.op];
    const kind = KIND[op.op];
    const ctx = this.ctx(op.uffd);
    if ("errno" in ctx) return { errno: ctx.errno, [field]: null };
    const mode = decodeFlags(op.mode, FILL_MODE_BITS);
    const wp = mode.names.includes("WP");
    // validate_range, then mode & ~(DONTWAKE | WP) for COPY and CONTINUE, mode & ~DONTWAKE for ZEROPAGE and POISON.
    const modeBad = mode.unknown.length > 0 || (wp && kind !== "continue" && kind !== "copy");
    if (!validRange(this.env.config, this.env.bugs, op.map, op.offset, op.len) || modeBad) return { errno: "EINVAL", [field]: null };
    const byte = op.op === "uffdio_copy" ? (op.byte ?? 0) : 0;
    const r = await mfillAtomic(this.env.mm, this.env.bugs, this.env.config.kernel.uffdGuestMemfd, { kind, map: op.map, offset: op.offset, len: op.len, wp, byte }, h);
    if (r.bytes === 0) return { errno: r.errno!, [field]: -ERRNO[r.errno!]! };
    if (!mode.names.includes("DONTWAKE")) {
      const start = mapBase(op.map) + op.offset;
      const end = start + r.bytes - (this.env.bugs.has("uffd-wake-short") ? PAGE_SIZE : 0);
      await this.wakeRange(ctx, start, end, h);
    }
    return r.bytes === op.len ? { result: "ok", [field]: r.bytes } : { errno: "EAGAIN", [field]: r.bytes };
  }

  async writeprotect(op: OpOf<"uffdio_writeprotect">, h: Hooks): Promise<Outcome> {
    const ctx = this.ctx(op.uffd);
    if ("errno" in ctx) return ctx;
    const mode = decodeFlags(op.mode, WRITEPROTECT_MODE_BITS);
    const enable = mode.names.includes("WP");
    const dontwake = mode.names.includes("DONTWAKE");
    const modeBad = mode.unknown.length > 0 || (enable && dontwake);
    if (!validRange(this.env.config, this.env.bugs, op.map, op.offset, op.len) || modeBad) return { errno: "EINVAL" };
    const errno = await mwriteprotectRange(this.env.mm, this.env.mm.maps.get(op.map), op.offset, op.len, enable, h);
    if (errno !== undefined) return { errno };
    if (!enable && !dontwake) await this.wakeRange(ctx, mapBase(op.map) + op.offset, mapBase(op.map) + op.offset + op.len, h);
    return { result: "ok" };
  }

  /** userfaultfd_move: prologue (move not written), move_pages (its result written back), then the wakeup. */
  async move(op: OpOf<"uffdio_move">, h: Hooks): Promise<Outcome> {
    const ctx = this.ctx(op.uffd);
    if ("errno" in ctx) return { errno: ctx.errno, move: null };
    const mode = decodeFlags(op.mode, MOVE_MODE_BITS);
    const config = this.env.config;
    const rangesBad = !validRange(config, this.env.bugs, op.map, op.offset, op.len) || !validRange(config, this.env.bugs, op.src, op.src_offset, op.len);
    if (rangesBad || mode.unknown.length > 0) return { errno: "EINVAL", move: null };
    const r = await movePages(this.env.mm, ctx, op, mode.names.includes("ALLOW_SRC_HOLES"), h);
    if (r.bytes === 0) return { errno: r.errno!, move: -ERRNO[r.errno!]! };
    if (!mode.names.includes("DONTWAKE")) await this.wakeRange(ctx, mapBase(op.map) + op.offset, mapBase(op.map) + op.offset + r.bytes, h);
    return r.bytes === op.len ? { result: "ok", move: r.bytes } : { errno: "EAGAIN", move: r.bytes };
  }

  async wake(op: OpOf<"uffdio_wake">, h: Hooks): Promise<Outcome> {
    const ctx = this.ctx(op.uffd);
    if ("errno" in ctx) return ctx;
    if (!validRange(this.env.config, this.env.bugs, op.map, op.offset, op.len)) return { errno: "EINVAL" };
    await this.wakeRange(ctx, mapBase(op.map) + op.offset, mapBase(op.map) + op.offset + op.len, h);
    return { result: "ok" };
  }

  /** uffd messages queued (handle_userfault enqueues, across every ctx). */
  get messages(): number {
    return this.clock.n;
  }

  wakeCheck(op: OpOf<"wake_check">): Outcome {
    const t = this.threads.find((x) => x.name === op.id);
    if (t === undefined) return { errno: "ESRCH" };
    if (t.waiter !== undefined) return blockedOutcome(t.waiter);
    const o = t.outcome!;
    if (!("result" in o) || o.result !== "ok") return o;
    return "value" in o && typeof o.value === "number" ? { result: "completed", value: o.value } : { result: "completed" };
  }

  /** An access under a thread name: a finished thread of that name is forgotten, a sleeping one lives on unnamed. */
  async runThread(op: ThreadOp, h: Hooks): Promise<Outcome> {
    const name = op.op === "access" ? (op.id ?? null) : `${op.vm}.vcpu${op.vcpu}`;
    if (name !== null) {
      for (let i = this.threads.length - 1; i >= 0; i--) {
        const t = this.threads[i]!;
        if (t.name !== name) continue;
        if (t.waiter === undefined) this.threads.splice(i, 1);
        else t.name = null;
      }
    }
    const task: Task = { waiter: undefined };
    const outcome = await this.run(op, asTask(h, task));
    if (task.waiter !== undefined) this.sleep({ name, op, faults: 1, waiter: task.waiter, outcome: undefined });
    return outcome;
  }

  /** A thread asleep: listed among the sleepers by when its waiter was queued (a concurrent access may return later). */
  private sleep(t: ImplThread): void {
    const seq = t.waiter!.seq;
    const at = this.threads.findIndex((x) => x.waiter === undefined || x.waiter.seq > seq);
    this.threads.splice(at < 0 ? this.threads.length : at, 0, t);
    this.sleepers.set(t.waiter!, t);
  }

  /** wake_userfault, then the retry of every woken thread that was asleep, in queue order. */
  private async wakeRange(ctx: UserfaultfdCtx, start: number, end: number | undefined, h: Hooks): Promise<void> {
    for (const w of ctx.wake(start, end)) {
      this.wakeups++;
      const t = this.sleepers.get(w);
      if (t === undefined) continue;
      this.sleepers.delete(w);
      // VM_FAULT_RETRY: the whole access again, as one step with the wakeup (see noPreempt).
      const task: Task = { waiter: undefined };
      const outcome = await this.run(t.op, asTask(noPreempt(h), task));
      this.threads.splice(this.threads.indexOf(t), 1);
      if (task.waiter !== undefined) {
        t.faults++;
        t.waiter = task.waiter;
        this.sleep(t);
      } else {
        t.waiter = undefined;
        t.outcome = outcome;
        if (t.name !== null) this.threads.push(t);
      }
    }
  }
}
