// One fd namespace (docs/VOCABULARY.md): VMs, guest_memfds, files and userfaultfds are all fds, and a name refers to the
// object it was last bound to, whatever its kind. Every field the kernel reads as an fd resolves here; the kernel then
// decides by what the file is (its file_operations and f_mode), so a name of the wrong kind gets that file's answer.
import { withoutEntry } from "./immutable.js";
import { rule, type Rule } from "./rules.js";
import type { MmState } from "./mm/types.js";
import type { State } from "./state.js";

export type FdKind = "vm" | "gmem" | "file" | "uffd";

export interface FdRef {
  readonly kind: FdKind;
  readonly id: number;
}

export const FD_RULES = {
  ioctlNone: rule(
    "fd.ioctl-enotty",
    "fs/ioctl.c (do_vfs_ioctl -> vfs_ioctl: no unlocked_ioctl, or file_ioctl's -ENOIOCTLCMD); mm/shmem.c, fs/hugetlbfs/inode.c, virt/kvm/guest_memfd.c (kvm_gmem_fops)",
    "a KVM or userfaultfd ioctl on a memfd, a hugetlbfs file or a guest_memfd, whose file operations do not know it",
    "ENOTTY",
  ),
  ioctlUffd: rule(
    "fd.ioctl-uffd-einval",
    "fs/userfaultfd.c (userfaultfd_ioctl: ret = -EINVAL, returned for a command it does not know)",
    "a KVM ioctl on a userfaultfd",
    "EINVAL",
  ),
  ioctlVmX86: rule(
    "fd.ioctl-vm-enotty",
    "virt/kvm/kvm_main.c (kvm_vm_ioctl: default -> kvm_arch_vm_ioctl); arch/x86/kvm/x86.c (kvm_arch_vm_ioctl: r = -ENOTTY)",
    "a userfaultfd or guest_memfd ioctl on a VM fd (x86)",
    "ENOTTY",
  ),
  ioctlVmArm64: rule(
    "fd.ioctl-vm-einval",
    "virt/kvm/kvm_main.c (kvm_vm_ioctl: default -> kvm_arch_vm_ioctl); arch/arm64/kvm/arm.c (kvm_arch_vm_ioctl: default -EINVAL)",
    "a userfaultfd or guest_memfd ioctl on a VM fd (arm64)",
    "EINVAL",
  ),
  mmapReadonly: rule(
    "fd.mmap-eacces",
    "mm/mmap.c (do_mmap: MAP_SHARED with PROT_WRITE needs FMODE_WRITE, after MAP_FIXED_NOREPLACE); fs/userfaultfd.c (new_userfaultfd: O_RDONLY)",
    "a writable MAP_SHARED mapping of an fd not open for writing (a userfaultfd, a memfd reopened O_RDONLY)",
    "EACCES",
  ),
  mmapNoHook: rule(
    "fd.mmap-enodev",
    "mm/mmap.c (do_mmap: !file_has_valid_mmap_hooks); virt/kvm/kvm_main.c (kvm_vm_fops), fs/userfaultfd.c (userfaultfd_fops): no .mmap",
    "mmap of a VM fd or a userfaultfd",
    "ENODEV",
  ),
  fallocReadonly: rule(
    "fd.fallocate-ebadf",
    "fs/open.c (vfs_fallocate: !(f_mode & FMODE_WRITE), after the mode checks)",
    "fallocate on an fd not open for writing: a userfaultfd (O_RDONLY), a memfd reopened O_RDONLY",
    "EBADF",
  ),
  fallocNotRegular: rule(
    "fd.fallocate-enodev",
    "fs/open.c (vfs_fallocate: !S_ISREG, before s_maxbytes); fs/libfs.c (alloc_anon_inode: no S_IFREG; guest_memfd sets it in __kvm_gmem_create)",
    "fallocate on a VM fd, an anon inode that is no regular file",
    "ENODEV",
  ),
  noPread: rule(
    "fd.pread-espipe",
    "fs/read_write.c (ksys_pread64, ksys_pwrite64: no FMODE_PREAD / FMODE_PWRITE); fs/file_table.c (alloc_file_pseudo sets neither; mm/memfd.c adds them for memfds)",
    "pread or pwrite on a VM fd, a guest_memfd or a userfaultfd",
    "ESPIPE",
  ),
};

/** What a name refers to now, or undefined when no open fd has it (never bound, closed). */
export function fdOf(s: State, name: string): FdRef | undefined {
  const vm = s.kvm.names.get(name);
  if (vm !== undefined) return { kind: "vm", id: vm };
  const gmem = s.gmem.names.get(name);
  if (gmem !== undefined) return { kind: "gmem", id: gmem };
  const file = s.mm.names.get(name);
  if (file !== undefined) return { kind: "file", id: file };
  const uffd = s.uffd.names.get(name);
  if (uffd !== undefined) return { kind: "uffd", id: uffd };
  return undefined;
}

/** A memfd name gone (closed or re-bound), with its access mode. */
export function withoutFileName(mm: MmState, name: string): MmState {
  const modes = mm.modes === undefined ? undefined : withoutEntry(mm.modes, name);
  const { modes: _old, ...rest } = mm;
  return { ...rest, names: withoutEntry(mm.names, name), ...(modes !== undefined && modes.size > 0 ? { modes } : {}) };
}

/** Binding a name takes it from what it named before; that fd stays open, unnamed (as the helper leaves it). */
export function unbindName(s: State, name: string): State {
  const ref = fdOf(s, name);
  if (ref === undefined) return s;
  switch (ref.kind) {
    case "vm":
      return { ...s, kvm: { ...s.kvm, names: withoutEntry(s.kvm.names, name) } };
    case "gmem":
      return { ...s, gmem: { ...s.gmem, names: withoutEntry(s.gmem.names, name) } };
    case "file":
      return { ...s, mm: withoutFileName(s.mm, name) };
    case "uffd":
      return { ...s, uffd: { ...s.uffd, names: withoutEntry(s.uffd.names, name) } };
  }
}

export type IoctlTarget = { readonly ok: true; readonly id: number } | { readonly ok: false; readonly rule: Rule };

/**
 * An ioctl on a named fd: the object, when the name is open and of the kind the ioctl is for; else fget's EBADF
 * (the caller's rule) or the answer of the file the name refers to.
 */
export function ioctlTarget(s: State, name: string, want: "vm" | "uffd" | "gmem", badFd: Rule): IoctlTarget {
  const ref = fdOf(s, name);
  if (ref === undefined) return { ok: false, rule: badFd };
  if (ref.kind === want) return { ok: true, id: ref.id };
  return { ok: false, rule: wrongIoctl(s, ref.kind) };
}

/** The answer of a file's ioctl handler to a command of another kind of fd. */
function wrongIoctl(s: State, actual: FdKind): Rule {
  switch (actual) {
    case "uffd":
      return FD_RULES.ioctlUffd;
    case "vm":
      return s.config.arch === "x86" ? FD_RULES.ioctlVmX86 : FD_RULES.ioctlVmArm64;
    case "gmem":
    case "file":
      return FD_RULES.ioctlNone;
  }
}
