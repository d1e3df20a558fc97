// What a schedule step touches, so that the explorer can tell two steps' dependence. A step runs an actor from
// the yield point it is parked at to its next one; its footprint is declared per yield point (label) and
// operation in FOOTPRINTS below. A step without a declared footprint depends on every other step: a missing
// entry costs reduction, never soundness.
import type { Op } from "../../schema/ops.js";

/** A resource a step reads or writes: an area of kernel state. Names beginning with "~" are not in the abstraction. */
export type Resource = string;

export interface Access {
  readonly reads: readonly Resource[];
  readonly writes: readonly Resource[];
}

/** The step that begins an operation or goes on from `label` inside it. */
export interface StepSite {
  readonly op: Op;
  readonly label: string;
  readonly entry: boolean;
}

/** A step's footprint: `all` (depends on every step) or what it may read and write, and whether it may end its operation. */
export type Footprint =
  | { readonly kind: "all" }
  | { readonly kind: "some"; readonly access: Access; readonly invokes: boolean; readonly returns: boolean };

export const ALL: Footprint = { kind: "all" };

/** A declaration: the resources, and whether the step can end its operation (most steps can). */
interface Declared extends Access {
  readonly returns?: boolean;
}

/**
 * Footprints by operation and yield point (`op@label`; `op@` is the step that begins the operation). Each one must
 * cover every path the code may take from that yield point to the next. Empty for now: every step depends on every
 * other, and the exploration is exhaustive (sleep sets then prune nothing).
 */
const FOOTPRINTS: ReadonlyMap<string, Declared> = new Map<string, Declared>([]);

export const siteKey = (site: StepSite): string => `${site.op.op}@${site.entry ? "" : site.label}`;

/** The footprint of the step at `site`; `returned` is known once the step ran (before, it may end the operation unless declared not to). */
export function footprintOf(site: StepSite, returned?: boolean): Footprint {
  const d = FOOTPRINTS.get(siteKey(site));
  if (d === undefined) return ALL;
  return { kind: "some", access: d, invokes: site.entry, returns: returned ?? d.returns !== false };
}

const internal = (r: Resource): boolean => r.startsWith("~");
/** A step that may change the abstract state: the invariants checked at every yield point see it. */
const visible = (a: Access): boolean => a.writes.some((r) => !internal(r));
const meets = (xs: readonly Resource[], ys: readonly Resource[]): boolean => xs.some((x) => ys.includes(x));

/**
 * Whether two steps of different actors may fail to commute. Besides a conflict on a resource (one writes what
 * the other reads or writes), an operation's invocation and another's response are ordered in real time, which
 * the linearizability check sees; and two steps that both change the abstract state are ordered, since the
 * state invariants checked at every yield point see the states in between (Peled's visibility condition).
 */
export function dependent(a: Footprint, b: Footprint): boolean {
  if (a.kind === "all" || b.kind === "all") return true;
  if ((a.invokes && b.returns) || (a.returns && b.invokes)) return true;
  if (visible(a.access) && visible(b.access)) return true;
  return meets(a.access.writes, [...b.access.reads, ...b.access.writes]) || meets(b.access.writes, a.access.reads);
}
