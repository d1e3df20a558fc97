// Kernel locks as cooperative primitives: waiting is a yield that is enabled only once the lock is free.
import type { Hooks } from "./hooks.js";

/** A sleeping mutex (slots_lock, the filemap invalidate lock taken exclusive-only, ...). */
export class Mutex {
  private held = false;
  /** The cost model (impl/costs.ts): acquisitions, and how many found the lock taken under the schedule. */
  acquired = 0;
  contended = 0;
  constructor(readonly name: string) {}

  async lock(h: Hooks): Promise<void> {
    this.count(this.held);
    await h.yield(`mutex_lock(${this.name})`, () => !this.held);
    this.held = true;
  }

  unlock(): void {
    if (!this.held) throw new Error(`unlock of free ${this.name}`);
    this.held = false;
  }

  get isHeld(): boolean {
    return this.held;
  }

  private count(busy: boolean): void {
    this.acquired++;
    if (busy) this.contended++;
  }
}

/** A reader/writer lock (mmu_lock on the TDP MMU, filemap invalidate lock). */
export class RwLock {
  private readers = 0;
  private writer = false;
  /** As Mutex's: acquisitions (read or write) and how many had to wait. */
  acquired = 0;
  contended = 0;
  constructor(readonly name: string) {}

  async read(h: Hooks): Promise<void> {
    this.count(this.writer);
    await h.yield(`read_lock(${this.name})`, () => !this.writer);
    this.readers++;
  }

  readUnlock(): void {
    if (this.readers === 0) throw new Error(`read_unlock of ${this.name} not read-held`);
    this.readers--;
  }

  async write(h: Hooks): Promise<void> {
    this.count(this.writer || this.readers > 0);
    await h.yield(`write_lock(${this.name})`, () => !this.writer && this.readers === 0);
    this.writer = true;
  }

  writeUnlock(): void {
    if (!this.writer) throw new Error(`write_unlock of ${this.name} not write-held`);
    this.writer = false;
  }

  private count(busy: boolean): void {
    this.acquired++;
    if (busy) this.contended++;
  }
}

/** SRCU: synchronize waits for every reader that entered before it was called. */
export class Srcu {
  private epoch = 0;
  private readonly active = new Map<number, number>();
  constructor(readonly name: string) {}

  readLock(): number {
    const e = this.epoch;
    this.active.set(e, (this.active.get(e) ?? 0) + 1);
    return e;
  }

  readUnlock(token: number): void {
    const n = this.active.get(token) ?? 0;
    if (n <= 1) this.active.delete(token);
    else this.active.set(token, n - 1);
  }

  async synchronize(h: Hooks): Promise<void> {
    const target = this.epoch++;
    await h.yield(`synchronize_srcu(${this.name})`, () => ![...this.active.keys()].some((e) => e <= target));
  }
}
