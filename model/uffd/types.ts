// userfaultfd state: contexts (one per userfaultfd + UFFDIO_API), and the threads that slept in handle_userfault.
import type { OpOf, UffdFeatureName, UffdModeName } from "../../schema/ops.js";
import type { FaultFlagName, Outcome } from "../../schema/outcome.js";

/** A registered page range's owner and VM_UFFD_* modes, in the order MISSING, WP, MINOR. */
export interface UffdReg {
  readonly ctx: number;
  readonly modes: readonly UffdModeName[];
}

export interface UffdCtx {
  /** The scenario name the fd was opened under; messages use it while it still names this ctx, else "unnamed". */
  readonly name: string;
  /** The features requested at UFFDIO_API (ctx->features). */
  readonly features: readonly UffdFeatureName[];
  readonly userModeOnly: boolean;
  /** Set by close (userfaultfd_release): every registration is gone and every waiter was woken. */
  readonly released: boolean;
  /** No UFFDIO_API has succeeded yet (UFFD_FEATURE_INITIALIZED clear): every other ioctl is EINVAL. Absent once it did. */
  readonly uninitialized?: true;
}

/** The uffd_msg of a sleeping fault: which ctx, the reported address (hva) and the flags. */
export interface Message {
  readonly ctx: number;
  readonly address: number;
  readonly flags: readonly FaultFlagName[];
}

export type ThreadOp = OpOf<"access"> | OpOf<"vcpu_access"> | OpOf<"kvm_access">;

export type ThreadStatus = { readonly kind: "blocked"; readonly msg: Message } | { readonly kind: "done"; readonly outcome: Outcome };

/** A thread that slept on a userfault: its access (retried whole on wakeup), and what became of it. */
export interface UffdThread {
  /** The scenario's thread name (access id, or "<vm>.vcpu<n>"); null once the name was reused. */
  readonly name: string | null;
  readonly op: ThreadOp;
  /** Messages queued for it so far: each sleep, including the re-faults after a wakeup. */
  readonly faults: number;
  readonly status: ThreadStatus;
}

export interface UffdState {
  readonly ctxs: readonly UffdCtx[];
  readonly names: ReadonlyMap<string, number>;
  /** The sleeping threads in wait-queue order (one that sleeps again goes to their tail), then the finished ones in the order they finished. */
  readonly threads: readonly UffdThread[];
}

export const EMPTY_UFFD: UffdState = { ctxs: [], names: new Map(), threads: [] };
