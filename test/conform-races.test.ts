// Races against the real kernel (conformance/races.ts, race-runner.ts): the history checker on written histories,
// then real runs of the helper's actors: a block the model allows (D6), and deliberately wrong models caught from
// recorded histories, with the runs it took. Tests that need /dev/kvm or userfaultfd skip, naming the capability.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { detectHost, loadCorpusScenario, startHelper, type Host } from "../conformance/index.js";
import { RaceHelper, raceShapes, runRaceShape, scenarioShape, type RaceReport, type RaceShape } from "../conformance/race-runner.js";
import { checkRecording, mayBlock, overlaps, responseOrder, stateAfter } from "../conformance/races.js";
import type { Actor, Recording, StepFn } from "../conformance/races.js";
import { renderRecordedRace } from "../conformance/race-diagram.js";
import { step } from "../model/index.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { decodeScenario } from "../schema/scenario.js";
import { BUG_IDS } from "../impl/bugs.js";
import { expectOneLineError, faultline, inProcess } from "./cli-child.js";

const config = PRESETS["kernel-6.18"];
const SHMEM: Op[] = [
  { op: "memfd", file: "f0", size: 8192 },
  { op: "mmap", map: "m0", file: "f0", offset: 0, length: 8192, shared: true },
  { op: "uffd_open", uffd: "u0", features: [] },
  { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 8192, mode: ["MISSING"] },
];
const writer: Actor = { name: "writer", steps: [{ op: "access", map: "m0", offset: 8, kind: "write", byte: 250, id: "t0" }] };
const monitor: Actor = { name: "monitor", steps: [{ op: "uffdio_copy", uffd: "u0", map: "m0", offset: 0, len: 4096, byte: 82 }] };
const reader: Actor = { name: "reader", steps: [{ op: "pread", file: "f0", offset: 8 }] };

/** A history in microseconds: [actor, index, call, ret, outcome]. */
const rec = (ops: [string, number, number, number | null, object | null][], after: Recording["after"] = []): Recording => ({
  seed: 1,
  watchdog: false,
  ops: ops.map(([actor, index, call, ret, outcome]) => ({
    actor,
    index,
    call: call * 1000,
    ret: ret === null ? null : ret * 1000,
    outcome: outcome as never,
  })),
  after,
});

describe("the history checker (written histories)", () => {
  const start = stateAfter(config, SHMEM);
  const actors = [writer, monitor, reader];

  it("explains a sleeping writer that the copy wakes, and a reader that sees the copy before the writer's retry", () => {
    const h = rec([
      ["writer", 0, 0, 10, { result: "blocked", fault: { uffd: "u0", flags: ["WRITE"], address_offset: 0 } }],
      ["monitor", 0, 20, 30, { result: "ok", copy: 4096 }],
      ["reader", 0, 40, 50, { result: "ok", value: 82 }],
    ], [{ op: { op: "read_alias", map: "m0", offset: 8 }, outcome: { result: "ok", value: 250 } }]);
    const v = checkRecording(start, actors, h);
    expect(v.kind).toBe("ok");
    // The model's wakeup retries the writer in the copy's own step: it cannot explain the reader's 82.
    const atomic = checkRecording(start, actors, h, { atomicWake: true });
    expect(atomic).toMatchObject({ kind: "illegal", stuck: "reader#0", actual: { result: "ok", value: 82 } });
    expect(overlaps(h)).toBe(false);
    expect(responseOrder(h)).toBe("writer#0 monitor#0 reader#0");
  });

  it("defers the wakeup of a write-protect resolve and of a MOVE as of a COPY", () => {
    const blocked = (flags: string[]) => ({ result: "blocked", fault: { uffd: "u0", flags, address_offset: 0 } });
    // userfaultfd_writeprotect without WP wakes the range; the woken writer stores only when it runs again.
    const wpStart = stateAfter(config, [
      { op: "memfd", file: "f0", size: 8192 },
      { op: "mmap", map: "m0", file: "f0", offset: 0, length: 8192, shared: true },
      { op: "uffd_open", uffd: "u0", features: ["WP_HUGETLBFS_SHMEM"] },
      { op: "access", map: "m0", offset: 8, kind: "write", byte: 1 },
      { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 8192, mode: ["WP"] },
      { op: "uffdio_writeprotect", uffd: "u0", map: "m0", offset: 0, len: 4096, mode: ["WP"] },
    ]);
    const unprotect: Op = { op: "uffdio_writeprotect", uffd: "u0", map: "m0", offset: 0, len: 4096, mode: [] };
    const resolve: Actor = { name: "monitor", steps: [unprotect] };
    const wp = rec(
      [
        ["writer", 0, 0, 10, blocked(["WRITE", "WP"])],
        ["monitor", 0, 20, 30, { result: "ok" }],
        ["reader", 0, 40, 50, { result: "ok", value: 1 }],
      ],
      [{ op: { op: "read_alias", map: "m0", offset: 8 }, outcome: { result: "ok", value: 250 } }],
    );
    const resolvers = [writer, resolve, reader];
    expect(checkRecording(wpStart, resolvers, wp).kind).toBe("ok");
    expect(checkRecording(wpStart, resolvers, wp, { atomicWake: true })).toMatchObject({ kind: "illegal", stuck: "reader#0" });
    // userfaultfd_move wakes the moved range (range.len = ret), as a fill does.
    const moveStart = stateAfter(config, [
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 8192 },
      { op: "uffd_open", uffd: "u0", features: [] },
      { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 8192, mode: ["MISSING"] },
      { op: "mmap", map: "m1", file: "anon", offset: 0, length: 4096 },
      { op: "access", map: "m1", offset: 8, kind: "write", byte: 5 },
    ]);
    const anonWriter: Actor = { name: "writer", steps: [{ op: "access", map: "m0", offset: 8, kind: "write", byte: 250, id: "t0" }] };
    const move: Op = { op: "uffdio_move", uffd: "u0", map: "m0", offset: 0, src: "m1", src_offset: 0, len: 4096 };
    const mover: Actor = { name: "monitor", steps: [move] };
    const anonReader: Actor = { name: "reader", steps: [{ op: "access", map: "m0", offset: 8, kind: "read" }] };
    const moved = rec(
      [
        ["writer", 0, 0, 10, blocked(["WRITE"])],
        ["monitor", 0, 20, 30, { result: "ok", move: 4096 }],
        ["reader", 0, 40, 50, { result: "ok", value: 5 }],
      ],
      [{ op: { op: "access", map: "m0", offset: 8, kind: "read" }, outcome: { result: "ok", value: 250 } }],
    );
    const movers = [anonWriter, mover, anonReader];
    expect(checkRecording(moveStart, movers, moved).kind).toBe("ok");
    expect(checkRecording(moveStart, movers, moved, { atomicWake: true })).toMatchObject({ kind: "illegal", stuck: "reader#0" });
  });

  it("refuses a value no order gives, and honours real-time order", () => {
    const never = rec([["reader", 0, 0, 10, { result: "ok", value: 7 }]]);
    const zero = { result: "ok", value: 0 };
    expect(checkRecording(start, actors, never)).toMatchObject({ kind: "illegal", stuck: "reader#0", expected: zero });
    // The copy answered before the read began: the read cannot come first.
    const ordered = rec([
      ["monitor", 0, 0, 10, { result: "ok", copy: 4096 }],
      ["reader", 0, 20, 30, { result: "ok", value: 0 }],
    ]);
    expect(checkRecording(start, actors, ordered).kind).toBe("illegal");
    // Overlapping, either order is allowed.
    const overlapping = rec([
      ["monitor", 0, 0, 30, { result: "ok", copy: 4096 }],
      ["reader", 0, 10, 20, { result: "ok", value: 0 }],
    ]);
    expect(checkRecording(start, actors, overlapping).kind).toBe("ok");
    expect(overlaps(overlapping)).toBe(true);
  });

  it("lets a memslot update stay blocked only while a vCPU of its VM sleeps in a userfault", () => {
    const MiB = 1024 * 1024;
    const vmSetup: Op[] = [
      { op: "create_vm", vm: "v0" },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
      { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 2 * MiB, userspace: "m0", userspace_offset: 0 },
      { op: "uffd_open", uffd: "u0", features: [] },
      { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 8192, mode: ["MISSING"] },
    ];
    const vmStart = stateAfter(config, vmSetup);
    const slot1: Op = {
      op: "set_memory_region",
      vm: "v0",
      slot: 1,
      flags: [],
      guest_phys_addr: 16 * MiB,
      memory_size: 4096,
      userspace: "m0",
      userspace_offset: 8192,
    };
    const vcpu: Actor = { name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 8, kind: "read" }] };
    const vmm: Actor = { name: "VMM", steps: [slot1] };
    const asleep = { result: "blocked", fault: { uffd: "u0", flags: [], address_offset: 0 } };
    const blocked = { ...rec([["vCPU0", 0, 0, 10, asleep], ["VMM", 0, 20, null, null]]), watchdog: true };
    const withWait = { ...blocked, ops: blocked.ops.map((o) => (o.actor === "VMM" ? { ...o, waits: "__synchronize_srcu" } : o)) };
    expect(checkRecording(vmStart, [vcpu, vmm], withWait)).toMatchObject({ kind: "ok", blocked: [{ actor: "VMM" }] });
    // Without the sleeping vCPU nothing holds kvm->srcu: the model says the update cannot block.
    const alone = { ...rec([["VMM", 0, 20, null, null]]), watchdog: true };
    expect(checkRecording(vmStart, [vcpu, vmm], alone)).toMatchObject({ kind: "blocked", stuck: "VMM#0" });
    expect(mayBlock(vmStart, slot1)).toBe(false);
    // A refused update returns before synchronize_srcu: it cannot block even then.
    const sleeping = step(vmStart, vcpu.steps[0]!).state;
    expect(mayBlock(sleeping, slot1)).toBe(true);
    expect(mayBlock(sleeping, { ...slot1, memory_size: 4095 })).toBe(false);
  });

  it("draws a recorded race on its time axis", () => {
    const h = rec([
      ["writer", 0, 0, 12.5, { result: "blocked", fault: { uffd: "u0", flags: ["WRITE"], address_offset: 0 } }],
      ["monitor", 0, 5, 30, { result: "ok", copy: 4096 }],
    ]);
    const text = renderRecordedRace([writer, monitor], h);
    expect(text.split("\n")[0]).toMatch(/^\s+us\s+writer\s+monitor$/);
    expect(text).toContain("      12.5  = blocked");
    expect(text).toMatch(/^ {7}5\.0 {2}\| +uffdio_copy/m);
  });

  it("replays a stored race the model refutes: exit 1, the operation marked on the time axis and in the SVG", async () => {
    const base = JSON.parse(readFileSync("conformance/races/wake-retry-window.json", "utf8")) as Record<string, unknown>;
    const seven = { actor: "reader", index: 0, call: 1000, ret: 2500, outcome: { result: "ok", value: 7 } };
    const dir = mkdtempSync(join(tmpdir(), "faultline-races-"));
    try {
      const file = join(dir, "race.json");
      writeFileSync(file, JSON.stringify({ ...base, recorded: { seed: 3, watchdog: false, ops: [seven], after: [], host: "Linux x" } }));
      const r = await inProcess(["replay", file, "--svg", join(dir, "race.svg")]);
      expect(r.stdout).toMatch(/^ +1\.0 +>> pread file f0 offset 8$/m);
      expect(r.stdout).toMatch(/^ +2\.5 += ok 7$/m);
      expect(r.stdout).toContain('REPRODUCES: after nothing, reader#0 answered {"result":"ok","value":7} where the model says {"result":"ok","value":0}');
      expect(readFileSync(join(dir, "race.svg"), "utf8")).toContain('fill="#f4a3a3"');
      expect(r.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads recorded races in scenario files and refuses inconsistent ones, naming the field", () => {
    const base = JSON.parse(readFileSync("conformance/races/wake-retry-window.json", "utf8")) as Record<string, unknown>;
    const backwards = { actor: "writer", index: 0, call: 5, ret: 3, outcome: { result: "ok" } };
    const recorded = { seed: 1, watchdog: false, ops: [backwards], after: [] };
    const decode = (r: unknown) => (): unknown => decodeScenario("x.json", JSON.stringify({ ...base, recorded: r }), { bugs: BUG_IDS });
    expect(decode(recorded)).toThrow("x.json: recorded.ops[0].ret: expected a response at or after the invocation (5), found 3");
    const ghost = { ...recorded, ops: [{ actor: "ghost", index: 0, call: 1, ret: null, outcome: null }] };
    expect(decode(ghost)).toThrow('recorded.ops[0].actor: expected an actor of the scenario, found "ghost"');
  });
});

const { helper, why } = startHelper();
const host: Host = await detectHost(helper, why);
const races = new RaceHelper(helper);
afterAll(async () => {
  await races.close();
});

/** Why this host cannot run races needing these capabilities, for a skipped test's title. */
function lacks(...caps: ("KVM" | "KVM_GUEST" | "USERFAULTFD" | "KVM_DIRTY_LOG_IOCTLS")[]): string | undefined {
  if (helper === undefined) return `needs the native helper: ${why}`;
  const missing = caps.filter((c) => host.caps.get(c)?.present !== true);
  return missing.length === 0 ? undefined : `needs ${missing.join(", ")}`;
}
const titled = (title: string, skip: string | undefined): string => (skip === undefined ? title : `${title} (skipped: ${skip})`);

const fileShape = (file: string): RaceShape => scenarioShape(loadCorpusScenario(file));

/** A model that says a fault never sleeps: an access that would block completes at once, reading zero. */
const faultNeverBlocks: StepFn = (s, op) => {
  const r = step(s, op);
  if ((op.op !== "access" && op.op !== "vcpu_access") || !("result" in r.outcome) || r.outcome.result !== "blocked") return r;
  return { ...r, state: s, outcome: op.kind === "read" ? { result: "ok", value: 0 } : { result: "ok" } };
};

/** A model whose KVM_GET_DIRTY_LOG reports the bits without clearing them or write-protecting anything. */
const getNeverHarvests: StepFn = (s, op) => (op.op === "get_dirty_log" ? { ...step(s, op), state: s } : step(s, op));

function caught(r: RaceReport, label: string): number {
  expect(r.skipped).toBeUndefined();
  expect(r.errors).toEqual([]);
  expect(r.failure, `${label}: not caught in ${r.runs} runs`).toBeDefined();
  console.log(`${label}: caught at run ${r.failure!.run} of up to ${r.runs} (${r.overlapping} of ${r.checked} histories overlapped)`);
  return r.failure!.run;
}

describe("races on this machine's kernel", () => {
  const uffd = lacks("USERFAULTFD");
  const kvm = lacks("KVM", "KVM_GUEST", "USERFAULTFD");

  const srcuTitle = "a memslot update blocked behind a vCPU's userfault is ended by the watchdog, named, and allowed";
  it.skipIf(kvm !== undefined)(titled(srcuTitle, kvm), async () => {
    const shape = fileShape("conformance/races/srcu-waits-for-userfault.json");
    const r = await runRaceShape(races, host, shape, { runs: 3, seed: 1, watchdogMs: 300, write: false });
    expect(r.errors).toEqual([]);
    expect(r.failure).toBeUndefined();
    expect(r.checked).toBe(3);
    // The vCPU sleeps for good (nobody fills its page), so a run ends with the VMM waiting for it unless all its
    // updates ran before the vCPU faulted (a loaded machine: once in 2 runs at load average 20, before its head start).
    expect(r.blocked).toBeGreaterThan(0);
  });

  it.skipIf(uffd !== undefined)(titled("real histories of the wake window pass the model, and refute an atomic wakeup", uffd), async () => {
    const shape = fileShape("conformance/races/wake-retry-window.json");
    const ok = await runRaceShape(races, host, shape, { runs: 10, seed: 7, write: false });
    expect(ok.failure).toBeUndefined();
    expect(ok.errors).toEqual([]);
    expect(ok.overlapping).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), "faultline-races-"));
    try {
      const wrong = await runRaceShape(races, host, shape, { runs: 300, seed: 7, atomicWake: true, shrinkTries: 2, foundDir: dir });
      caught(wrong, "a model whose wakeup retries the woken thread in the same step");
      const v = wrong.failure!.verdict;
      expect(v).toMatchObject({ kind: "illegal", actual: { result: "ok", value: 82 } });
      // The stored counterexample keeps the recorded history: replay checks it against the real model and draws it.
      const out = faultline(["replay", wrong.failure!.file!, "--svg", join(dir, "race.svg")], process.cwd());
      expect(out.stdout).toContain("the race on its real time axis");
      expect(out.stdout).toContain("does not reproduce: the model explains the recorded history");
      expect(readFileSync(join(dir, "race.svg"), "utf8")).toContain("<rect");
      expect(out.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const dirty = lacks("KVM", "KVM_GUEST", "KVM_DIRTY_LOG_IOCTLS");
  const dirtyTitle = "KVM_GET_DIRTY_LOG against real vCPU loads and stores is linearizable, and refutes a GET that clears nothing";
  it.skipIf(dirty !== undefined)(titled(dirtyTitle, dirty), async () => {
    const shape = raceShapes().find((s) => s.name === "kernel-dirty-log")!;
    const ok = await runRaceShape(races, host, shape, { runs: 20, seed: 3, write: false });
    expect(ok.failure).toBeUndefined();
    expect(ok.errors).toEqual([]);
    expect(ok.overlapping).toBeGreaterThan(0);
    const wrong = await runRaceShape(races, host, shape, { runs: 20, seed: 3, stepFn: getNeverHarvests, shrinkTries: 1, write: false });
    caught(wrong, "a model whose KVM_GET_DIRTY_LOG clears nothing");
    expect(wrong.failure!.verdict).toMatchObject({ kind: "illegal" });
  });

  it.skipIf(kvm !== undefined)(titled("a model in which a fault cannot block is caught from recorded vCPU histories", kvm), async () => {
    const shape: RaceShape = { ...fileShape("conformance/races/srcu-waits-for-userfault.json"), name: "vcpu fault on a missing page" };
    const vcpuOnly: RaceShape = {
      ...shape,
      draw: (seed) => {
        const d = shape.draw(seed);
        return { ...d, actors: d.actors.filter((a) => a.name === "vCPU0") };
      },
    };
    const wrong = await runRaceShape(races, host, vcpuOnly, { runs: 5, seed: 1, stepFn: faultNeverBlocks, shrinkTries: 1, write: false });
    caught(wrong, "a model in which a fault cannot block");
    expect(wrong.failure!.verdict).toMatchObject({ kind: "illegal", stuck: "vCPU0#0", actual: { result: "blocked" } });
  });
});

describe("faultline conform --races: runs", () => {
  const uffd = lacks("USERFAULTFD");

  it.skipIf(uffd !== undefined)(titled("runs a given concurrent scenario and reports its histories, overlap and orders", uffd), async () => {
    const r = await inProcess(["conform", "--races", "conformance/races/wake-retry-window.json", "--runs", "4", "--seed", "1"]);
    expect(r.stdout).toMatch(/races on this kernel: 4 runs each, seed 1/);
    expect(r.stdout).toMatch(/^(ok {2}|VAC ) a reader sees a filled page .*: 4 histories, \d+ overlapping \(\d+%\), \d+ response orders, /m);
    expect(r.stdout).toMatch(/^4 histories in [\d.]+ s \([\d.]+ per second\); 0 race\(s\) failed$/m);
    expect(r.status).toBe(0);
  });

  it("skips every race the host cannot run, naming the capability", async () => {
    const r = await inProcess(["conform", "--races", "--caps", "-KVM,-USERFAULTFD", "--runs", "1"]);
    expect(r.stdout).toMatch(/^skip race-memslot-delete-move: skipped: needs KVM \(taken out by the override\)$/m);
    expect(r.stdout).toMatch(/^skip race-uffd-shmem: skipped: .*needs USERFAULTFD/m);
    expect(r.stdout).toMatch(/^skip kernel-host-uffd-missing: skipped: needs KVM/m);
    // Host threads alone (madvise, an alias write, accesses) need neither, only the helper.
    const ran = helper === undefined ? [] : [expect.stringMatching(/^(ok {2}|VAC ) race-host-fault: 1 histories/)];
    expect(r.stdout.split("\n").filter((l) => /^(ok|VAC|FAIL|ERR)/.test(l))).toEqual(ran);
    expect(r.status).toBe(0);
  });
});

describe("faultline conform --races: usage", () => {
  it("refuses a sequential scenario and --verbose, in one line", async () => {
    const seq = await inProcess(["conform", "--races", "conformance/corpus/memslots/create-read-write.json"]);
    const why = /create-read-write\.json: actors: expected a concurrent scenario \(actors\) for --races, found a sequential one \(steps\)/;
    expectOneLineError(seq, why);
    expectOneLineError(await inProcess(["conform", "--races", "--verbose"]), /--races prints one line per race/);
    expectOneLineError(await inProcess(["conform", "--probe", "--races"]), /--probe takes only --caps and --json/);
  });
});

