// Test run budgets: FAULTLINE_RUN_SCALE shrinks every suite's runs (mutation testing runs the tests per mutant).
export function scaledRuns(runs: number): number {
  const scale = Number(process.env.FAULTLINE_RUN_SCALE ?? "1");
  return Math.max(1, Math.round(runs * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}
