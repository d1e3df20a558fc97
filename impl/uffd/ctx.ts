// struct userfaultfd_ctx: the features fixed by UFFDIO_API and the wait queue of faulting threads.
import type { UffdFeatureName } from "../../schema/ops.js";
import { windowOf } from "../../model/mm/layout.js";
import type { FaultFlagName, Outcome } from "../../schema/outcome.js";

/** A thread asleep in handle_userfault: its uffd_msg and whether a wakeup has taken it off the queue. */
export interface Waiter {
  readonly ctx: UserfaultfdCtx;
  /** When it was queued, across every ctx: the order sleepers are listed in. */
  readonly seq: number;
  readonly address: number;
  readonly flags: readonly FaultFlagName[];
  woken: boolean;
}

export class UserfaultfdCtx {
  /** fault_pending_wqh and fault_wqh in one: without read() no message moves between them. */
  private readonly faultWqh: Waiter[] = [];
  released = false;
  /** Whether `name` still names this ctx: a rebound or closed name leaves it unnamed (docs/VOCABULARY.md). */
  named = true;

  constructor(
    /** Counts enqueues across every ctx of the kernel. */
    private readonly clock: { n: number },
    /** Position in the kernel's ctx table (the model's ctx id). */
    readonly id: number,
    readonly name: string,
    /** The features requested at UFFDIO_API (ctx->features); empty before it. */
    public features: readonly UffdFeatureName[],
    readonly userModeOnly: boolean,
    /** UFFD_FEATURE_INITIALIZED: UFFDIO_API succeeded, the other ioctls are open. */
    public initialized: boolean,
  ) {}

  has(f: UffdFeatureName): boolean {
    return this.features.includes(f);
  }

  /** handle_userfault: queue the waiter (the task state is set right after, before the must_wait re-check). */
  enqueue(address: number, flags: readonly FaultFlagName[]): Waiter {
    const w: Waiter = { ctx: this, seq: this.clock.n++, address, flags, woken: false };
    this.faultWqh.push(w);
    return w;
  }

  /** The waiter took itself off the queue (must_wait said the fault is already resolved). */
  dequeue(w: Waiter): void {
    const i = this.faultWqh.indexOf(w);
    if (i >= 0) this.faultWqh.splice(i, 1);
  }

  /** wake_userfault: every waiter with address in [start, end) (all when end is undefined), in queue order. */
  wake(start: number, end: number | undefined): Waiter[] {
    const woken = this.faultWqh.filter((w) => end === undefined || (w.address >= start && w.address < end));
    for (const w of woken) {
      w.woken = true;
      this.dequeue(w);
    }
    return woken;
  }
}

/** The outcome of an access that went to sleep: the message, with the address as an offset in its mapping. */
export function blockedOutcome(w: Waiter): Outcome {
  return { result: "blocked", fault: { uffd: w.ctx.named ? w.ctx.name : "unnamed", flags: [...w.flags], address_offset: windowOf(w.address)!.offset } };
}
