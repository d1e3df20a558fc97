// faultline check on worker threads. Every run of every suite is one task (one fast-check run with the seed
// derived from check seed, suite and run index), handed out in check order to a pool of workers running the
// built JS in dist/. Results are merged in run order and a suite ends at its first failing run, discarding
// later runs that were already under way: the report is the one a single thread gives.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { suiteNamed } from "../props/registry.js";
import { runSeed, shardRuns, type Shard } from "./shard.js";
import { Stats, type StatsData } from "../props/stats.js";
import type { Suite, SuiteResult } from "../props/suite.js";

/** What a suite's runs gave, before its counterexample is stored. */
export interface SuiteRuns {
  readonly suite: Suite;
  /** Runs this shard was to execute. */
  readonly planned: number;
  readonly stats: Stats;
  readonly durationMs: number;
  readonly interrupted: boolean;
  readonly failed?: { readonly result: SuiteResult; readonly run: number };
}

/** A suite's runs in check order: run index k and its fast-check seed. */
export interface SuitePlan {
  readonly suite: Suite;
  readonly runs: readonly { readonly k: number; readonly seed: number }[];
}

export interface WorkerHooks {
  /** Progress of the first suite not yet finished. */
  onRun(suite: Suite, done: number, total: number, elapsedMs: number): void;
  /** Called once per suite, in check order. */
  onSuite(r: SuiteRuns): void;
}

interface Task {
  readonly id: number;
  readonly suite: string;
  readonly seed: number;
  readonly bugs?: readonly string[];
  readonly searchBudget?: number;
}

type WireResult = Omit<SuiteResult, "stats"> & { readonly stats: StatsData };
type Reply = { readonly id: number; readonly result: WireResult } | { readonly id: number; readonly error: { readonly message: string; readonly stack?: string } };

const ROLE = "faultline-check-worker";
/** The built worker: tests that import cli/ from source still run workers from dist/. */
const WORKER_URL = import.meta.url.endsWith(".ts") ? new URL("../dist/cli/workers.js", import.meta.url) : new URL(import.meta.url);

interface Progress {
  readonly plan: SuitePlan;
  /** Results by position in plan.runs. */
  readonly results: (SuiteResult | undefined)[];
  /** Position of the earliest failing run so far. */
  firstFailure: number;
  dispatched: number;
  /** No more runs of this suite will be started (deadline). */
  closed: boolean;
}

/** How many positions of the suite are wanted: up to the first failure, or all. */
/** Each suite's runs of this check (and shard), with their derived seeds. */
export function planOf(suites: readonly Suite[], seed: number, runs: number | undefined, shard: Shard | undefined): SuitePlan[] {
  return suites.map((suite) => ({ suite, runs: shardRuns(runs ?? suite.runs, shard).map((k) => ({ k, seed: runSeed(seed, suite.name, k) })) }));
}

const wanted = (p: Progress): number => Math.min(p.plan.runs.length, p.firstFailure + 1);

function finished(p: Progress): SuiteRuns | undefined {
  const n = p.closed ? Math.min(p.dispatched, wanted(p)) : wanted(p);
  if (!p.closed && p.dispatched < n) return undefined;
  for (let i = 0; i < n; i++) if (p.results[i] === undefined) return undefined;
  const stats = new Stats();
  let durationMs = 0;
  for (let i = 0; i < n; i++) {
    stats.merge(p.results[i]!.stats);
    durationMs += p.results[i]!.durationMs;
  }
  const base = { suite: p.plan.suite, planned: p.plan.runs.length, stats, durationMs };
  const failed = p.results[n - 1]?.failure === undefined ? undefined : { result: p.results[n - 1]!, run: p.plan.runs[n - 1]!.k };
  return failed === undefined ? { ...base, interrupted: n < p.plan.runs.length } : { ...base, interrupted: false, failed };
}

/** Runs the plans on `count` workers; resolves once every suite has been reported through hooks.onSuite. */
export function runOnWorkers(
  plans: readonly SuitePlan[],
  count: number,
  bugs: readonly string[] | undefined,
  deadline: number | undefined,
  hooks: WorkerHooks,
  searchBudget?: number,
): Promise<void> {
  const suites: Progress[] = plans.map((plan) => ({ plan, results: [], firstFailure: Infinity, dispatched: 0, closed: false }));
  const total = plans.reduce((n, p) => n + p.runs.length, 0);
  const inFlight = new Map<number, { readonly suite: number; readonly position: number }>();
  let nextId = 0;
  let reported = 0;
  let cursor = 0;

  return new Promise<void>((resolve, reject) => {
    const pool: Worker[] = [];
    let settled = false;
    const stop = (e?: Error): void => {
      if (settled) return;
      settled = true;
      for (const w of pool) void w.terminate();
      if (e === undefined) resolve();
      else reject(e);
    };

    const report = (): void => {
      while (reported < suites.length) {
        const p = suites[reported]!;
        const r = finished(p);
        if (r === undefined) {
          let done = 0;
          let ms = 0;
          while (p.results[done] !== undefined) ms += p.results[done++]!.durationMs;
          hooks.onRun(p.plan.suite, done, p.plan.runs.length, ms);
          return;
        }
        hooks.onSuite(r);
        reported++;
      }
      stop();
    };

    const next = (): Task | undefined => {
      for (; cursor < suites.length; cursor++) {
        const p = suites[cursor]!;
        if (p.closed || p.dispatched >= wanted(p)) continue;
        if (deadline !== undefined && performance.now() >= deadline) {
          for (const q of suites.slice(cursor)) q.closed = true;
          return undefined;
        }
        const id = nextId++;
        inFlight.set(id, { suite: cursor, position: p.dispatched });
        const run = p.plan.runs[p.dispatched++]!;
        const budget = searchBudget === undefined ? {} : { searchBudget };
        return { id, suite: p.plan.suite.name, seed: run.seed, ...(bugs === undefined ? {} : { bugs }), ...budget };
      }
      return undefined;
    };

    const feed = (w: Worker): void => {
      const task = next();
      if (task !== undefined) w.postMessage(task);
    };

    const onReply = (w: Worker, reply: Reply): void => {
      if ("error" in reply) return stop(Object.assign(new Error(reply.error.message), { stack: reply.error.stack }));
      const at = inFlight.get(reply.id)!;
      inFlight.delete(reply.id);
      const p = suites[at.suite]!;
      p.results[at.position] = { ...reply.result, stats: Stats.fromData(reply.result.stats) };
      if (reply.result.failure !== undefined) p.firstFailure = Math.min(p.firstFailure, at.position);
      feed(w);
      report();
    };

    for (let i = 0; i < Math.min(count, total) && !settled; i++) {
      const w = new Worker(WORKER_URL, { workerData: { role: ROLE } });
      pool.push(w);
      w.on("message", (reply: Reply) => onReply(w, reply));
      w.on("error", (e) => stop(e));
      w.on("exit", (code) => {
        if (!settled) stop(new Error(`a check worker exited with code ${code}`));
      });
      feed(w);
    }
    report();
  });
}

/** The worker side: run each task's single run and send back its result. */
function serve(): void {
  parentPort!.on("message", (task: Task) => {
    const suite = suiteNamed(task.suite)!;
    const budget = task.searchBudget === undefined ? {} : { searchBudget: task.searchBudget };
    suite.run({ seed: task.seed, runs: 1, ...(task.bugs === undefined ? {} : { bugs: task.bugs }), ...budget }).then(
      (r) => parentPort!.postMessage({ id: task.id, result: { ...r, stats: r.stats.data() } } satisfies Reply),
      (e: unknown) => parentPort!.postMessage({ id: task.id, error: e instanceof Error ? { message: e.message, ...(e.stack === undefined ? {} : { stack: e.stack }) } : { message: String(e) } } satisfies Reply),
    );
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) serve();
