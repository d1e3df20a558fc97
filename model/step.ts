// step(state, op): the model's single entry point, pure and total.
import { match } from "ts-pattern";
import type { Op, OpOf } from "../schema/ops.js";
import { gmemConvert } from "./gmem/convert.js";
import { gmemFallocate } from "./gmem/fallocate.js";
import { closeGmem, createGmem, gmemAlias, gmemHostFault, gmemMmap } from "./gmem/file.js";
import { pin, unpin } from "./gmem/pin.js";
import { setMemoryAttributes } from "./kvm/attributes.js";
import { vcpuAccess } from "./kvm/fault.js";
import { setMemoryRegion } from "./kvm/memslot.js";
import { userfaultWrite } from "./kvm/userfault.js";
import { checkExtension, closeVm, createVm } from "./kvm/vm.js";
import { access, aliasAccess, closeFile, fileFallocate, madvise, memfd, mmap, munmap, pread, pwrite } from "./mm/ops.js";
import { rule } from "./rules.js";
import { refuse, type State, type StepResult } from "./state.js";

export const STEP_RULES = {
  notModeled: rule("faultline.not-modeled", "docs/VOCABULARY.md", "this operation is not modeled yet", "ENOTTY"),
  closeNothing: rule("close.ebadf", "fs/file.c (close_fd)", "close names no open fd", "EBADF"),
};

const notModeled = (s: State): StepResult => refuse(s, STEP_RULES.notModeled);

function close(s: State, op: OpOf<"close">): StepResult {
  if (op.vm !== undefined) return closeVm(s, op.vm);
  if (op.gmem !== undefined) return closeGmem(s, op.gmem);
  if (op.file !== undefined) return closeFile(s, op.file);
  if (op.uffd !== undefined) return notModeled(s);
  return refuse(s, STEP_RULES.closeNothing);
}

export function step(s: State, op: Op): StepResult {
  return match(op)
    .with({ op: "create_vm" }, (o) => createVm(s, o))
    .with({ op: "check_extension" }, (o) => checkExtension(s, o))
    .with({ op: "create_gmem" }, (o) => createGmem(s, o))
    .with({ op: "set_memory_region" }, (o) => setMemoryRegion(s, o))
    .with({ op: "userfault_set" }, { op: "userfault_clear" }, (o) => userfaultWrite(s, o))
    .with({ op: "set_memory_attributes" }, (o) => setMemoryAttributes(s, o))
    .with({ op: "vcpu_access" }, (o) => vcpuAccess(s, o))
    .with({ op: "memfd" }, (o) => memfd(s, o))
    .with({ op: "mmap" }, (o) => mmap(s, o))
    .with({ op: "munmap" }, (o) => munmap(s, o))
    .with({ op: "access" }, (o) => access(s, o, gmemHostFault))
    .with({ op: "write_alias" }, { op: "read_alias" }, (o) => aliasAccess(s, o, gmemAlias))
    .with({ op: "pwrite" }, (o) => pwrite(s, o))
    .with({ op: "pread" }, (o) => pread(s, o))
    .with({ op: "madvise" }, (o) => madvise(s, o))
    .with({ op: "file_fallocate" }, (o) => fileFallocate(s, o))
    .with({ op: "close" }, (o) => close(s, o))
    .with({ op: "gmem_mmap" }, (o) => gmemMmap(s, o))
    .with({ op: "gmem_fallocate" }, (o) => gmemFallocate(s, o))
    .with({ op: "gmem_convert" }, (o) => gmemConvert(s, o))
    .with({ op: "pin" }, (o) => pin(s, o))
    .with({ op: "unpin" }, (o) => unpin(s, o))
    .with(
      { op: "uffd_open" },
      { op: "uffd_register" },
      { op: "uffd_unregister" },
      { op: "wake_check" },
      { op: "uffdio_continue" },
      { op: "uffdio_copy" },
      { op: "uffdio_zeropage" },
      { op: "uffdio_poison" },
      { op: "uffdio_writeprotect" },
      { op: "uffdio_wake" },
      () => notModeled(s),
    )
    .exhaustive();
}
