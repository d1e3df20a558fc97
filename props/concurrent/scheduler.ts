// A deterministic cooperative scheduler: the Hooks every actor's operations run with. Exactly one actor runs
// at a time; it runs until its next hooks.yield, where it parks, and the driver picks who resumes next.
// Nothing else (timers, threads) interleaves, so the schedule value alone decides the interleaving.
import type { Hooks } from "../../impl/hooks.js";

interface Park {
  readonly label: string;
  readonly enabled: (() => boolean) | undefined;
  readonly resume: () => void;
}

export class Scheduler implements Hooks {
  private current = -1;
  private readonly parked: (Park | undefined)[] = [];
  private readonly finished: boolean[] = [];
  private readonly errors: unknown[] = [];
  private settled: (() => void) | undefined;

  yield(label: string, enabled?: () => boolean): Promise<void> {
    const actor = this.current;
    if (actor < 0) throw new Error(`hooks.yield(${label}) outside any actor`);
    // Race diagrams and replays name each interleaving point by its kernel function.
    if (label === "") throw new Error("hooks.yield without a label");
    return new Promise<void>((resume) => {
      this.parked[actor] = { label, enabled, resume };
      this.settle();
    });
  }

  private settle(): void {
    const s = this.settled;
    this.settled = undefined;
    s?.();
  }

  /** Runs `body` as actor `actor` until it first parks or ends. */
  async start(actor: number, body: () => Promise<void>): Promise<void> {
    this.finished[actor] = false;
    await this.run(actor, () => {
      void body()
        .catch((e: unknown) => {
          this.errors[actor] = e;
        })
        .finally(() => {
          this.finished[actor] = true;
          this.settle();
        });
    });
  }

  /** Resumes a parked actor and waits until it parks again or ends. */
  async resume(actor: number): Promise<void> {
    const p = this.parked[actor];
    if (p === undefined) throw new Error(`actor ${actor} is not parked`);
    this.parked[actor] = undefined;
    await this.run(actor, p.resume);
  }

  private async run(actor: number, go: () => void): Promise<void> {
    this.current = actor;
    const settled = new Promise<void>((r) => (this.settled = r));
    go();
    await settled;
  }

  isFinished(actor: number): boolean {
    return this.finished[actor] === true;
  }

  /** What the actor's body threw, if it ended that way. */
  errorOf(actor: number): unknown {
    return this.errors[actor];
  }

  /** Where a parked actor waits, or undefined once it finished. */
  parkedAt(actor: number): string | undefined {
    return this.parked[actor]?.label;
  }

  /** Parked actors that may go on now, in index order. */
  runnable(actors: readonly number[]): number[] {
    return actors.filter((a) => {
      const p = this.parked[a];
      return p !== undefined && (p.enabled === undefined || p.enabled());
    });
  }
}
