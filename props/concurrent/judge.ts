// The judge of a concurrent run's history: it checks each segment (the operations between two quiescent points)
// against the model, starting from the state the previous segment left, and decides where the next one starts.
import type { State } from "../../model/index.js";
import { carryOver, checkSegment, type RaceOp, type SegmentVerdict } from "./history.js";
import { DEFAULT_BUDGET } from "./linearizability.js";

export class Judge {
  private model: State;

  constructor(
    start: State,
    /** Model steps the linearizability search may try per segment. */
    readonly budget: number = DEFAULT_BUDGET,
  ) {
    this.model = start;
  }

  /** The model state the next segment starts from. */
  get state(): State {
    return this.model;
  }

  /**
   * Checks a segment that ended quiescent with the implementation in state `impl`. After an accepted segment the
   * next one starts from the model's own final state, taking from the implementation only what the comparison
   * tolerates (carryOver); after any other verdict the state stays where the segment started.
   */
  segment(seg: readonly RaceOp[], impl: State): SegmentVerdict {
    const v = checkSegment(this.model, seg, impl, this.budget);
    if (v.kind === "ok") this.model = carryOver(v.final, impl);
    return v;
  }
}
