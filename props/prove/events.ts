// Every interleaving of the post-copy VMM's actors (props/postcopy/vmm.ts) in a small scope: every sequence of at
// most `length` events over a small alphabet (a guest access, a VMM thread's access, the fetcher's or the fault
// handler's next step), each run on to the end of the migration and the final comparison, as the postcopy suite
// runs a generated scenario. An event is whole kernel operations, so there are no footprints to reduce by: this
// is brute force, and the count is the naive one.
import type { Config } from "../../schema/config.js";
import { PropertyFailure } from "../checker.js";
import type { PostcopyEvent, PostcopyScenario } from "../postcopy/scenario.js";
import { Vmm } from "../postcopy/vmm.js";
import { Stats } from "../stats.js";

interface Shortest {
  readonly sc: PostcopyScenario;
  readonly failure: PropertyFailure;
  readonly steps: number;
  readonly switches: number;
}

export interface EventExploration {
  readonly runs: number;
  readonly failing: number;
  /** Distinct abstract kernel states met, by fingerprint. */
  readonly states: number;
  /** Events run over every run. */
  readonly steps: number;
  /** Sequences in the scope: the sum of alphabet^k for k up to the length. */
  readonly naive: number;
  readonly exhaustive: boolean;
  readonly ms: number;
  /** The shortest failing sequence: fewest events, then fewest changes of actor. */
  readonly shortest?: Shortest;
  readonly stats: Stats;
}

/** Who runs an event: the guest, a VMM thread, the fetcher or the handler. */
export const eventActor = (e: PostcopyEvent): string => (e.kind === "vmm" ? `vmm-t${e.thread}` : e.kind);

/** Every sequence of at most `length` events over `alphabet`, shortest first, run on `sc` (whose own events are ignored). */
export async function exploreEvents(
  config: Config,
  sc: PostcopyScenario,
  alphabet: readonly PostcopyEvent[],
  length: number,
  maxRuns?: number,
): Promise<EventExploration> {
  const started = performance.now();
  const stats = new Stats();
  let runs = 0;
  let failing = 0;
  let steps = 0;
  let naive = 0;
  let shortest: EventExploration["shortest"];
  let exhaustive = true;
  for (let k = 0, n = 1; k <= length; k++, n *= alphabet.length) naive += n;
  // The k-th sequence of length `len`: its digits in base |alphabet|, first event most significant.
  const sequence = (len: number, index: number): PostcopyEvent[] =>
    Array.from({ length: len }, (_, i) => alphabet[Math.floor(index / alphabet.length ** (len - 1 - i)) % alphabet.length]!);
  for (let len = 0; len <= length && exhaustive; len++) {
    for (let index = 0; index < alphabet.length ** len; index++) {
      if (maxRuns !== undefined && runs >= maxRuns) {
        exhaustive = false;
        break;
      }
      runs++;
      steps += len;
      stats.recordRun();
      const events = sequence(len, index);
      const run = { ...sc, events };
      try {
        await new Vmm(config, run, undefined, stats).run();
      } catch (e) {
        if (!(e instanceof PropertyFailure)) throw e;
        failing++;
        const switches = events.filter((x, i) => i > 0 && eventActor(x) !== eventActor(events[i - 1]!)).length;
        // Shortest first: a later sequence is never shorter, only maybe with fewer switches.
        const shorter = shortest === undefined || (len === shortest.steps && switches < shortest.switches);
        if (shorter) shortest = { sc: run, failure: e, steps: len, switches };
      }
    }
  }
  const ms = performance.now() - started;
  return { runs, failing, states: stats.distinctStates, steps, naive, exhaustive, ms, stats, ...(shortest === undefined ? {} : { shortest }) };
}

/** One line per event, for the proof report. */
export function describeEvent(e: PostcopyEvent): string {
  if (e.kind === "fetcher" || e.kind === "handler") return "next step";
  if (e.kind === "resend" || e.kind === "balloon") return `${e.kind} page ${e.page}`;
  return `${e.write ? `write ${e.byte} to` : "read"} page ${e.page}+${e.offset}`;
}
