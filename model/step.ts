// step(state, op): the model's single entry point, pure and total.
import { match } from "ts-pattern";
import type { Op, OpOf } from "../schema/ops.js";
import { gmemConvert } from "./gmem/convert.js";
import { FALLOCATE_RULES, fallocateInode } from "./gmem/fallocate.js";
import { GMEM_RULES, closeGmem, createGmem, gmemAlias, gmemHostFault, gmemMmap, releaseUnmapped } from "./gmem/file.js";
import { pin, unpin } from "./gmem/pin.js";
import { setMemoryAttributes } from "./kvm/attributes.js";
import { vcpuAccess } from "./kvm/fault.js";
import { kvmAccess } from "./kvm/uaccess.js";
import { setMemoryRegion } from "./kvm/memslot.js";
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
const runAccess: ThreadRunner = (s, op) =>
  match(op)
    .with({ op: "access" }, (o) => access(s, o, gmemHostFault))
    .with({ op: "vcpu_access" }, (o) => vcpuAccess(s, o))
    .with({ op: "kvm_access" }, (o) => kvmAccess(s, o))
    .exhaustive();

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

export function step(s: State, op: Op): StepResult {
  return match(op)
    .with({ op: "create_vm" }, (o) => createVm(s, o))
    .with({ op: "check_extension" }, (o) => checkExtension(s, o))
    .with({ op: "create_gmem" }, (o) => createGmem(s, o))
    .with({ op: "set_memory_region" }, (o) => setMemoryRegion(s, o))
    .with({ op: "userfault_set" }, { op: "userfault_clear" }, (o) => userfaultWrite(s, o))
    .with({ op: "set_memory_attributes" }, (o) => setMemoryAttributes(s, o))
    .with({ op: "vcpu_access" }, { op: "kvm_access" }, (o) => runThread(s, o, runAccess))
    .with({ op: "memfd" }, (o) => memfd(s, o))
    .with({ op: "reopen" }, (o) => reopen(s, o))
    .with({ op: "mmap" }, (o) => mmap(s, mmapArgs(o), gmemMmap))
    .with({ op: "munmap" }, (o) => releaseUnmapped(s, munmap(s, o), o.map))
    .with({ op: "access" }, (o) => runThread(s, o, runAccess))
    .with({ op: "write_alias" }, { op: "read_alias" }, (o) => aliasAccess(s, o, gmemAlias))
    .with({ op: "pwrite" }, (o) => pwrite(s, o))
    .with({ op: "pread" }, (o) => pread(s, o))
    .with({ op: "mincore" }, (o) => mincore(s, o) ?? refuse(s, STEP_RULES.notModeled))
    .with({ op: "madvise" }, (o) => madvise(s, o, (st, inode, offset, len) => fallocateInode(st, inode, ["PUNCH_HOLE", "KEEP_SIZE"], offset, len)))
    .with({ op: "file_fallocate" }, (o) => fallocate(s, { fd: o.file, mode: o.mode, offset: o.offset, len: o.len, badFd: MM_RULES.badFd }, fallocateInode))
    .with({ op: "close" }, (o) => close(s, o))
    .with({ op: "gmem_mmap" }, (o) => mmap(s, { map: o.map, fd: o.gmem, offset: o.offset, length: o.length, shared: o.shared ?? true, prot: "rw", badFd: GMEM_RULES.mmapBadFd }, gmemMmap))
    .with({ op: "gmem_fallocate" }, (o) => fallocate(s, { fd: o.gmem, mode: o.mode, offset: o.offset, len: o.len, badFd: FALLOCATE_RULES.badFd }, fallocateInode))
    .with({ op: "gmem_convert" }, (o) => gmemConvert(s, o))
    .with({ op: "pin" }, (o) => pin(s, o))
    .with({ op: "unpin" }, (o) => unpin(s, o))
    .with({ op: "uffd_open" }, (o) => uffdOpen(s, o))
    .with({ op: "uffd_create" }, (o) => uffdCreate(s, o))
    .with({ op: "uffdio_api" }, (o) => uffdioApi(s, o))
    .with({ op: "uffd_register" }, (o) => uffdRegister(s, o))
    .with({ op: "uffd_unregister" }, (o) => uffdUnregister(s, o, runAccess))
    .with({ op: "wake_check" }, (o) => wakeCheck(s, o))
    .with({ op: "uffdio_continue" }, { op: "uffdio_copy" }, { op: "uffdio_zeropage" }, { op: "uffdio_poison" }, (o) => mfill(s, o, runAccess))
    .with({ op: "uffdio_writeprotect" }, (o) => writeprotect(s, o, runAccess))
    .with({ op: "uffdio_wake" }, (o) => wake(s, o, runAccess))
    .with({ op: "uffdio_move" }, (o) => uffdioMove(s, o, runAccess))
    .exhaustive();
}
