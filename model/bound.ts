// Numeric bounds of refusal rules: what a check compares, in the rule's own units and with its own rounding (pages,
// 64-bit bitmap words, folios; inclusive and exclusive ends; address-space limits). The check and its coverage
// (props/bounds.ts) read the same measure, so a bound is declared once, next to its rule.
import type { Op, OpOf } from "../schema/ops.js";
import type { Rule } from "./rules.js";
import type { State } from "./state.js";

/** The accepted side: value <= limit ("le"), value < limit ("lt"), value >= limit ("ge"), value > limit ("gt"). */
export type Accepts = "le" | "lt" | "ge" | "gt";

export interface Measured {
  readonly value: number;
  readonly limit: number;
  /** The unit when it depends on the state (a folio of the file), in place of the bound's. */
  readonly unit?: number;
}

export interface Bound<K extends Op["op"] = Op["op"]> {
  /** The rule that refuses past the bound. */
  readonly rule: Rule;
  /** The operations whose check this is. */
  readonly ops: readonly K[];
  /** One step of the compared quantity (bytes for a byte quantity counted in pages), and its name. */
  readonly unit: number;
  readonly unitName: string;
  /** The limit as the kernel (or faultline) names it. */
  readonly limitName: string;
  readonly accepts: Accepts;
  /**
   * The value and the limit for this op in this state, rounded as the rule rounds; undefined when the comparison
   * does not decide (an object missing, an earlier part of the same check failing, such as an unaligned address).
   */
  readonly measure: (s: State, op: OpOf<K>) => Measured | undefined;
}

/** A bound whose op type is erased, for lists of every bound. */
export type AnyBound = Bound<Op["op"]>;

export const bound = <K extends Op["op"]>(b: Bound<K>): AnyBound => b as unknown as AnyBound;

/** The measured value lies past the limit: the rule refuses. */
export function beyond(accepts: Accepts, m: Measured): boolean {
  switch (accepts) {
    case "le":
      return m.value > m.limit;
    case "lt":
      return m.value >= m.limit;
    case "ge":
      return m.value < m.limit;
    case "gt":
      return m.value <= m.limit;
  }
}

/** A measured quantity (undefined: the comparison does not decide) lies past the bound. */
export const isBeyond = (b: { readonly accepts: Accepts }, m: Measured | undefined): boolean => m !== undefined && beyond(b.accepts, m);

/** The check of a bound on this op in this state: whether its measure lies past the limit. */
export const outside = <K extends Op["op"]>(b: Bound<K>, s: State, op: OpOf<K>): boolean => isBeyond(b, b.measure(s, op));

/**
 * How far past the limit the value lies, in units, counted toward the refused side: -1, 0 and +1 are "bound-1",
 * "bound" and "bound+1". For "le" and "ge" the bound itself is accepted; for "lt" and "gt" it is the first refused.
 */
export function offsetOf(b: { readonly accepts: Accepts; readonly unit: number }, m: Measured): number {
  const unit = m.unit ?? b.unit;
  return b.accepts === "le" || b.accepts === "lt" ? (m.value - m.limit) / unit : (m.limit - m.value) / unit;
}

/** The offsets of the last accepted value and of the first refused one. */
export const edgeOf = (accepts: Accepts): { readonly accepted: number; readonly refused: number } =>
  accepts === "le" || accepts === "ge" ? { accepted: 0, refused: 1 } : { accepted: -1, refused: 0 };
