// The progress property for exits: a VMM that does what a memory-fault exit asks (clear the page's KVM Userfault bit;
// convert the page to what the access wanted) and then re-enters the guest gets the access further: the retried access
// never takes the same exit again, and after a few rounds of obeying it completes or ends in an exit that asks for
// nothing the VMM can do (no guest_memfd behind a private access, a guest_memfd error).
import fc from "fast-check";
import { PAGE_SIZE, gfnOf } from "../model/consts.js";
import { FAULT_PATH_RULES } from "../model/kvm/fault.js";
import { findSlot } from "../model/kvm/memslot.js";
import { USERFAULT_RULES } from "../model/kvm/userfault.js";
import type { State } from "../model/index.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { checksInvariant, PropertyFailure, type Checker, type Checks, type StepRecord } from "./checker.js";
import { opArbitrary } from "./generators.js";
import { ANON, GMEM, HUGETLB, setupOf, type Layout } from "./layouts.js";
import { runOpListSuite } from "./run.js";
import type { SequentialSuite } from "./suites.js";

export const EXIT_PROGRESS = "exit-progress";
/** Rounds of obeying before the access must have completed: USERFAULT then a PRIVATE mismatch needs two. */
const MAX_ROUNDS = 3;

/**
 * What the VMM does for an exit, from the exit and its own memslots: clear the bit of a USERFAULT exit, convert the page
 * of a PRIVATE mismatch (KVM_EXIT_MEMORY_FAULT's flags say which way). Undefined: the exit asks for nothing it can do.
 */
export function remedyOf(s: State, op: OpOf<"vcpu_access">, rec: StepRecord): Op[] | undefined {
  const o = rec.model;
  if (!("result" in o) || o.result !== "exit" || o.exit !== "memory_fault") return undefined;
  const gfn = gfnOf(o.gpa);
  if (rec.fired.includes(USERFAULT_RULES.exit.id)) {
    const vmId = s.kvm.names.get(op.vm);
    const slot = vmId === undefined ? undefined : findSlot(s.kvm.vms[vmId]!, 0, gfn);
    return slot === undefined ? undefined : [{ op: "userfault_clear", vm: op.vm, slot: slot.slot, gfn_offset: gfn - slot.baseGfn, npages: 1 }];
  }
  if (rec.fired.includes(FAULT_PATH_RULES.mismatch.id)) {
    return [{ op: "set_memory_attributes", vm: op.vm, address: gfn * PAGE_SIZE, size: PAGE_SIZE, attributes: o.flags?.includes("PRIVATE") === true ? ["PRIVATE"] : [] }];
  }
  return undefined;
}

const ok = (o: Outcome): boolean => "result" in o && o.result === "ok";
const sameExit = (a: Outcome, b: Outcome): boolean => JSON.stringify(a) === JSON.stringify(b) && "result" in a && a.result === "exit";

/** After a vCPU access that exited: obey, retry, and check the retry got further (what the implementation answered). */
export async function obeyExits(m: Checker, checks: Checks): Promise<void> {
  const first = m.trace.at(-1)!;
  if (first.op.op !== "vcpu_access") return;
  const op = first.op;
  let last = first;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const fix = remedyOf(m.modelState, op, last);
    if (fix === undefined) return;
    for (const f of fix) {
      await m.apply(f);
      if (!ok(m.trace.at(-1)!.impl)) return;
    }
    await m.apply(op);
    const retry = m.trace.at(-1)!;
    // The same exit again is stuck unless the model says it now exits for a reason the VMM cannot act on (the same
    // outcome from another rule: a private access with no guest_memfd behind it after the conversion).
    const stuck = sameExit(retry.impl, last.impl) && (ok(retry.model) || remedyOf(m.modelState, op, retry) !== undefined);
    if (checksInvariant(checks, EXIT_PROGRESS) && stuck) {
      const detail = `the VMM did what the exit asked (${fix.map((f) => f.op).join(", ")}) and the retried access took the same exit`;
      throw new PropertyFailure({ property: EXIT_PROGRESS, step: m.ops.length - 1, expected: "the access gets further", actual: retry.impl, detail }, [...m.ops]);
    }
    last = retry;
  }
  if (checksInvariant(checks, EXIT_PROGRESS) && remedyOf(m.modelState, op, last) !== undefined) {
    const detail = `after ${MAX_ROUNDS} rounds of obeying its exits the access still exits`;
    throw new PropertyFailure({ property: EXIT_PROGRESS, step: m.ops.length - 1, expected: "the access completes", actual: last.impl, detail }, [...m.ops]);
  }
}

interface Shape {
  readonly config: Config;
  readonly vmType: number;
  /** Operations besides the layout's own (opArbitrary). */
  readonly extra?: fc.Arbitrary<Op>;
}

function progressSuite(name: string, description: string, layout: Layout, runs: number, shape: Shape = { config: PRESETS.default, vmType: 1 }): SequentialSuite & { afterStep: typeof obeyExits } {
  const { extra } = shape;
  const ops = (config: Config): fc.Arbitrary<Op> =>
    extra === undefined ? opArbitrary(layout, config) : fc.oneof({ weight: 4, arbitrary: opArbitrary(layout, config) }, { weight: 1, arbitrary: extra });
  const s = {
    name,
    description,
    kind: "sequential" as const,
    area: "kvm" as const,
    config: shape.config,
    layout,
    setup: setupOf(layout, shape.vmType),
    runs,
    maxCommands: 40,
    afterStep: obeyExits,
    run: (opts: Parameters<SequentialSuite["run"]>[0]) => runOpListSuite(s, ops, opts),
  };
  return s;
}

/**
 * HUGETLB's mapping unmapped and mapped again read-only (or writable): a guest write to a read-only VMA fails GUP,
 * the one exit arm64-memory-fault-info changes (user_mem_abort's is_error_noslot_pfn).
 */
const M1 = { op: "mmap", map: "m1", file: "f0", offset: 0, length: 32 * 1024 * 1024, shared: true } as const;
const protectM1 = fc.constantFrom<Op>({ op: "munmap", map: "m1" }, { ...M1, prot: "r" }, { ...M1, prot: "r" }, M1);

/** The KVM layouts with a VMM that obeys every memory-fault exit it can: USERFAULT and PRIVATE-mismatch exits. */
export const PROGRESS_SUITES = [
  progressSuite("exit-progress", "kvm-anon-x86's operations, with a VMM that obeys each USERFAULT or PRIVATE-mismatch exit and retries: the access gets further", ANON, 150),
  progressSuite("exit-progress-gmem", "kvm-gmem-x86's operations with the obeying VMM: private and shared faults on guest_memfd slots, late USERFAULT", GMEM, 150),
  progressSuite("exit-progress-arm64", "kvm-hugetlb-arm64's operations with the obeying VMM, and the mapping made read-only at times (GUP failures)", HUGETLB, 60, {
    config: PRESETS.arm64,
    vmType: 0,
    extra: protectM1,
  }),
];
