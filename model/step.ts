// step(state, op): the model's single entry point, pure and total.
import type { Op, OpOf } from "../schema/ops.js";
import { gmemConvert } from "./gmem/convert.js";
import { FALLOCATE_RULES, fallocateInode } from "./gmem/fallocate.js";
import { GMEM_RULES, closeGmem, createGmem, gmemAlias, gmemHostFault, gmemMmap, releaseUnmapped } from "./gmem/file.js";
import { pin, unpin } from "./gmem/pin.js";
import { gmemState } from "./gmem/state-query.js";
import { gmemWrite } from "./gmem/write.js";
import { setMemoryAttributes } from "./kvm/attributes.js";
import { clearDirtyLog, enableCap, getDirtyLog } from "./kvm/dirty-log.js";
import { vcpuAccess } from "./kvm/fault.js";
import { vcpuHypercall } from "./kvm/hypercall.js";
import { kvmAccess } from "./kvm/uaccess.js";
import { setMemoryRegion } from "./kvm/memslot.js";
import { userfaultRescan } from "./kvm/rescan.js";
import { userfaultWrite } from "./kvm/userfault.js";
import { checkExtension, closeVm, createVm } from "./kvm/vm.js";
import { fdOf } from "./fd.js";
import { MM_RULES, access, aliasAccess, closeFile, fallocate, madvise, memfd, mmap, mmapArgs, munmap, pread, pwrite, reopen } from "./mm/ops.js";
import { mincore } from "./mm/mincore.js";
import { rule } from "./rules.js";
import { refuse, type State, type StepResult } from "./state.js";
import { closeUffd, uffdCreate, uffdioApi, uffdOpen } from "./uffd/ctx.js";
import { mfill, wake, writeprotect } from "./uffd/ioctl.js";
import { uffdioMove } from "./uffd/move.js";
import { uffdRegister, uffdUnregister } from "./uffd/register.js";
import { runThread, wakeCheck, type ThreadRunner } from "./uffd/thread.js";

export const STEP_RULES = {
  notModeled: rule("faultline.not-modeled", "docs/VOCABULARY.md", "this operation is not modeled yet", "ENOTTY"),
  closeNothing: rule("close.ebadf", "fs/file.c (close_fd)", "close names no open fd, whichever field it is in", "EBADF"),
};

/** One access of a thread, as first run and as retried after a userfault wakeup. */
const runAccess: ThreadRunner = (s, op) => {
  switch (op.op) {
    case "access":
      return access(s, op, gmemHostFault);
    case "vcpu_access":
      return vcpuAccess(s, op);
    case "kvm_access":
      return kvmAccess(s, op);
  }
};

/** close(2) takes any fd: the field a scenario names it in does not matter, what the name refers to does. */
function close(s: State, op: OpOf<"close">): StepResult {
  const name = op.vm ?? op.gmem ?? op.file ?? op.uffd;
  const ref = name === undefined ? undefined : fdOf(s, name);
  if (name === undefined || ref === undefined) return refuse(s, STEP_RULES.closeNothing);
  switch (ref.kind) {
    case "vm":
      return closeVm(s, name);
    case "gmem":
      return closeGmem(s, name);
    case "file":
      return closeFile(s, name);
    case "uffd":
      return closeUffd(s, name, runAccess);
  }
}

/** One exhaustive switch on the op's name: a plain jump (ts-pattern's match cost about a fifth of a conversion). */
export function step(s: State, op: Op): StepResult {
  switch (op.op) {
    case "create_vm":
      return createVm(s, op);
    case "check_extension":
      return checkExtension(s, op);
    case "create_gmem":
      return createGmem(s, op);
    case "set_memory_region":
      return setMemoryRegion(s, op);
    case "userfault_set":
    case "userfault_clear":
      return userfaultWrite(s, op);
    case "userfault_rescan":
      return userfaultRescan(s, op);
    case "set_memory_attributes":
      return setMemoryAttributes(s, op);
    case "enable_cap":
      return enableCap(s, op);
    case "get_dirty_log":
      return getDirtyLog(s, op);
    case "clear_dirty_log":
      return clearDirtyLog(s, op);
    case "vcpu_access":
    case "kvm_access":
      return runThread(s, op, runAccess);
    case "vcpu_hypercall":
      return vcpuHypercall(s, op);
    case "memfd":
      return memfd(s, op);
    case "reopen":
      return reopen(s, op);
    case "mmap":
      return mmap(s, mmapArgs(op), gmemMmap);
    case "munmap":
      return releaseUnmapped(s, munmap(s, op), op.map);
    case "access":
      return runThread(s, op, runAccess);
    case "write_alias":
    case "read_alias":
      return aliasAccess(s, op, gmemAlias);
    case "pwrite":
      return pwrite(s, op);
    case "pread":
      return pread(s, op);
    case "mincore":
      return mincore(s, op) ?? refuse(s, STEP_RULES.notModeled);
    case "madvise":
      return madvise(s, op, (st, inode, offset, len) => fallocateInode(st, inode, ["PUNCH_HOLE", "KEEP_SIZE"], offset, len));
    case "file_fallocate":
      return fallocate(s, { fd: op.file, mode: op.mode, offset: op.offset, len: op.len, badFd: MM_RULES.badFd }, fallocateInode);
    case "close":
      return close(s, op);
    case "gmem_mmap":
      return mmap(s, { map: op.map, fd: op.gmem, offset: op.offset, length: op.length, shared: op.shared ?? true, prot: "rw", badFd: GMEM_RULES.mmapBadFd }, gmemMmap);
    case "gmem_fallocate":
      return fallocate(s, { fd: op.gmem, mode: op.mode, offset: op.offset, len: op.len, badFd: FALLOCATE_RULES.badFd }, (st, id, mode, offset, len) =>
        fallocateInode(st, id, mode, offset, len, op.fail_nth),
      );
    case "gmem_convert":
      return gmemConvert(s, op);
    case "gmem_state":
      return gmemState(s, op);
    case "gmem_write":
      return gmemWrite(s, op);
    case "pin":
      return pin(s, op);
    case "unpin":
      return unpin(s, op);
    case "uffd_open":
      return uffdOpen(s, op);
    case "uffd_create":
      return uffdCreate(s, op);
    case "uffdio_api":
      return uffdioApi(s, op);
    case "uffd_register":
      return uffdRegister(s, op);
    case "uffd_unregister":
      return uffdUnregister(s, op, runAccess);
    case "wake_check":
      return wakeCheck(s, op);
    case "uffdio_continue":
    case "uffdio_copy":
    case "uffdio_zeropage":
    case "uffdio_poison":
      return mfill(s, op, runAccess);
    case "uffdio_writeprotect":
      return writeprotect(s, op, runAccess);
    case "uffdio_wake":
      return wake(s, op, runAccess);
    case "uffdio_move":
      return uffdioMove(s, op, runAccess);
  }
}
