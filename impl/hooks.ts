// The points where the kernel could interleave: every await of hooks.yield is one.

export interface Hooks {
  /**
   * Another thread may run here. `enabled` says whether this thread can go on (false while it waits for a
   * lock or an event); a scheduler resumes it only when it returns true.
   */
  yield(label: string, enabled?: () => boolean): Promise<void>;
}

const RESOLVED = Promise.resolve();

/** Outside tests nothing interleaves: every point resolves at once, and a wait that cannot proceed is a bug. */
export const NO_HOOKS: Hooks = {
  yield(label, enabled) {
    if (enabled !== undefined && !enabled()) throw new Error(`deadlock: ${label} waits with no other thread to run`);
    return RESOLVED;
  },
};
