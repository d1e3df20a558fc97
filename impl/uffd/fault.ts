// handle_userfault: queue the message on the VMA's ctx, re-check locklessly whether the fault still needs
// userspace (userfaultfd_must_wait), and put the current task to sleep, or refuse with SIGBUS.
import type { FaultFlagName } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { Hooks } from "../hooks.js";
import type { Mapping } from "../mm/mapping.js";
import type { Waiter } from "./ctx.js";
import { taskOf } from "./task.js";

export type Reason = "MISSING" | "MINOR" | "WP";

export interface Origin {
  readonly inPage: number;
  /** FAULT_FLAG_USER: a user access, not GUP from the kernel. */
  readonly user: boolean;
}
export const USER_ORIGIN: Origin = { inPage: 0, user: true };
export const GUP_ORIGIN: Origin = { inPage: 0, user: false };

export type UserfaultResult =
  | { readonly kind: "sleep"; readonly waiter: Waiter }
  /** VM_FAULT_RETRY without sleeping: woken or resolved before the task slept. */
  | { readonly kind: "retry" }
  | { readonly kind: "sigbus" };

const FLAG: Readonly<Record<Reason, FaultFlagName[]>> = { MISSING: [], MINOR: ["MINOR"], WP: ["WP"] };

/**
 * handle_userfault for page `index` (whose huge page spans `unit` pages). `mustWait` re-reads the PTE as
 * userfaultfd_must_wait does after the waiter is queued and the task state set.
 */
export async function handleUserfault(
  bugs: Bugs,
  map: Mapping,
  index: number,
  unit: number,
  reason: Reason,
  write: boolean,
  origin: Origin,
  mustWait: () => boolean,
  h: Hooks,
): Promise<UserfaultResult> {
  const ctx = map.uffd.get(index)!.ctx;
  if (ctx.has("SIGBUS") || (ctx.userModeOnly && !origin.user)) return { kind: "sigbus" };
  const task = taskOf(h);
  // A GUP no scenario thread runs (pin) cannot sleep here: not modeled, it fails like the model's hostFault.
  if (task === undefined) return { kind: "sigbus" };
  const at = index * 4096 + origin.inPage;
  const offset = ctx.has("EXACT_ADDRESS") ? at : at - (at % (unit * 4096));
  const waiter = ctx.enqueue(map.base + offset, [...(write ? (["WRITE"] as const) : []), ...FLAG[reason]]);
  await h.yield("handle_userfault:must_wait");
  // A wakeup since the queueing set the task running; must_wait catches a resolution the wakeup missed.
  if (!bugs.has("uffd-no-must-wait") && (waiter.woken || !mustWait())) {
    ctx.dequeue(waiter);
    return { kind: "retry" };
  }
  task.waiter = waiter;
  return { kind: "sleep", waiter };
}
