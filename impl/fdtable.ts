// The process's fd table (files_struct): VMs, guest_memfds, files and userfaultfds in one namespace of scenario names.
// A name refers to the object it was last installed as; every fd field of an op is looked up here, and an fd of the
// wrong kind gets the answer of the file it is (its file_operations), not EBADF.
import type { Errno } from "../schema/outcome.js";

export type FdKind = "vm" | "gmem" | "file" | "uffd";

export interface FdEntry {
  readonly kind: FdKind;
  readonly id: number;
  /** An fd opened O_RDONLY or O_WRONLY (a memfd reopened through /proc/self/fd); absent for O_RDWR. */
  readonly mode?: "r" | "w";
}

export class FdTable {
  private readonly entries = new Map<string, FdEntry>();

  /** `displaced` hears of an object whose name was taken by a new one: its fd stays open, unnamed. */
  constructor(private readonly displaced: (e: FdEntry) => void = () => undefined) {}

  get(name: string): FdEntry | undefined {
    return this.entries.get(name);
  }

  /** The id of the object `name` refers to, if it is of this kind. */
  of(name: string, kind: FdKind): number | undefined {
    const e = this.entries.get(name);
    return e?.kind === kind ? e.id : undefined;
  }

  /** fd_install under a name: the name now refers to this object. */
  install(name: string, kind: FdKind, id: number, mode?: "r" | "w"): void {
    const old = this.entries.get(name);
    this.entries.delete(name);
    this.entries.set(name, mode === undefined ? { kind, id } : { kind, id, mode });
    if (old !== undefined) this.displaced(old);
  }

  /** close_fd: the name refers to nothing from now on. */
  close(name: string): FdEntry | undefined {
    const e = this.entries.get(name);
    this.entries.delete(name);
    return e;
  }

  /** The names whose fd is not O_RDWR, with their mode. */
  modes(): Map<string, "r" | "w"> {
    return new Map([...this.entries].flatMap(([n, e]) => (e.mode === undefined ? [] : [[n, e.mode] as const])));
  }

  /** The names of one kind of object, as the abstraction's per-subsystem name maps. */
  names(kind: FdKind): Map<string, number> {
    return new Map([...this.entries].filter(([, e]) => e.kind === kind).map(([n, e]) => [n, e.id]));
  }
}

/**
 * An ioctl meant for `want` on an fd of another kind: userfaultfd_ioctl answers EINVAL, kvm_vm_ioctl passes it to
 * kvm_arch_vm_ioctl (x86 ENOTTY, arm64 EINVAL), and memfd, hugetlbfs and guest_memfd files have no such ioctl (ENOTTY).
 */
export function wrongIoctl(e: FdEntry, arch: "x86" | "arm64"): Errno {
  if (e.kind === "uffd") return "EINVAL";
  if (e.kind === "vm") return arch === "x86" ? "ENOTTY" : "EINVAL";
  return "ENOTTY";
}

/** What an ioctl meant for `want` reaches through `name`: the object's id, or the errno. */
export function ioctlFd(fds: FdTable, name: string, want: FdKind, arch: "x86" | "arm64"): { readonly id: number } | { readonly errno: Errno } {
  const e = fds.get(name);
  if (e === undefined) return { errno: "EBADF" };
  return e.kind === want ? { id: e.id } : { errno: wrongIoctl(e, arch) };
}
