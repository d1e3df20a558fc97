// Linearizability checking: Wing & Gong's search over the history's call/return entries, with Lowe's
// memoization of visited (state, linearized set) pairs, as in Porcupine. Generic over the model; a budget
// bounds the search and yields "undecided" instead of hanging.

export interface Operation<I, O> {
  readonly input: I;
  readonly output: O;
  /** Times of the call and the return in the history's real-time order (call < ret). */
  readonly call: number;
  readonly ret: number;
}

export interface SequentialSpec<S, I, O> {
  readonly init: S;
  /** The state after `input`, or undefined when the model cannot answer `output` from `state`. */
  step(state: S, input: I, output: O): S | undefined;
  /**
   * Further states the model may reach with the same answer, where the kernel's outcome does not decide its
   * state (a transient condition the sequential model does not track); tried after step's, on backtrack.
   */
  also?(state: S, input: I, output: O): readonly S[];
  /** Equal for equal states: the memoization key. */
  key(state: S): string;
  /** Whether a complete linearization may end in `state` (e.g., it must equal an observed final state). */
  accept?(state: S): boolean;
}

export const DEFAULT_BUDGET = 200_000;

export interface Search {
  /** Model steps tried. */
  readonly explored: number;
  /** Times the search undid a linearized operation. */
  readonly backtracks: number;
}

export type Verdict<S> =
  /** `path`: the state after each operation of `order` (where `also` gave a choice, the one taken). */
  | (Search & { readonly kind: "ok"; readonly order: readonly number[]; readonly path: readonly S[]; readonly final: S })
  | (Search & {
      readonly kind: "illegal";
      /** The longest prefix the model could explain, and the state after it. */
      readonly deepest: { readonly order: readonly number[]; readonly path: readonly S[]; readonly state: S };
      /** The operation whose return came while it was still unexplained at that depth. */
      readonly stuck: number;
    })
  | (Search & { readonly kind: "undecided" });

interface Entry {
  readonly id: number;
  readonly call: boolean;
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** The doubly linked list of call and return entries, calls first at equal times. */
function entries<I, O>(ops: readonly Operation<I, O>[]): Entry {
  const events: { time: number; call: boolean; id: number }[] = [];
  ops.forEach((op, id) => {
    if (!(op.call < op.ret)) throw new Error(`operation ${id}: call ${op.call} is not before return ${op.ret}`);
    events.push({ time: op.call, call: true, id }, { time: op.ret, call: false, id });
  });
  events.sort((a, b) => a.time - b.time || Number(b.call) - Number(a.call) || a.id - b.id);
  const head: Entry = { id: -1, call: false, match: undefined, prev: undefined, next: undefined };
  const calls = new Map<number, Entry>();
  let last = head;
  for (const e of events) {
    const node: Entry = { id: e.id, call: e.call, match: undefined, prev: last, next: undefined };
    last.next = node;
    last = node;
    if (e.call) calls.set(e.id, node);
    else calls.get(e.id)!.match = node;
  }
  return head;
}

function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

/** Searches for an order of the operations that the model explains and that respects real-time order. */
export function linearize<S, I, O>(spec: SequentialSpec<S, I, O>, ops: readonly Operation<I, O>[], budget = DEFAULT_BUDGET): Verdict<S> {
  const head = entries(ops);
  const stack: { node: Entry; state: S; linearized: bigint; next: readonly S[]; k: number }[] = [];
  const seen = new Set<string>();
  let state = spec.init;
  let linearized = 0n;
  let node = head.next;
  let explored = 0;
  let backtracks = 0;
  let deepest = { order: [] as number[], path: [] as S[], state };
  let stuck = ops.length > 0 ? 0 : -1;

  const taken = (): S[] => stack.map((f) => f.next[f.k]!);
  /** Linearizes `at` into the first of next[k..] not seen with the same set; false when none is left. */
  const take = (at: Entry, next: readonly S[], k: number): boolean => {
    const bits = linearized | (1n << BigInt(at.id));
    for (let j = k; j < next.length; j++) {
      const key = `${bits.toString(36)}|${spec.key(next[j]!)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      stack.push({ node: at, state, linearized, next, k: j });
      state = next[j]!;
      linearized = bits;
      lift(at);
      if (stack.length > deepest.order.length) deepest = { order: stack.map((f) => f.node.id), path: taken(), state };
      node = head.next;
      return true;
    }
    return false;
  };
  const backtrack = (): boolean => {
    const top = stack.pop();
    if (top === undefined) return false;
    backtracks++;
    state = top.state;
    linearized = top.linearized;
    unlift(top.node);
    if (!take(top.node, top.next, top.k + 1)) node = top.node.next;
    return true;
  };
  const illegal = (): Verdict<S> => ({ kind: "illegal", deepest, stuck, explored, backtracks });

  for (;;) {
    if (head.next === undefined) {
      if (spec.accept === undefined || spec.accept(state)) {
        return { kind: "ok", order: stack.map((f) => f.node.id), path: taken(), final: state, explored, backtracks };
      }
      if (!backtrack()) return illegal();
      continue;
    }
    if (node!.call) {
      if (++explored > budget) return { kind: "undecided", explored, backtracks };
      const op = ops[node!.id]!;
      const first = spec.step(state, op.input, op.output);
      const next = first === undefined ? [] : [first, ...(spec.also?.(state, op.input, op.output) ?? [])];
      if (!take(node!, next, 0)) node = node!.next;
    } else {
      // A return reached with its call unexplained: nothing linearizable comes first here.
      if (stack.length === deepest.order.length && deepest.order.every((id, i) => stack[i]!.node.id === id)) stuck = node!.id;
      if (!backtrack()) return illegal();
    }
  }
}

export type PartitionVerdict<S> =
  | { readonly kind: "ok"; readonly parts: number; readonly explored: number }
  | { readonly kind: "illegal"; readonly part: readonly number[]; readonly verdict: Extract<Verdict<S>, { kind: "illegal" }>; readonly explored: number }
  | { readonly kind: "undecided"; readonly explored: number };

/**
 * P-compositionality: a history of independent objects is linearizable iff each object's sub-history is.
 * `partition` returns groups of operation indices; each group is checked from `spec.init` on its own.
 */
export function linearizeByParts<S, I, O>(
  spec: SequentialSpec<S, I, O>,
  ops: readonly Operation<I, O>[],
  partition: (ops: readonly Operation<I, O>[]) => readonly (readonly number[])[],
  budget = DEFAULT_BUDGET,
): PartitionVerdict<S> {
  let explored = 0;
  let undecided = false;
  for (const part of partition(ops)) {
    const v = linearize(spec, part.map((i) => ops[i]!), budget);
    explored += v.explored;
    if (v.kind === "illegal") {
      const back = (k: number): number => part[k]!;
      const mapped = { ...v, deepest: { ...v.deepest, order: v.deepest.order.map(back) }, stuck: back(v.stuck) };
      return { kind: "illegal", part, verdict: mapped, explored };
    }
    if (v.kind === "undecided") undecided = true;
  }
  return undecided ? { kind: "undecided", explored } : { kind: "ok", parts: partition(ops).length, explored };
}
