// `current` for userfaultfd: the task an operation runs as travels with its hooks, so handle_userfault can put
// that task to sleep wherever the fault came from (a user access, or KVM's GUP inside KVM_RUN).
import type { Hooks } from "../hooks.js";
import type { Waiter } from "./ctx.js";

export interface Task {
  /** Set by handle_userfault when the task goes to sleep on a userfault. */
  waiter: Waiter | undefined;
}

export interface TaskHooks extends Hooks {
  readonly task: Task;
}

export const taskOf = (h: Hooks): Task | undefined => ("task" in h ? (h as TaskHooks).task : undefined);

/** The hooks an operation runs with as task `task`: the same yield points. */
export const asTask = (h: Hooks, task: Task): TaskHooks => ({ task, yield: (label, enabled) => h.yield(label, enabled) });

/**
 * The hooks a woken thread's retry runs with: inside the wakeup and without preemption points, so that the
 * wakeup and the retries are one step as in the model (the kernel schedules the woken task later, which the
 * vocabulary can only observe through wake_check). A lock another thread holds is still waited for.
 */
export const noPreempt = (h: Hooks): Hooks => ({
  yield: (label, enabled) => (enabled === undefined || enabled() ? Promise.resolve() : h.yield(label, enabled)),
});
