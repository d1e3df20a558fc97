// Dirty logging's two promises, which together say no write is lost: a page the guest can write without a fault
// is already reported dirty, and a write that completed leaves its page's bit set until GET or CLEAR takes it.
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { LEVEL_PAGES, gfnOf } from "../consts.js";
import type { StateInvariant, StepInvariant, Verdict } from "../invariants.js";
import { get, spans } from "../ranges.js";
import { findSlot } from "./memslot.js";

const ok = (nonVacuous: boolean): Verdict => ({ holds: true, nonVacuous });
const broken = (detail: string): Verdict => ({ holds: false, nonVacuous: true, detail });

/**
 * Write-protect mode's contract: KVM learns of a write only through the fault that makes the page writable, so a
 * writable mapping (a huge one: all its pages) in a logged slot must find every page it maps already marked.
 * Quiescent: a FLAGS_ONLY change that turns logging on publishes the slot before it write-protects.
 */
const writableMarked: StateInvariant = {
  name: "dirty-log-writable-marked",
  kind: "state",
  when: "quiescent",
  description: "in a slot with dirty logging on, every page a writable stage-2 mapping reaches has its dirty bit set",
  check: (s) => {
    let any = false;
    for (const [i, vm] of s.kvm.vms.entries()) {
      for (const slot of vm.slots) {
        const bits = vm.dirty.get(slot.slot);
        if (bits === undefined) continue;
        for (const span of spans(vm.stage2[slot.as] ?? [], slot.baseGfn, slot.baseGfn + slot.npages)) {
          if (!span.value.writable) continue;
          any = true;
          const n = LEVEL_PAGES[span.value.level];
          const from = Math.max(Math.floor(span.start / n) * n, slot.baseGfn);
          const to = Math.min(Math.ceil(span.end / n) * n, slot.baseGfn + slot.npages);
          for (let g = from; g < to; g++) {
            if (get(bits, g - slot.baseGfn) !== true) return broken(`vm#${i} slot ${slot.slot}: gfn ${g} is writable (level ${span.value.level}) but not marked dirty`);
          }
        }
      }
    }
    return ok(any);
  },
};

const completedWrite = (op: Op, outcome: Outcome): op is Extract<Op, { op: "vcpu_access" | "kvm_access" }> =>
  (op.op === "vcpu_access" || op.op === "kvm_access") && op.kind === "write" && "result" in outcome && outcome.result === "ok";

const writeMarked: StepInvariant = {
  name: "dirty-log-write-marked",
  kind: "step",
  description: "a guest or KVM write that completed in a slot with dirty logging on leaves the page's dirty bit set",
  check: (_pre, op, outcome, post) => {
    if (!completedWrite(op, outcome)) return ok(false);
    const vmId = post.kvm.names.get(op.vm);
    const vm = vmId === undefined ? undefined : post.kvm.vms[vmId];
    const gfn = gfnOf(op.gpa);
    const slot = vm === undefined ? undefined : findSlot(vm, 0, gfn);
    const bits = slot === undefined ? undefined : vm!.dirty.get(slot.slot);
    if (bits === undefined) return ok(false);
    if (get(bits, gfn - slot!.baseGfn) !== true) return broken(`${op.op} wrote gfn ${gfn} in slot ${slot!.slot}, which logs dirty pages, and left its bit clear`);
    return ok(true);
  },
};

export const DIRTY_STATE_INVARIANTS: readonly StateInvariant[] = [writableMarked];
export const DIRTY_STEP_INVARIANTS: readonly StepInvariant[] = [writeMarked];
