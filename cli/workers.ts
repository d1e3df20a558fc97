// faultline check on worker threads: a pool running the built JS in dist/, each worker taking a batch of the plan's
// next runs, with a second batch queued behind it so that it never waits for the main thread (cli/plan.ts merges
// the results in run order, so the report is the one a single thread gives). A batch holds about BATCH_MS of its
// suite's runs: one run at a time, the crossing of the thread boundary cost as much as a short run.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { suiteNamed } from "../props/registry.js";
import { Stats, type StatsData } from "../props/stats.js";
import type { SuiteResult } from "../props/suite.js";
import type { CheckPlan, RunSettings, RunTask } from "./plan.js";

interface Batch extends RunSettings {
  readonly id: number;
  readonly runs: readonly { readonly suite: string; readonly seed: number }[];
}

type WireResult = Omit<SuiteResult, "stats"> & { readonly stats: StatsData };
type Reply =
  | { readonly ready: true }
  | { readonly id: number; readonly results: readonly WireResult[] }
  | { readonly id: number; readonly error: { readonly message: string; readonly stack?: string } };

/** Wall time a batch aims at: long enough to hide a crossing (tens of µs), short enough to share a suite's tail. */
const BATCH_MS = 25;
const MAX_BATCH = 64;

const ROLE = "faultline-check-worker";
/** The built worker: tests that import cli/ from source still run workers from dist/. */
const WORKER_URL = import.meta.url.endsWith(".ts") ? new URL("../dist/cli/workers.js", import.meta.url) : new URL(import.meta.url);

/** Executes the plan on `count` workers; resolves once every suite has been reported. */
export function runOnWorkers(plan: CheckPlan, count: number, settings: RunSettings = {}): Promise<void> {
  if (plan.done) return Promise.resolve();
  const inFlight = new Map<number, RunTask[]>();
  // Mean ms per run of each suite, from the results so far: how many runs make a batch.
  const cost = new Map<string, { ms: number; runs: number }>();
  let nextId = 0;
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
    const batchOf = (suite: string): number => {
      const c = cost.get(suite);
      return c === undefined ? 1 : Math.max(1, Math.min(MAX_BATCH, Math.floor((BATCH_MS * c.runs) / Math.max(c.ms, 1e-3))));
    };
    // A worker asks for work once it has loaded the suites: the plan's time budget starts with the first run.
    const feed = (w: Worker): void => {
      const first = plan.next();
      // The plan may finish here: the budget closed the last suite, whose runs were all merged.
      if (first === undefined) return plan.done ? stop() : undefined;
      const tasks = [first];
      for (let n = batchOf(first.suite.name); tasks.length < n; ) {
        const t = plan.next();
        if (t === undefined) break;
        tasks.push(t);
        // A batch stays within one suite, whose cost set its size.
        if (t.suite !== first.suite) break;
      }
      const id = nextId++;
      inFlight.set(id, tasks);
      w.postMessage({ ...settings, id, runs: tasks.map((t) => ({ suite: t.suite.name, seed: t.seed })) } satisfies Batch);
    };
    const onReply = (w: Worker, reply: Reply): void => {
      if ("error" in reply) return stop(Object.assign(new Error(reply.error.message), { stack: reply.error.stack }));
      if (!("id" in reply)) {
        // Ready: one batch to run and one queued behind it.
        feed(w);
        return feed(w);
      }
      const tasks = inFlight.get(reply.id)!;
      inFlight.delete(reply.id);
      reply.results.forEach((r, i) => {
        const task = tasks[i]!;
        const c = cost.get(task.suite.name) ?? { ms: 0, runs: 0 };
        cost.set(task.suite.name, { ms: c.ms + r.durationMs, runs: c.runs + 1 });
        plan.complete(task, { ...r, stats: Stats.fromData(r.stats) });
      });
      if (plan.done) return stop();
      feed(w);
    };
    for (let i = 0; i < Math.min(count, plan.size); i++) {
      const w = new Worker(WORKER_URL, { workerData: { role: ROLE } });
      pool.push(w);
      w.on("message", (reply: Reply) => onReply(w, reply));
      w.on("error", (e) => stop(e));
      w.on("exit", (code) => {
        if (!settled) stop(new Error(`a check worker exited with code ${code}`));
      });
    }
  });
}

/** An error as the main thread rebuilds it. */
const wireError = (e: unknown): { readonly message: string; readonly stack?: string } =>
  e instanceof Error ? { message: e.message, ...(e.stack === undefined ? {} : { stack: e.stack }) } : { message: String(e) };

/** The worker side: run each batch's runs in turn and send back their results together. */
function serve(): void {
  parentPort!.postMessage({ ready: true } satisfies Reply);
  // Batches queue on the port; each runs once the one before it has replied.
  let queue = Promise.resolve();
  parentPort!.on("message", ({ id, runs, ...settings }: Batch) => {
    queue = queue.then(async () => {
      try {
        const results: WireResult[] = [];
        for (const { suite, seed } of runs) {
          const r = await suiteNamed(suite)!.run({ ...settings, seed, runs: 1 });
          results.push({ ...r, stats: r.stats.data() });
        }
        parentPort!.postMessage({ id, results } satisfies Reply);
      } catch (e) {
        parentPort!.postMessage({ id, error: wireError(e) } satisfies Reply);
      }
    });
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) serve();
