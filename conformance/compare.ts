// One scenario through the model and the real kernel, step by step, with a verdict per step.
import { initial, step, type State } from "../model/index.js";
import { findSlot } from "../model/kvm/memslot.js";
import { UFFD_EVENT_RULES } from "../model/uffd/events.js";
import { resolveConfig, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { sameOutcome } from "../props/outcomes.js";
import type { Helper, Reply } from "./native.js";

export type Verdict =
  /** model and kernel gave the same outcome */
  | "agree"
  /** they differ: a bug in the model (or the impl it refines) to fix */
  | "disagree"
  /** the kernel cannot express this step (a proposal, or something the helper does not run); never a pass */
  | "model only"
  /** the model does not implement this op yet (faultline.not-modeled), or the state diverged after such a step or a model-only one */
  | "model not yet"
  /** a documented difference of this machine's kernel from the upstream kernel the model follows (deviations.ts) */
  | "deviation"
  /** the helper failed (a harness problem, counted as a failure) */
  | "error";

export interface StepReport {
  readonly index: number;
  readonly op: Op;
  readonly model: Outcome;
  readonly kernel: Reply;
  readonly verdict: Verdict;
  readonly reason?: string;
  /** The scenario's expected outcome where it differs from what the kernel did. */
  readonly expectMismatch?: Outcome;
}

/** A disagreement, a helper error, or a kernel outcome the file did not expect (a documented deviation explains its own). */
export const isFailure = (r: StepReport): boolean => r.verdict === "disagree" || r.verdict === "error" || (r.expectMismatch !== undefined && r.verdict !== "deviation");

const NOT_MODELED = "faultline.not-modeled";
/** A step that would raise a userfaultfd event nobody reads: the kernel blocks it in userfaultfd_event_wait_completion. */
const EVENT = UFFD_EVENT_RULES.notModeled.id;

interface Deviation {
  readonly id: string;
  readonly reason: string;
  /** Whether later steps may see different state after it (they are then reported "model not yet"/"deviation"). */
  readonly diverges: boolean;
  applies(pre: State, op: Op, fired: readonly string[], model: Outcome, kernel: Reply): boolean;
}

/**
 * Differences of this machine's kernel (Linux 6.18 with the kvm_pvm shadow-paging module, "6.18.44-fc") from the
 * upstream 6.18 the model follows. Each is documented with its evidence in docs/CONFORMANCE.md.
 */
export const DEVIATIONS: readonly Deviation[] = [
  {
    id: "pvm-gup-failure-is-mmio",
    reason:
      "upstream x86 fails KVM_RUN with a bare EFAULT when the slot's host page cannot be faulted in (arch/x86/kvm/mmu/mmu.c kvm_handle_error_pfn); this machine's PVM kernel emulates the access and exits with KVM_EXIT_MMIO",
    diverges: false,
    applies: (_pre, op, fired, model, kernel) =>
      op.op === "vcpu_access" && fired.includes("fault.gup-efault") && sameOutcome(model, { errno: "EFAULT" }) && kernel.result === "exit" && kernel.exit === "mmio",
  },
  {
    id: "pvm-no-gmem-only-faults",
    reason:
      "upstream 6.18 sends shared faults on a slot bound to an MMAP guest_memfd (KVM_MEMSLOT_GMEM_ONLY) to guest_memfd (arch/x86/kvm/mmu/mmu.c __kvm_mmu_faultin_pfn, v6.18.38); this machine's PVM kernel reads and writes the slot's userspace_addr instead",
    diverges: true,
    applies: (pre, op) => {
      if (op.op !== "vcpu_access") return false;
      const vmId = pre.kvm.names.get(op.vm);
      const vm = vmId === undefined ? undefined : pre.kvm.vms[vmId];
      const slot = vm === undefined ? undefined : findSlot(vm, 0, Math.floor(op.gpa / 4096));
      return slot !== undefined && slot.gmemOnly;
    },
  },
];

/** What the helper answered, as an outcome, or the reason it is not one. */
function kernelOutcome(r: Reply): { outcome?: Outcome; unsupported?: string; error?: string } {
  if (typeof r.unsupported === "string") return { unsupported: r.unsupported };
  if (typeof r.helper_error === "string") return { error: r.helper_error };
  return { outcome: r as Outcome };
}

export interface RunOptions {
  /** Called after each step (the CLI prints as it goes). */
  readonly onStep?: (r: StepReport) => void;
  /** Stop at the first failing step (the random suite). */
  readonly stopAtFailure?: boolean;
}

/** Runs steps on a fresh kernel state (the helper is reset first) and the model side by side. */
export async function runSteps(helper: Helper, config: Config, steps: readonly Op[], expect: readonly (Outcome | null)[] = [], opts: RunOptions = {}): Promise<StepReport[]> {
  const reset = await helper.send({ op: "__reset" });
  if (reset.result !== "reset") throw new Error(`helper reset failed: ${JSON.stringify(reset)}`);
  await helper.send({ op: "__hello", vcpus: config.vcpus });
  let state = initial(config);
  let divergedAt: { index: number; why: string } | undefined;
  const reports: StepReport[] = [];
  for (const [index, op] of steps.entries()) {
    const m = step(state, op);
    const reply = m.fired.includes(EVENT)
      ? { unsupported: "it raises a userfaultfd event the model does not cover: the kernel would block until a reader takes it" }
      : await helper.send(op);
    const k = kernelOutcome(reply);
    let verdict: Verdict;
    let reason: string | undefined;
    if (k.error !== undefined) {
      verdict = "error";
      reason = k.error;
    } else if (k.unsupported !== undefined) {
      verdict = "model only";
      reason = k.unsupported;
      // The kernel did not run a step that changed the model's state (a memslot update while a vCPU sleeps in a
      // userfault, D6): from here on the two states may differ.
      if (divergedAt === undefined && m.state !== state) divergedAt = { index, why: `only the model ran ${op.op}` };
    } else if (m.fired.includes(NOT_MODELED)) {
      verdict = "model not yet";
      reason = "the model does not implement this op yet (faultline.not-modeled)";
      if (divergedAt === undefined && !("errno" in k.outcome!)) divergedAt = { index, why: `${op.op} is not modeled yet` };
    } else if (sameOutcome(m.outcome, k.outcome)) {
      verdict = "agree";
    } else {
      const dev = DEVIATIONS.find((d) => d.applies(state, op, m.fired, m.outcome, reply));
      if (dev !== undefined) {
        verdict = "deviation";
        reason = `${dev.id}: ${dev.reason}`;
        if (dev.diverges && divergedAt === undefined) divergedAt = { index, why: dev.id };
      } else if (divergedAt !== undefined) {
        verdict = "model not yet";
        reason = `state diverged at step ${divergedAt.index} (${divergedAt.why})`;
      } else {
        verdict = "disagree";
      }
    }
    const expected = expect[index];
    const expectMismatch = expected != null && k.outcome !== undefined && !sameOutcome(expected, k.outcome) ? expected : undefined;
    const r: StepReport = { index, op, model: m.outcome, kernel: reply, verdict, ...(reason === undefined ? {} : { reason }), ...(expectMismatch === undefined ? {} : { expectMismatch }) };
    reports.push(r);
    opts.onStep?.(r);
    state = m.state;
    if (opts.stopAtFailure && isFailure(r)) break;
  }
  return reports;
}

export const configOf = (input: Parameters<typeof resolveConfig>[0]): Config => resolveConfig(input);
