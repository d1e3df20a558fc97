// A post-copy run as a race diagram: one column per actor (the guest's vCPUs, VMM threads, the fault handlers,
// the background fetcher), one row per operation in the order they ran, then the violated check.
import type { Failure } from "../checker.js";
import { opArgs, outcomeText } from "../concurrent/diagram.js";
import type { LogEntry } from "./vmm.js";

const WIDTH = 34;

const cell = (s: string): string => (s.length > WIDTH ? `${s.slice(0, WIDTH - 1)}…` : s.padEnd(WIDTH));

export function renderPostcopyDiagram(log: readonly LogEntry[], failure: Failure | undefined): string {
  const rows = log.filter((e) => e.actor !== "setup");
  const named = (prefix: string): string[] => [...new Set(rows.map((r) => r.actor).filter((a) => a.startsWith(prefix)))].sort();
  const actors = [...named("vcpu"), ...named("vmm-"), ...named("handler"), "fetcher"].filter((a) => rows.some((r) => r.actor === a));
  const lines = [actors.map((a) => cell(a)).join(" | ")];
  lines.push(actors.map(() => "-".repeat(WIDTH)).join("-+-"));
  for (const r of rows) {
    const text = [`${r.op.op} ${opArgs(r.op)}`, `  -> ${outcomeText(r.outcome)}`];
    for (const t of text) lines.push(actors.map((a) => cell(a === r.actor ? t : "")).join(" | "));
  }
  if (failure !== undefined) lines.push("", `${failure.property}: ${failure.detail}`, `  expected ${JSON.stringify(failure.expected)}, got ${JSON.stringify(failure.actual)}`);
  return lines.join("\n");
}
