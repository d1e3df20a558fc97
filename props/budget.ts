// Budgets: FAULTLINE_RUN_SCALE shrinks every suite's runs (mutation testing runs the tests per mutant),
// FAULTLINE_CROSS_CHECK sets how often the incremental abstraction is checked against a rebuild, and a check's
// --time-budget.
export function scaledRuns(runs: number): number {
  const scale = Number(process.env.FAULTLINE_RUN_SCALE ?? "1");
  return Math.max(1, Math.round(runs * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/** The cross-check of props/checker.ts runs on every this many-th step; the tests and mutation runs set 1. */
export const CROSS_CHECK_EVERY = 8;

export function crossCheckEvery(): number {
  const every = Number(process.env.FAULTLINE_CROSS_CHECK ?? CROSS_CHECK_EVERY);
  return Number.isSafeInteger(every) && every > 0 ? every : CROSS_CHECK_EVERY;
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
