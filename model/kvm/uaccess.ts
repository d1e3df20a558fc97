// KVM's own accesses to guest memory: kvm_vcpu_read_guest / kvm_vcpu_write_guest through the memslot's hva (PV clock,
// steal time, nested state, an ioctl), and the x86 emulator's reads, writes and instruction fetches, which use them.
// They never take a stage-2 fault, so KVM Userfault's bitmap is not consulted: that is left to userfaultfd.
import type { OpOf } from "../../schema/ops.js";
import { outside } from "../bound.js";
import { PAGE_SIZE, gfnOf } from "../consts.js";
import { DIRECT_MAP_RULES } from "../gmem/direct-map.js";
import { gmemHostFault } from "../gmem/file.js";
import { replaceAt } from "../immutable.js";
import { handleMmFault } from "../mm/fault.js";
import { locate, readAt, writeAt } from "../mm/pages.js";
import { rule, type Rule } from "../rules.js";
import { refuse, result, type State, type StepResult } from "../state.js";
import { blockedOutcome } from "../uffd/thread.js";
import { FAULT_PATH_RULES, VCPU_BOUNDS } from "./fault.js";
import { DIRTY_LOG_RULES, markPageDirty } from "./dirty-log.js";
import { findSlot } from "./memslot.js";
import { hasFlag, hvaOf } from "./mmu.js";
import { VM_RULES } from "./vm.js";

const MAIN = "virt/kvm/kvm_main.c";
const X86 = "arch/x86/kvm/x86.c";
const V3_COVER = "[PATCH v3 00/15] KVM: Introduce KVM Userfault, 20250618042424.330664-1-jthoughton@google.com";

export const UACCESS_RULES = {
  noHva: rule("uaccess.no-hva", `${MAIN} (__gfn_to_hva_many: no slot or KVM_MEMSLOT_INVALID, KVM_HVA_ERR_BAD; __kvm_read_guest_page)`, "no memslot covers the gfn: the hva is an error, the copy -EFAULT", "EFAULT"),
  readonly: rule("uaccess.readonly", `${MAIN} (__gfn_to_hva_many: KVM_HVA_ERR_RO_BAD; __kvm_write_guest_page)`, "a write into a READONLY memslot: the hva is an error, -EFAULT", "EFAULT"),
  copyFailed: rule("uaccess.copy-efault", `${MAIN} (__kvm_read_guest_page, __kvm_write_guest_page: __copy_from_user / __copy_to_user)`, "the uaccess faults and the fault fails (no VMA, protection, SIGBUS): -EFAULT", "EFAULT"),
  copy: rule("uaccess.copy", `${MAIN} (__kvm_read_guest_page, __kvm_write_guest_page)`, "KVM copies the bytes through the slot's hva, faulting the host page in as a kernel-mode uaccess"),
  userfaultIgnored: rule("uaccess.userfault-not-checked", `${V3_COVER}: "KVM Userfault does not attempt to catch KVM's own accesses to guest memory. That is left up to userfaultfd."`, "the slot's USERFAULT bitmap is not consulted for KVM's own access"),
  sleep: rule("uaccess.userfault-sleep", "fs/userfaultfd.c (handle_userfault: a uaccess fault without FAULT_FLAG_USER sleeps unless UFFD_USER_MODE_ONLY)", "the uaccess hits a userfault: the vCPU thread sleeps until the VMM resolves it"),
  emulateMmio: rule("uaccess.emulate-mmio", `${X86} (emulator_read_write_onepage: read_emulate / write_emulate fail, goto mmio)`, "an emulated load or store whose guest copy fails is emulated as MMIO: KVM_EXIT_MMIO"),
  emulateFetch: rule(
    "uaccess.emulate-fetch",
    `${X86} (kvm_fetch_guest_virt: X86EMUL_IO_NEEDED; x86_emulate_instruction, handle_emulation_failure: ` +
      "KVM_EXIT_INTERNAL_ERROR at CPL 0 outside guest mode or with KVM_CAP_EXIT_ON_EMULATION_FAILURE, else #UD into the guest)",
    "the emulator cannot fetch the guest kernel's instruction (CPL 0, not nested): KVM_EXIT_INTERNAL_ERROR (KVM_INTERNAL_ERROR_EMULATION)",
  ),
  noEmulator: rule(
    "uaccess.no-emulator-arm64",
    "arch/arm64/kvm/mmio.c (io_mem_abort: MMIO is decoded from ESR_EL2, no instruction emulator); " +
      "docs/VOCABULARY.md (kvm_access: emulate or exec on arm64 is ENOTTY)",
    "arm64 has no instruction emulator that reads guest memory",
    "ENOTTY",
  ),
};

const fetch = (op: OpOf<"kvm_access">): boolean => op.kind === "exec";

/** What a failed guest copy becomes: -EFAULT from kvm_vcpu_{read,write}_guest, or the emulator's fallback. */
function failed(s: State, op: OpOf<"kvm_access">, why: readonly Rule[]): StepResult {
  if (op.emulate !== true && !fetch(op)) return refuse(s, why[0]!, ...why.slice(1));
  if (fetch(op)) return result(s, { result: "exit", exit: "internal_error", gpa: op.gpa }, ...why, UACCESS_RULES.emulateFetch);
  return result(s, { result: "exit", exit: "mmio", gpa: op.gpa, write: op.kind === "write" }, ...why, UACCESS_RULES.emulateMmio);
}

/** kvm_vcpu_read_guest / kvm_vcpu_write_guest of one byte (kind exec: the emulator's instruction fetch). */
export function kvmAccess(s: State, op: OpOf<"kvm_access">): StepResult {
  const vmId = s.kvm.names.get(op.vm);
  if (vmId === undefined) return refuse(s, VM_RULES.badFd);
  if (outside(VCPU_BOUNDS.vcpu, s, op)) return refuse(s, FAULT_PATH_RULES.badVcpu);
  if (s.config.arch === "arm64" && (op.emulate === true || fetch(op))) return refuse(s, UACCESS_RULES.noEmulator);
  const write = op.kind === "write";
  const gfn = gfnOf(op.gpa);
  const slot = findSlot(s.kvm.vms[vmId]!, 0, gfn);
  if (slot === undefined) return failed(s, op, [UACCESS_RULES.noHva]);
  if (write && hasFlag(slot, "READONLY")) return failed(s, op, [UACCESS_RULES.readonly]);
  const uf: readonly Rule[] = hasFlag(slot, "USERFAULT") ? [UACCESS_RULES.userfaultIgnored] : [];
  const at = locate(s, hvaOf(slot, gfn));
  if (at === undefined) return failed(s, op, [UACCESS_RULES.copyFailed, ...uf]);
  const inPage = op.gpa % PAGE_SIZE;
  const host = handleMmFault(s, at.map, at.index, write, gmemHostFault, { inPage, user: false });
  if (host.kind === "signal") return failed(host.state ?? s, op, [UACCESS_RULES.copyFailed, ...uf, ...host.fired]);
  if (host.kind === "userfault") return { ...result(host.state, blockedOutcome(host.state, host.msg), ...uf, ...host.fired, UACCESS_RULES.sleep), blocked: host.msg };
  // A NO_DIRECT_MAP guest_memfd behind the hva: the uaccess is how KVM reaches it at all.
  const backing = at.map.backing;
  const secret = backing.kind === "gmem" && s.gmem.inodes[backing.inode]!.flags.includes("NO_DIRECT_MAP") ? [DIRECT_MAP_RULES.uaccess] : [];
  const fired = [...uf, ...host.fired, ...secret, UACCESS_RULES.copy];
  if (write) {
    // __kvm_write_guest_page: mark_page_dirty_in_slot after the copy.
    const written = writeAt(host.state, host.ref, inPage, inPage + 1, op.byte ?? 0);
    const vm = written.kvm.vms[vmId]!;
    if (!vm.dirty.has(slot.slot)) return result(written, { result: "ok" }, ...fired);
    const marked = { ...written, kvm: { ...written.kvm, vms: replaceAt(written.kvm.vms, vmId, markPageDirty(vm, slot, gfn)) } };
    return result(marked, { result: "ok" }, ...fired, DIRTY_LOG_RULES.mark);
  }
  return result(host.state, { result: "ok", value: readAt(host.state, host.ref, inPage) }, ...fired);
}
