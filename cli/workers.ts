// faultline check on worker threads: a pool running the built JS in dist/, each worker taking the plan's next
// run as soon as it is ready and idle (cli/plan.ts merges the results in run order, so the report is the one
// a single thread gives).
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { suiteNamed } from "../props/registry.js";
import { Stats, type StatsData } from "../props/stats.js";
import type { SuiteResult } from "../props/suite.js";
import type { CheckPlan, RunSettings, RunTask } from "./plan.js";

interface Task extends RunSettings {
  readonly id: number;
  readonly suite: string;
  readonly seed: number;
}

type WireResult = Omit<SuiteResult, "stats"> & { readonly stats: StatsData };
type Reply =
  | { readonly ready: true }
  | { readonly id: number; readonly result: WireResult }
  | { readonly id: number; readonly error: { readonly message: string; readonly stack?: string } };

const ROLE = "faultline-check-worker";
/** The built worker: tests that import cli/ from source still run workers from dist/. */
const WORKER_URL = import.meta.url.endsWith(".ts") ? new URL("../dist/cli/workers.js", import.meta.url) : new URL(import.meta.url);

/** Executes the plan on `count` workers; resolves once every suite has been reported. */
export function runOnWorkers(plan: CheckPlan, count: number, settings: RunSettings = {}): Promise<void> {
  if (plan.done) return Promise.resolve();
  const inFlight = new Map<number, RunTask>();
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
    // A worker asks for work once it has loaded the suites: the plan's time budget starts with the first run.
    const feed = (w: Worker): void => {
      const task = plan.next();
      // The plan may finish here: the budget closed the last suite, whose runs were all merged.
      if (task === undefined) return plan.done ? stop() : undefined;
      const id = nextId++;
      inFlight.set(id, task);
      w.postMessage({ ...settings, id, suite: task.suite.name, seed: task.seed } satisfies Task);
    };
    const onReply = (w: Worker, reply: Reply): void => {
      if ("error" in reply) return stop(Object.assign(new Error(reply.error.message), { stack: reply.error.stack }));
      if ("id" in reply) {
        const task = inFlight.get(reply.id)!;
        inFlight.delete(reply.id);
        plan.complete(task, { ...reply.result, stats: Stats.fromData(reply.result.stats) });
        if (plan.done) return stop();
      }
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

/** The worker side: run each task's single run and send back its result. */
function serve(): void {
  parentPort!.postMessage({ ready: true } satisfies Reply);
  parentPort!.on("message", ({ id, suite, seed, ...settings }: Task) => {
    suiteNamed(suite)!.run({ ...settings, seed, runs: 1 }).then(
      (r) => parentPort!.postMessage({ id, result: { ...r, stats: r.stats.data() } } satisfies Reply),
      (e: unknown) => parentPort!.postMessage({ id, error: wireError(e) } satisfies Reply),
    );
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) serve();
