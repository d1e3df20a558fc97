// The small shared pieces every layer leans on, pinned directly (written from the survivors of the core Stryker
// runs, docs/mutation/core.md): the canonical text states are compared by, the state diff a refinement failure
// prints, page-byte runs, the rule index, the cooperative locks and SRCU of impl/locks.ts, and the no-scheduler
// hooks that turn a wait nobody can end into an error.
import { describe, expect, it } from "vitest";
import { NO_HOOKS, type Hooks } from "../impl/hooks.js";
import { Mutex, RwLock, Srcu } from "../impl/locks.js";
import { fill } from "../model/bytes.js";
import { canonical, canonicalText, firstDifference } from "../model/canonical.js";
import type { State } from "../model/index.js";
import { rule } from "../model/rules.js";
import { indexRules, ruleById, RULES } from "../model/rules-index.js";

describe("canonical: the one text of a state", () => {
  // Only the four parts canonical reads; the refinement check compares these texts, so equal states must agree.
  const parts = (kvm: unknown, gmem: unknown): State => ({ kvm, gmem, mm: {}, uffd: {} }) as unknown as State;

  it("sorts map entries by key and object keys, so insertion order never shows", () => {
    const a = parts(new Map([[3, "c"], [1, "a"], [4, "d"], [2, "b"]]), { y: new Map([["v1", 1], ["v0", 0]]), x: 2 });
    const b = parts(new Map([[2, "b"], [4, "d"], [1, "a"], [3, "c"]]), { x: 2, y: new Map([["v0", 0], ["v1", 1]]) });
    expect(canonicalText(a)).toBe(canonicalText(b));
    expect(canonical(a)).toEqual({ gmem: { x: 2, y: [["v0", 0], ["v1", 1]] }, kvm: [[1, "a"], [2, "b"], [3, "c"], [4, "d"]], mm: {}, uffd: {} });
    expect(Object.keys(canonical(b) as object)).toEqual(["gmem", "kvm", "mm", "uffd"]);
  });
});

describe("firstDifference: the path a refinement failure names", () => {
  it("is undefined for equal values, whatever their key order", () => {
    expect(firstDifference({ a: 1, b: [1, 2] }, { a: 1, b: [1, 2] })).toBeUndefined();
  });

  it("names the first differing array element, an element only one side has, and the deepest key", () => {
    expect(firstDifference([1, 2, 3], [1, 9, 4])).toEqual({ path: "state[1]", left: 2, right: 9 });
    expect(firstDifference([1, 2], [1, 2, 3])).toEqual({ path: "state[2]", left: undefined, right: 3 });
    expect(firstDifference([1, 2, 3], [1, 2])).toEqual({ path: "state[2]", left: 3, right: undefined });
    expect(firstDifference({ kvm: { vms: [{ slots: 1 }] } }, { kvm: { vms: [{ slots: 2 }] } })).toEqual({ path: "state.kvm.vms[0].slots", left: 1, right: 2 });
  });

  it("walks the keys of both sides in sorted order, a key one side lacks included", () => {
    expect(firstDifference({ b: 1, c: 1 }, { a: 1, b: 2, c: 2 })).toEqual({ path: "state.a", left: undefined, right: 1 });
    expect(firstDifference({ z: 1, b: 1 }, { z: 2, b: 2 }, "s")).toEqual({ path: "s.b", left: 1, right: 2 });
  });

  it("stops at a value whose kind differs (array against object, null against object)", () => {
    expect(firstDifference({ x: [1] }, { x: { 0: 2 } })).toEqual({ path: "state.x", left: [1], right: { 0: 2 } });
    expect(firstDifference({ x: null }, { x: {} })).toEqual({ path: "state.x", left: null, right: {} });
  });
});

describe("page bytes: fill keeps runs sorted, merged and free of zeros", () => {
  it("runs of one byte that do not touch stay apart; touching ones merge", () => {
    const two = fill(fill(undefined, 0, 10, 5), 20, 30, 5);
    expect(two).toEqual([{ from: 0, to: 10, byte: 5 }, { from: 20, to: 30, byte: 5 }]);
    expect(fill(two, 40, 50, 7)).toEqual([{ from: 0, to: 10, byte: 5 }, { from: 20, to: 30, byte: 5 }, { from: 40, to: 50, byte: 7 }]);
    expect(fill(two, 10, 20, 5)).toEqual([{ from: 0, to: 30, byte: 5 }]);
    expect(fill(fill(fill(undefined, 0, 4, 1), 4, 8, 1), 8, 12, 1)).toEqual([{ from: 0, to: 12, byte: 1 }]);
  });

  it("a run ending where the fill starts, or starting where it ends, is kept whole", () => {
    const page = fill(fill(undefined, 0, 10, 5), 20, 30, 6);
    expect(fill(page, 10, 20, 7)).toEqual([{ from: 0, to: 10, byte: 5 }, { from: 10, to: 20, byte: 7 }, { from: 20, to: 30, byte: 6 }]);
    expect(fill(page, 5, 25, 0)).toEqual([{ from: 0, to: 5, byte: 5 }, { from: 25, to: 30, byte: 6 }]);
  });
});

/** A scheduler stand-in that parks every waiter for good and keeps its condition, to ask again later. */
function parking(): { hooks: Hooks; waits: (() => boolean)[] } {
  const waits: (() => boolean)[] = [];
  return { waits, hooks: { yield: (_label, enabled) => (waits.push(enabled!), new Promise<void>(() => undefined)) } };
}

describe("impl/locks.ts: the cooperative locks", () => {
  it("a mutex waiter is enabled only once the holder unlocks", async () => {
    const { hooks, waits } = parking();
    const m = new Mutex("slots_lock");
    await m.lock(NO_HOOKS);
    void m.lock(hooks);
    expect(waits[0]!()).toBe(false);
    m.unlock();
    expect(waits[0]!()).toBe(true);
  });

  it("a writer waits for readers and for a writer; a reader waits for a writer only", async () => {
    const { hooks, waits } = parking();
    const rw = new RwLock("mmu_lock");
    await rw.read(NO_HOOKS);
    void rw.write(hooks);
    void rw.read(hooks);
    expect(waits.map((w) => w())).toEqual([false, true]);
    rw.readUnlock();
    expect(waits.map((w) => w())).toEqual([true, true]);
    await rw.write(NO_HOOKS);
    void rw.write(hooks);
    void rw.read(hooks);
    expect(waits.map((w) => w())).toEqual([false, false, false, false]);
    rw.writeUnlock();
    expect(waits.map((w) => w())).toEqual([true, true, true, true]);
  });

  it("unlocking a lock that is not held is a bug the impl reports, naming the lock", () => {
    expect(() => new Mutex("slots_lock").unlock()).toThrow("unlock of free slots_lock");
    expect(() => new RwLock("mmu_lock").readUnlock()).toThrow("read_unlock of mmu_lock not read-held");
    expect(() => new RwLock("mmu_lock").writeUnlock()).toThrow("write_unlock of mmu_lock not write-held");
  });

  it("synchronize_srcu waits for every reader that entered before it, however many, and for no later one", async () => {
    const srcu = new Srcu("kvm->srcu");
    const { hooks, waits } = parking();
    const a = srcu.readLock();
    const b = srcu.readLock();
    void srcu.synchronize(hooks);
    const late = srcu.readLock();
    void srcu.synchronize(hooks);
    const [first, second] = waits as [() => boolean, () => boolean];
    expect([first(), second()]).toEqual([false, false]);
    srcu.readUnlock(a);
    expect([first(), second()]).toEqual([false, false]);
    srcu.readUnlock(b);
    // The reader that entered after the first call holds up only the second.
    expect([first(), second()]).toEqual([true, false]);
    srcu.readUnlock(late);
    expect([first(), second()]).toEqual([true, true]);
  });
});

describe("NO_HOOKS: running without a scheduler", () => {
  it("passes every yield point, and a wait no other thread can end is an error naming the point", async () => {
    await expect(NO_HOOKS.yield("handle_mm_fault")).resolves.toBeUndefined();
    await expect(NO_HOOKS.yield("mutex_lock(slots_lock)", () => true)).resolves.toBeUndefined();
    expect(() => NO_HOOKS.yield("mutex_lock(slots_lock)", () => false)).toThrow("deadlock: mutex_lock(slots_lock) waits with no other thread to run");
  });
});

describe("rules: one id, one rule", () => {
  it("a rule carries an errno only when it is a refusal, so traces of successes have no errno key", () => {
    expect(rule("x.ok", "file.c (fn)", "succeeds")).toEqual({ id: "x.ok", cite: "file.c (fn)", text: "succeeds" });
    expect("errno" in rule("x.ok", "file.c (fn)", "succeeds")).toBe(false);
    expect(rule("x.refused", "file.c (fn)", "refuses", "EINVAL")).toEqual({ id: "x.refused", cite: "file.c (fn)", text: "refuses", errno: "EINVAL" });
  });

  it("the index finds every rule by id, the same rule listed twice included, and refuses two rules under one id", () => {
    const a = rule("x.a", "file.c (a)", "a");
    const index = indexRules({ ONE: { a }, TWO: { again: a, b: rule("x.b", "file.c (b)", "b") } });
    expect([...index.keys()]).toEqual(["x.a", "x.b"]);
    expect(index.get("x.a")).toBe(a);
    expect(() => indexRules({ ONE: { a }, TWO: { other: rule("x.a", "file.c (other)", "a, cited elsewhere") } })).toThrow('rule id "x.a" is declared twice');
    expect(ruleById("mm.munmap")).toBe(RULES.get("mm.munmap"));
    expect(ruleById("mm.munmap")?.id).toBe("mm.munmap");
    expect(ruleById("no.such-rule")).toBeUndefined();
  });
});
