// Outcomes the kernel may also give for an operation, besides step()'s, because of transient conditions the
// sequential model does not track (a reference held by a fault still in flight). The linearizability check
// accepts them; a sequential run never produces them.
import { match } from "ts-pattern";
import type { Op } from "../schema/ops.js";
import { gmemConvertTransient } from "./gmem/convert.js";
import type { State, StepResult } from "./state.js";

/** `concurrent`: the operations that overlapped op in real time (a transient condition needs one of them). */
export function alternatives(s: State, op: Op, concurrent: readonly Op[]): Iterable<StepResult> {
  return match(op)
    .with({ op: "gmem_convert" }, (o) => gmemConvertTransient(s, o, concurrent))
    .otherwise(() => []);
}
