// Budgets: FAULTLINE_RUN_SCALE shrinks every suite's runs (mutation testing runs the tests per mutant), and a
// check's --time-budget.
export function scaledRuns(runs: number): number {
  const scale = Number(process.env.FAULTLINE_RUN_SCALE ?? "1");
  return Math.max(1, Math.round(runs * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/**
 * A time budget measured from the first run, not from start-up: loading the suites and starting workers takes
 * seconds on a busy machine, and a budget spent before any run would check nothing.
 */
export class TimeBudget {
  private startedAt: number | undefined;

  constructor(
    readonly ms: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts the clock; later calls do nothing. */
  start(): void {
    this.startedAt ??= this.now();
  }

  get expired(): boolean {
    return this.startedAt !== undefined && this.now() - this.startedAt >= this.ms;
  }
}
