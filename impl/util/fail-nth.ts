// A call's fail_nth (the kernel's current->fail_nth, lib/fault-inject.c): each allocation attempt counts it down and the
// one that reaches zero fails. One object per call, handed down to the places that allocate.
export class FailNth {
  private left: number;

  constructor(nth: number | undefined) {
    this.left = nth ?? 0;
  }

  /** One allocation attempt: false when it is the one that fails. */
  attempt(): boolean {
    if (this.left === 0) return true;
    this.left--;
    return this.left !== 0;
  }

  /** `count` attempts in a row: how many succeed before one fails (`count` when none does). */
  run(count: number): number {
    if (this.left === 0 || this.left > count) {
      if (this.left !== 0) this.left -= count;
      return count;
    }
    const ok = this.left - 1;
    this.left = 0;
    return ok;
  }
}

