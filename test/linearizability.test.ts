// The linearizability checker on its own: registers and a key-value store with known answers, and random
// histories of a toy register judged against brute force.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { linearize, linearizeByParts, type Operation, type SequentialSpec, type Verdict } from "../props/concurrent/linearizability.js";

type RegOp = { kind: "write"; value: number } | { kind: "read" };
type Reg = Operation<RegOp, number | null>;

const register: SequentialSpec<number, RegOp, number | null> = {
  init: 0,
  step: (s, op, out) => (op.kind === "write" ? (out === null ? op.value : undefined) : out === s ? s : undefined),
  key: String,
};

const w = (value: number, call: number, ret: number): Reg => ({ input: { kind: "write", value }, output: null, call, ret });
const r = (value: number, call: number, ret: number): Reg => ({ input: { kind: "read" }, output: value, call, ret });

describe("linearize: registers", () => {
  it("accepts a read that overlaps a write and returns either value", () => {
    for (const seen of [0, 1]) {
      const v = linearize(register, [w(1, 0, 3), r(seen, 1, 2)]);
      expect(v.kind, `read ${seen}`).toBe("ok");
    }
  });

  it("rejects a read of the old value after the write returned, and names the stuck read", () => {
    const ops = [w(1, 0, 1), r(0, 2, 3)];
    const v = linearize(register, ops);
    expect(v.kind).toBe("illegal");
    if (v.kind !== "illegal") return;
    expect(v.deepest.order).toEqual([0]);
    expect(v.stuck).toBe(1);
  });

  it("rejects a new-old inversion between two reads (not linearizable, though each read alone is)", () => {
    // The write overlaps both reads, but the first read already saw 1, so the later one cannot see 0.
    const v = linearize(register, [w(1, 0, 10), r(1, 1, 2), r(0, 3, 4)]);
    expect(v.kind).toBe("illegal");
  });

  it("finds an order that needs backtracking", () => {
    // Call order suggests write 1, write 2, read; only write 2, write 1, read 1 explains the read.
    const ops = [w(1, 0, 10), w(2, 1, 11), r(1, 12, 13)];
    const v = linearize(register, ops);
    expect(v.kind).toBe("ok");
    if (v.kind !== "ok") return;
    expect(v.order).toEqual([1, 0, 2]);
    expect(v.backtracks).toBeGreaterThan(0);
  });

  it("memoization keeps an exhaustive failure small: 14 concurrent identical writes, then an impossible read", () => {
    const ops = [...Array.from({ length: 14 }, (_, i) => w(1, i, 100 + i)), r(2, 200, 201)];
    const v = linearize(register, ops, 1_000_000);
    expect(v.kind).toBe("illegal");
    // Without memoization this explores 14! orders; with it, each (state, set) pair is visited once.
    expect(v.explored).toBeLessThan(2 ** 14 * 16);
  });

  it("says undecided when the budget runs out, instead of searching on", () => {
    const ops = [...Array.from({ length: 14 }, (_, i) => w(i + 1, i, 100 + i)), r(99, 200, 201)];
    const v = linearize(register, ops, 500);
    expect(v.kind).toBe("undecided");
    expect(v.explored).toBeLessThanOrEqual(501);
  });

  it("accept constrains the final state", () => {
    const ops = [w(1, 0, 10), w(2, 1, 11)];
    const ends = (final: number): SequentialSpec<number, RegOp, number | null> => ({ ...register, accept: (s) => s === final });
    expect(linearize(ends(1), ops).kind).toBe("ok");
    expect(linearize(ends(2), ops).kind).toBe("ok");
    expect(linearize(ends(3), ops).kind).toBe("illegal");
    const v = linearize(ends(1), ops);
    expect(v.kind === "ok" && v.order).toEqual([1, 0]);
  });
});

type KvOp = { kind: "put"; key: string; value: number } | { kind: "get"; key: string };
type Kv = Operation<KvOp, number | null>;
type KvState = ReadonlyMap<string, number>;

const kv: SequentialSpec<KvState, KvOp, number | null> = {
  init: new Map(),
  step: (s, op, out) => {
    if (op.kind === "get") return out === (s.get(op.key) ?? 0) ? s : undefined;
    return out === null ? new Map([...s, [op.key, op.value]]) : undefined;
  },
  key: (s) => JSON.stringify([...s].sort()),
};
const byKey = (ops: readonly Kv[]): number[][] => {
  const groups = new Map<string, number[]>();
  ops.forEach((op, i) => groups.set(op.input.key, [...(groups.get(op.input.key) ?? []), i]));
  return [...groups.values()];
};
const put = (key: string, value: number, call: number, ret: number): Kv => ({ input: { kind: "put", key, value }, output: null, call, ret });
const get = (key: string, value: number, call: number, ret: number): Kv => ({ input: { kind: "get", key }, output: value, call, ret });

describe("linearizeByParts: independent keys", () => {
  it("checks each key's sub-history on its own", () => {
    const ops = [put("a", 1, 0, 5), put("b", 2, 1, 6), get("a", 1, 7, 8), get("b", 0, 2, 3)];
    const v = linearizeByParts(kv, ops, byKey);
    expect(v.kind).toBe("ok");
    expect(v.kind === "ok" && v.parts).toBe(2);
  });

  it("reports the key whose sub-history is not linearizable, in the caller's indices", () => {
    const ops = [put("a", 1, 0, 5), put("b", 2, 1, 2), get("a", 1, 7, 8), get("b", 0, 3, 4)];
    const v = linearizeByParts(kv, ops, byKey);
    expect(v.kind).toBe("illegal");
    if (v.kind !== "illegal") return;
    expect(v.part).toEqual([1, 3]);
    expect(v.verdict.stuck).toBe(3);
  });

  it("agrees with the unpartitioned search", () => {
    const histories: Kv[][] = [
      [put("a", 1, 0, 5), put("b", 2, 1, 6), get("a", 1, 7, 8), get("b", 0, 2, 3)],
      [put("a", 1, 0, 5), put("b", 2, 1, 2), get("a", 1, 7, 8), get("b", 0, 3, 4)],
      [put("a", 1, 0, 1), get("a", 0, 2, 3)],
    ];
    for (const h of histories) expect(linearizeByParts(kv, h, byKey).kind).toBe(linearize(kv, h).kind);
  });
});

/**
 * The search against the definition: random small histories of a toy model (a register with read, write and
 * compare-and-swap), each judged by linearize and by trying every order of its operations that respects
 * real-time order. The outputs are drawn at random, so both linearizable and illegal histories come up.
 */
describe("linearize agrees with brute force on random small histories", () => {
  type ToyOp = { kind: "write"; value: number } | { kind: "read" } | { kind: "cas"; from: number; to: number };
  type ToyOut = number | boolean | null;
  type Toy = Operation<ToyOp, ToyOut>;
  const toy: SequentialSpec<number, ToyOp, ToyOut> = {
    init: 0,
    step: (s, op, out) => {
      if (op.kind === "write") return out === null ? op.value : undefined;
      if (op.kind === "read") return out === s ? s : undefined;
      return out === (s === op.from) ? (s === op.from ? op.to : s) : undefined;
    },
    key: String,
  };
  const value = fc.nat({ max: 2 });
  const toyOp: fc.Arbitrary<{ input: ToyOp; output: ToyOut }> = fc.oneof(
    value.map((v) => ({ input: { kind: "write" as const, value: v }, output: null })),
    value.map((v) => ({ input: { kind: "read" as const }, output: v })),
    fc.tuple(value, value, fc.boolean()).map(([from, to, ok]) => ({ input: { kind: "cas" as const, from, to }, output: ok })),
  );
  // Calls at even times, returns at odd ones: call < ret, and any two operations may overlap or not.
  const instant = fc.nat({ max: 12 });
  const interval = fc.tuple(instant, instant).map(([a, b]) => ({ call: 2 * Math.min(a, b), ret: 2 * Math.max(a, b) + 1 }));
  const history = fc.array(fc.tuple(toyOp, interval).map(([o, t]): Toy => ({ ...o, ...t })), { minLength: 1, maxLength: 6 });

  function* orders(n: number, prefix: number[] = []): Generator<number[]> {
    if (prefix.length === n) yield prefix;
    for (let i = 0; i < n; i++) if (!prefix.includes(i)) yield* orders(n, [...prefix, i]);
  }
  const respectsRealTime = (ops: readonly Toy[], order: readonly number[]): boolean =>
    order.every((a, i) => order.slice(i + 1).every((b) => !(ops[b]!.ret < ops[a]!.call)));
  /** The state after running `order` on the spec, or undefined where an output is not the model's. */
  const replay = (spec: SequentialSpec<number, ToyOp, ToyOut>, ops: readonly Toy[], order: readonly number[]): number | undefined =>
    order.reduce<number | undefined>((s, i) => (s === undefined ? undefined : spec.step(s, ops[i]!.input, ops[i]!.output)), spec.init);
  const bruteForce = (spec: SequentialSpec<number, ToyOp, ToyOut>, ops: readonly Toy[]): boolean => {
    for (const order of orders(ops.length)) {
      if (!respectsRealTime(ops, order)) continue;
      const end = replay(spec, ops, order);
      if (end !== undefined && (spec.accept === undefined || spec.accept(end))) return true;
    }
    return false;
  };

  type Check = (spec: SequentialSpec<number, ToyOp, ToyOut>, ops: readonly Toy[]) => Verdict<number>;
  /** The comparison as a property of a checker: the same verdict, a legal order when linearizable, a legal prefix when not. */
  const agreesWithBruteForce = (check: Check, seen = { ok: 0, illegal: 0 }) =>
    fc.property(history, fc.option(value), (ops, final) => {
      const spec = final === null ? toy : { ...toy, accept: (s: number) => s === final };
      const v = check(spec, ops);
      expect(v.kind).not.toBe("undecided");
      expect(v.kind === "ok").toBe(bruteForce(spec, ops));
      if (v.kind === "ok") {
        seen.ok++;
        expect([...v.order].sort()).toEqual(ops.map((_, i) => i));
        expect(respectsRealTime(ops, v.order)).toBe(true);
        expect(replay(spec, ops, v.order)).toBe(v.final);
      } else if (v.kind === "illegal") {
        seen.illegal++;
        expect(replay(spec, ops, v.deepest.order)).toBe(v.deepest.state);
      }
    });

  it("linearize gives the verdict brute force gives, on linearizable and illegal histories alike", () => {
    const seen = { ok: 0, illegal: 0 };
    fc.assert(agreesWithBruteForce((spec, ops) => linearize(spec, ops, 1_000_000), seen), { seed: 24, numRuns: 2000 });
    // Both verdicts came up often: the comparison is not vacuous.
    expect(seen.ok).toBeGreaterThan(200);
    expect(seen.illegal).toBeGreaterThan(200);
  });

  it("the comparison catches a checker that ignores real-time order, and one whose memo conflates states", () => {
    const timeless: Check = (spec, ops) => linearize(spec, ops.map((o) => ({ ...o, call: 0, ret: 1 })));
    const forgetful: Check = (spec, ops) => linearize({ ...spec, key: () => "" }, ops);
    for (const broken of [timeless, forgetful]) {
      expect(fc.check(agreesWithBruteForce(broken), { seed: 24, numRuns: 2000 }).failed).toBe(true);
    }
  });
});

describe("linearize with `also`: an operation whose answer does not decide its state", () => {
  // flip answers null and leaves 1 or 2 (step gives 1, also 2); reads tell which it was.
  type NdOp = { kind: "write"; value: number } | { kind: "read" } | { kind: "flip" };
  type Nd = Operation<NdOp, number | null>;
  const nd: SequentialSpec<number, NdOp, number | null> = {
    init: 0,
    step: (s, op, out) => (op.kind === "read" ? (out === s ? s : undefined) : out !== null ? undefined : op.kind === "flip" ? 1 : op.value),
    also: (_s, op) => (op.kind === "flip" ? [2] : []),
    key: String,
  };
  const next = (spec: SequentialSpec<number, NdOp, number | null>, s: number, o: Nd): number[] => {
    const first = spec.step(s, o.input, o.output);
    return first === undefined ? [] : [first, ...(spec.also?.(s, o.input, o.output) ?? [])];
  };
  const before = (ops: readonly Nd[], a: number, b: number): boolean => ops[a]!.ret < ops[b]!.call;
  /** Every real-time-respecting order, every choice of state: whether one explains all the outputs. */
  const bruteForce = (spec: SequentialSpec<number, NdOp, number | null>, ops: readonly Nd[], s = spec.init, done: readonly number[] = []): boolean =>
    done.length === ops.length ||
    ops.some(
      (_, i) =>
        !done.includes(i) &&
        ops.every((_, j) => done.includes(j) || j === i || !before(ops, j, i)) &&
        next(spec, s, ops[i]!).some((t) => bruteForce(spec, ops, t, [...done, i])),
    );
  const value = fc.nat({ max: 2 });
  const ndOp: fc.Arbitrary<{ input: NdOp; output: number | null }> = fc.oneof(
    value.map((v) => ({ input: { kind: "write" as const, value: v }, output: null })),
    value.map((v) => ({ input: { kind: "read" as const }, output: v })),
    fc.constant({ input: { kind: "flip" as const }, output: null }),
  );
  const instant = fc.nat({ max: 12 });
  const interval = fc.tuple(instant, instant).map(([a, b]) => ({ call: 2 * Math.min(a, b), ret: 2 * Math.max(a, b) + 1 }));
  const history = fc.array(fc.tuple(ndOp, interval).map(([o, t]): Nd => ({ ...o, ...t })), { minLength: 1, maxLength: 6 });

  it("a read of 2 after a flip is explained only through also", () => {
    const ops: Nd[] = [{ input: { kind: "flip" }, output: null, call: 0, ret: 1 }, { input: { kind: "read" }, output: 2, call: 2, ret: 3 }];
    const v = linearize(nd, ops);
    expect(v.kind).toBe("ok");
    expect(v.kind === "ok" && v.path).toEqual([2, 2]);
    expect(linearize({ ...nd, also: undefined }, ops).kind).toBe("illegal");
  });

  it("agrees with brute force over orders and choices, and its path is a sequence of allowed states", () => {
    const seen = { ok: 0, illegal: 0 };
    fc.assert(
      fc.property(history, (ops) => {
        const v = linearize(nd, ops, 1_000_000);
        expect(v.kind === "ok").toBe(bruteForce(nd, ops));
        if (v.kind !== "ok") return void seen.illegal++;
        seen.ok++;
        v.order.reduce((s, id, i) => {
          expect(next(nd, s, ops[id]!)).toContain(v.path[i]);
          return v.path[i]!;
        }, nd.init);
      }),
      { seed: 7, numRuns: 1500 },
    );
    expect(seen.ok).toBeGreaterThan(150);
    expect(seen.illegal).toBeGreaterThan(150);
  });

  it("the comparison catches a checker that tries only the first state", () => {
    const firstOnly = fc.property(history, (ops) => linearize({ ...nd, also: undefined }, ops).kind === "ok" || !bruteForce(nd, ops));
    expect(fc.check(firstOnly, { seed: 7, numRuns: 1500 }).failed).toBe(true);
  });
});
