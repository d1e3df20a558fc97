// The model's public surface.
export { initial, type State, type StepResult } from "./state.js";
export { step } from "./step.js";
export { alsoReached, alternatives, relaxedBy } from "./alternatives.js";
export { INVARIANTS, STATE_INVARIANTS, STEP_INVARIANTS, type Invariant, type StateInvariant, type StepInvariant, type Verdict } from "./invariants.js";
export { canonical, canonicalText, firstDifference } from "./canonical.js";
