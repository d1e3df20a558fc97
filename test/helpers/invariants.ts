// Building the states invariant-strength tests start from: real ops through the model, then one edit breaks them.
import { expect } from "vitest";
import { initial, step, type State } from "../../model/index.js";
import type { Mapping, MemFile } from "../../model/mm/types.js";
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";

/** Runs ops from the initial state; every one must succeed, so the setup is a state the model really reaches. */
export function build(config: Config, ops: readonly Op[]): State {
  return ops.reduce((s, op) => {
    const r = step(s, op);
    expect(r.outcome, JSON.stringify(op)).toMatchObject({ result: "ok" });
    return r.state;
  }, initial(config));
}

/** The four arguments of a step invariant for op applied to pre. */
export function stepFrom(pre: State, op: Op): { pre: State; op: Op; outcome: Outcome; post: State } {
  const r = step(pre, op);
  return { pre, op, outcome: r.outcome, post: r.state };
}


/** The state with one field edit of mapping id. */
export const withMap = (s: State, id: string, patch: Partial<Mapping>): State => ({
  ...s,
  mm: { ...s.mm, maps: new Map([...s.mm.maps].map(([k, m]) => [k, k === id ? { ...m, ...patch } : m])) },
});

/** The state with one field edit of memfd file object id. */
export const withFile = (s: State, id: number, patch: Partial<MemFile>): State => ({ ...s, mm: { ...s.mm, files: s.mm.files.map((f, i) => (i === id ? { ...f, ...patch } : f)) } });
