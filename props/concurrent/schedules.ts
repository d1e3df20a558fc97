// Schedules as data. A schedule is the list of decisions "which runnable actor runs to its next yield point",
// made only where more than one actor can run. Decision e picks the e-th runnable actor counting cyclically
// from the one that ran last, so 0 means "keep running the current actor" and a schedule shrinks toward
// fewer context switches; past its end a schedule keeps choosing 0.
import fc from "fast-check";

/** Uniform over up to 4 runnable actors: 12 is a multiple of 1, 2, 3 and 4. */
const CHOICES = 12;
/** Actors a PCT priority list covers, setup included (the concurrent suites have at most three others). */
const MAX_ACTORS = 4;

export type ScheduleSpec =
  /** Explicit decisions: random ones from the uniform generator, or a counterexample file's. */
  | { readonly kind: "choices"; readonly choices: readonly number[] }
  /**
   * PCT (Burckhardt et al., ASPLOS 2010): distinct random priorities, always run the highest-priority
   * runnable actor, and at step k_i (the change points, d-1 of them) drop the actor about to run it below
   * every initial priority. With k at least the run's length, finds a bug of depth d with probability at
   * least 1/(n k^(d-1)).
   */
  | { readonly kind: "pct"; readonly depth: number; readonly keys: readonly number[]; readonly changePoints: readonly number[] }
  /** The actor of every step in order, as another run took them: shrinking replays a run without some of its steps. */
  | { readonly kind: "follow"; readonly order: readonly number[] };

export type Generator = "uniform" | "pct";

/** The runnable actors in the order decisions count them: from `current` on, cyclically. */
export function rotation(runnable: readonly number[], current: number): number[] {
  const from = runnable.findIndex((a) => a >= current);
  return from <= 0 ? [...runnable] : [...runnable.slice(from), ...runnable.slice(0, from)];
}

export interface Chooser {
  /** The actor to run at step `step` (from 1); `runnable` has at least two actors, in index order. */
  pick(runnable: readonly number[], current: number, step: number): number;
  /** Step `step` ran `actor` (forced steps included). */
  ran(actor: number, step: number): void;
}

export function chooser(spec: ScheduleSpec): Chooser {
  if (spec.kind === "choices") {
    let next = 0;
    return {
      pick: (runnable, current) => {
        const r = rotation(runnable, current);
        return r[(spec.choices[next++] ?? 0) % r.length]!;
      },
      ran: () => undefined,
    };
  }
  if (spec.kind === "follow") {
    let next = 0;
    return {
      // Where the run has drifted from the order, keep the current actor going.
      pick: (runnable, current) => (runnable.includes(spec.order[next] ?? -1) ? spec.order[next]! : rotation(runnable, current)[0]!),
      ran: (actor) => {
        if (spec.order[next] === actor) next++;
      },
    };
  }
  // Higher runs first; initial priorities are >= 1, the i-th change point demotes to -1 - i.
  const priority = spec.keys.map((k, i) => 1 + k * MAX_ACTORS + (MAX_ACTORS - 1 - i));
  const rank = (a: number): number => priority[a] ?? 0;
  const highest = (runnable: readonly number[]): number => runnable.reduce((best, a) => (rank(a) > rank(best) ? a : best));
  let demoted = 0;
  /** PCT: at change point k_i the actor about to run step k_i drops below every other before the step is chosen. */
  const change = (actor: number, step: number): void => {
    const i = spec.changePoints.indexOf(step);
    if (i < 0 || demoted === step) return;
    priority[actor] = -1 - i;
    demoted = step;
  };
  return {
    pick: (runnable, _current, step) => {
      change(highest(runnable), step);
      return highest(runnable);
    },
    // A step with one runnable actor is not picked: it is the actor about to run it that a change point demotes.
    ran: (actor, step) => change(actor, step),
  };
}

/**
 * Uniform at every step of the run: one decision per step (at most `steps` of them are taken), each uniform over
 * the runnable actors. Unbiased: fast-check's bias toward small values would favour "keep the current actor".
 */
export const uniformSchedule = (steps: number): fc.Arbitrary<ScheduleSpec> =>
  fc
    .noBias(fc.array(fc.nat({ max: CHOICES - 1 }), { minLength: steps, maxLength: steps }))
    .map((choices) => ({ kind: "choices" as const, choices }));

/**
 * PCT with `depth - 1` change points drawn uniformly among the run's steps 1..k (`steps`, the suite's longest run)
 * and a uniformly random order of initial priorities. Unbiased: fast-check's bias toward the ends of a range would
 * put change points at the first and last steps about twice as often as in the middle of the run.
 */
export const pctSchedule = (depth: number, steps: number): fc.Arbitrary<ScheduleSpec> =>
  fc
    .noBias(
      fc.record({
        keys: fc.uniqueArray(fc.nat({ max: 1023 }), { minLength: MAX_ACTORS, maxLength: MAX_ACTORS }),
        changePoints: fc.uniqueArray(fc.integer({ min: 1, max: steps }), { minLength: depth - 1, maxLength: depth - 1 }),
      }),
    )
    .map(({ keys, changePoints }) => ({ kind: "pct" as const, depth, keys, changePoints }));

export function scheduleArbitrary(generator: Generator | "mixed", depth: number, steps: number): fc.Arbitrary<ScheduleSpec> {
  if (generator === "uniform") return uniformSchedule(steps);
  if (generator === "pct") return pctSchedule(depth, steps);
  return fc.oneof(uniformSchedule(steps), pctSchedule(depth, steps));
}

/** PCT's guarantee (Burckhardt et al., ASPLOS 2010): a bug of depth d is found with probability at least 1/(n k^(d-1)). */
export const pctBound = (actors: number, steps: number, depth: number): number => 1 / (actors * steps ** (depth - 1));

export const describeSchedule = (s: ScheduleSpec): string => (s.kind === "pct" ? `pct(d=${s.depth})` : s.kind === "follow" ? "follow" : "uniform");
