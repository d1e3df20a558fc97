// createSystem(config, hooks): the implementation's "kernel" with the scenario's fd tables, one exec per op.
import type { State } from "../model/state.js";
import type { Config } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import { BUS_ADRERR, type Outcome } from "../schema/outcome.js";
import { Abstraction } from "./abstraction.js";
import { bugsOf, type Bugs } from "./bugs.js";
import { costsOf, type CostCounts } from "./costs.js";
import { gmemConvert, gmemShouldSetAttributes } from "./gmem/convert.js";
import { gmemOwnsAttributes } from "./gmem/design.js";
import { FdTable, ioctlFd, type FdEntry } from "./fdtable.js";
import { fallocateInode } from "./gmem/fallocate.js";
import { FailNth } from "./util/fail-nth.js";
import { GmemInode, gmemAlias, gmemCreate, gmemHostFault, gmemMmapRefusal, gmemRelease, supportedFlags } from "./gmem/gmem.js";
import { pin, unpin } from "./gmem/pin.js";
import { gmemState } from "./gmem/state-query.js";
import { GMEM_FLAG_BITS } from "../schema/flags.js";
import { gmemWrite } from "./gmem/write.js";
import { NO_HOOKS, type Hooks } from "./hooks.js";
import { setMemoryAttributes } from "./kvm/attributes.js";
import { clearDirtyLog, enableCap, getDirtyLog } from "./kvm/dirty-log.js";
import { vcpuAccess } from "./kvm/fault.js";
import { vcpuHypercall } from "./kvm/hypercall.js";
import { kvmAccess } from "./kvm/uaccess.js";
import { Kvm } from "./kvm/kvm.js";
import { setMemoryRegion } from "./kvm/memslot.js";
import { mmuNotifier } from "./kvm/mmu.js";
import { userfaultRescan } from "./kvm/rescan.js";
import { userfaultWrite } from "./kvm/userfault.js";
import type { Mapping } from "./mm/mapping.js";
import { mincore } from "./mm/mincore.js";
import { Mm } from "./mm/mm.js";
import { gmemAddFolio, gmemCanAlloc, gmemGetFolioNoalloc, gmemHostFaultable, gmemPastEof } from "./gmem/uffd-ops.js";
import { Uffd, type ThreadOp } from "./uffd/uffd.js";

export interface System {
  readonly config: Config;
  exec(op: Op): Promise<Outcome>;
  /** The abstraction function: this implementation's state as a model state. */
  abstract(): State;
  /** The same, rebuilt from nothing: what abstract() must equal (the cross-check of props/checker.ts). */
  abstractAfresh?(): State;
  /** What the run so far cost (impl/costs.ts). */
  costs?(): CostCounts;
}

const EBADF: Outcome = { errno: "EBADF" };

export class Kernel implements System {
  readonly bugs: Bugs;
  readonly vms: Kvm[] = [];
  readonly gmemInodes: GmemInode[] = [];
  /** One fd namespace for every object; a uffd ctx whose name another object takes is unnamed from then on. */
  readonly fds = new FdTable((e) => this.displaced(e));
  readonly mm: Mm;
  readonly uffd: Uffd;
  /** The cost model's counters kept here (impl/costs.ts): KVM_EXIT_MEMORY_FAULTs, and memslot changes that took. */
  memoryFaultExits = 0;
  memslotUpdates = 0;

  constructor(
    readonly config: Config,
    readonly hooks: Hooks,
  ) {
    this.bugs = bugsOf(config.bugs);
    this.mm = new Mm(this.bugs, {
      hostFault: (map, index, _write, h) => gmemHostFault(this.gmemInodes[(map.backing as { inode: number }).inode]!, this.bugs, map, index, h),
      alias: async (op, map) => gmemAlias(this.gmemInodes[(map.backing as { inode: number }).inode]!, map, op),
      getFolioNoalloc: (map, index) => gmemGetFolioNoalloc(this.gmemOf(map), map.backingIndex(index)),
      canAlloc: (map, index) => gmemCanAlloc(this.gmemOf(map), map.backingIndex(index)),
      addFolio: (map, index) => gmemAddFolio(this.gmemOf(map), map.backingIndex(index)),
      pastEof: (map, index) => gmemPastEof(this.gmemOf(map), map.backingIndex(index)),
      uffdDesign: config.uffdGmemDesign,
      faultable: (map, index) => gmemHostFaultable(this.gmemOf(map), map.backingIndex(index)),
      punch: (map, offset, len, h) => fallocateInode(this.ctx, this.gmemOf(map), (map.backing as { inode: number }).inode, ["PUNCH_HOLE", "KEEP_SIZE"], offset, len, h),
      mmapRefusal: (inode, shared) => gmemMmapRefusal(this.gmemInodes[inode]!, shared),
      fallocate: (inode, mode, offset, len, h, failNth) => fallocateInode(this.ctx, this.gmemInodes[inode]!, inode, mode, offset, len, h, new FailNth(failNth)),
    }, this.fds, config.arch === "arm64" || config.kernel.memoryFailure ? { result: "SIGBUS", code: "BUS_MCEERR_AR" } : BUS_ADRERR);
    const env = { mm: this.mm, config, bugs: this.bugs, fds: this.fds, gmemInitShared: (map: Mapping) => this.gmemOf(map).flags.includes("INIT_SHARED") };
    this.uffd = new Uffd(env, (op, h) => this.threadAccess(op, h));
  }

  /** What the incremental abstraction kept from the last step. */
  private readonly abstraction = new Abstraction();

  abstract(): State {
    return this.abstraction.of(this);
  }

  abstractAfresh(): State {
    return new Abstraction().of(this);
  }

  costs(): CostCounts {
    return costsOf(this);
  }

  private gmemOf(map: Mapping): GmemInode {
    return this.gmemInodes[(map.backing as { inode: number }).inode]!;
  }

  /** One access of a thread, first run or retried after a userfault wakeup; `h` carries the task. */
  private async threadAccess(op: ThreadOp, h: Hooks): Promise<Outcome> {
    if (op.op === "access") return this.mm.access(op, h);
    const v = this.vm(op.vm);
    if (v === undefined) return EBADF;
    const outcome = op.op === "vcpu_access" ? await vcpuAccess(this.ctx, v.kvm, op, h) : await kvmAccess(this.ctx, v.kvm, op, h);
    if ("exit" in outcome && outcome.exit === "memory_fault") this.memoryFaultExits++;
    return outcome;
  }

  private vm(name: string): { id: number; kvm: Kvm } | undefined {
    const id = this.fds.of(name, "vm");
    return id === undefined ? undefined : { id, kvm: this.vms[id]! };
  }

  private displaced(e: FdEntry): void {
    if (e.kind === "uffd") this.uffd.ctxs[e.id]!.named = false;
  }

  private get ctx() {
    return {
      vms: this.vms,
      mm: this.mm,
      bugs: this.bugs,
      gmemInodes: this.gmemInodes,
      gmemFd: (name: string) => {
        const e = this.fds.get(name);
        if (e === undefined) return { errno: "EBADF" as const };
        return e.kind === "gmem" ? { id: e.id, inode: this.gmemInodes[e.id]! } : { errno: "EINVAL" as const };
      },
    };
  }

  exec(op: Op): Promise<Outcome> {
    const h = this.hooks;
    // A VM ioctl on whatever the name is; the userfault bitmap writes are plain stores, only a VM has one.
    const vmIoctl = (name: string, f: (v: { id: number; kvm: Kvm }) => Promise<Outcome> | Outcome): Promise<Outcome> => {
      const r = ioctlFd(this.fds, name, "vm", this.config.arch);
      return Promise.resolve("errno" in r ? r : f({ id: r.id, kvm: this.vms[r.id]! }));
    };
    const withVm = (name: string, f: (v: { id: number; kvm: Kvm }) => Promise<Outcome> | Outcome): Promise<Outcome> => {
      const v = this.vm(name);
      return Promise.resolve(v === undefined ? EBADF : f(v));
    };
    // What ts-pattern's async handlers did: a synchronous call's value, or its throw, as a promise.
    const now = async (f: () => Outcome): Promise<Outcome> => f();
    switch (op.op) {
      case "create_vm":
        return now(() => this.createVm(op));
      case "check_extension":
        return now(() => this.checkExtension(op));
      case "create_gmem":
        return vmIoctl(op.vm, (v) => this.createGmem(v, op));
      case "set_memory_region":
        return vmIoctl(op.vm, async (v) => {
          const outcome = await setMemoryRegion(this.ctx, v.kvm, v.id, op, h);
          if ("result" in outcome) this.memslotUpdates++;
          return outcome;
        });
      case "userfault_set":
      case "userfault_clear":
        return withVm(op.vm, (v) => userfaultWrite(this.bugs, v.kvm, op, h));
      case "userfault_rescan":
        return vmIoctl(op.vm, (v) => userfaultRescan(this.bugs, v.kvm, op, h));
      case "set_memory_attributes":
        return vmIoctl(op.vm, (v) => setMemoryAttributes(this.bugs, v.kvm, op, h, (start, end, toPrivate, fail) => gmemShouldSetAttributes(this.ctx, v.kvm, start, end, toPrivate, h, fail)));
      case "enable_cap":
        return vmIoctl(op.vm, (v) => enableCap(v.kvm, op));
      case "get_dirty_log":
        return vmIoctl(op.vm, (v) => getDirtyLog(this.bugs, v.kvm, op, h));
      case "clear_dirty_log":
        return vmIoctl(op.vm, (v) => clearDirtyLog(this.bugs, v.kvm, op, h));
      case "vcpu_access":
      case "kvm_access":
        return this.uffd.runThread(op, h);
      case "vcpu_hypercall": {
        const v = this.vm(op.vm);
        return v === undefined ? now(() => EBADF) : vcpuHypercall(this.ctx, v.kvm, op, h);
      }
      case "memfd":
        return now(() => this.mm.memfd(op));
      case "reopen":
        return now(() => this.mm.reopen(op));
      case "mmap":
        return now(() => this.mm.mmap({ map: op.map, fd: op.file === "anon" ? undefined : op.file, offset: op.offset, length: op.length, shared: op.shared ?? op.file !== "anon", prot: op.prot ?? "rw" }));
      case "munmap":
        return this.munmap(op, h);
      case "access":
        return this.uffd.runThread(op, h);
      case "write_alias":
      case "read_alias":
        return this.mm.alias(op, h);
      case "pwrite":
        return now(() => this.mm.pwrite(op));
      case "pread":
        return now(() => this.mm.pread(op));
      case "mincore":
        return now(() => mincore(this.mm, this.config.arch, op) ?? { errno: "ENOTTY" });
      case "madvise":
        return this.mm.madvise(op, h);
      case "file_fallocate":
        return this.mm.fallocate({ fd: op.file, mode: op.mode, offset: op.offset, len: op.len }, h);
      case "close":
        return this.close(op, h);
      case "gmem_mmap":
        return now(() => this.mm.mmap({ map: op.map, fd: op.gmem, offset: op.offset, length: op.length, shared: op.shared ?? true, prot: "rw" }));
      case "gmem_fallocate":
        return this.mm.fallocate({ fd: op.gmem, mode: op.mode, offset: op.offset, len: op.len, ...(op.fail_nth === undefined ? {} : { failNth: op.fail_nth }) }, h);
      case "gmem_convert":
        return this.withGmem(op.gmem, (g) => gmemConvert(this.ctx, g.inode, g.id, op, h));
      case "gmem_state":
        return this.withGmem(op.gmem, (g) => gmemState(this.bugs, g.inode, this.vms, op, h));
      case "gmem_write":
        return gmemWrite(this.bugs, this.config, this.fds, this.gmemInodes, op, h);
      case "pin":
        return pin(this.mm, this.gmemInodes, op, h);
      case "unpin":
        return now(() => unpin(this.mm, this.gmemInodes, op));
      case "uffd_open":
        return now(() => this.uffd.open(op));
      case "uffd_create":
        return now(() => this.uffd.create(op));
      case "uffdio_api":
        return now(() => this.uffd.api(op));
      case "uffd_register":
        return this.uffd.register(op, h);
      case "uffd_unregister":
        return this.uffd.unregister(op, h);
      case "wake_check":
        return now(() => this.uffd.wakeCheck(op));
      case "uffdio_continue":
      case "uffdio_copy":
      case "uffdio_zeropage":
      case "uffdio_poison":
        return this.uffd.mfill(op, h);
      case "uffdio_writeprotect":
        return this.uffd.writeprotect(op, h);
      case "uffdio_wake":
        return this.uffd.wake(op, h);
      case "uffdio_move":
        return this.uffd.move(op, h);
    }
  }

  private async withGmem(name: string, f: (g: { id: number; inode: GmemInode }) => Promise<Outcome>): Promise<Outcome> {
    const r = ioctlFd(this.fds, name, "gmem", this.config.arch);
    return "errno" in r ? r : f({ id: r.id, inode: this.gmemInodes[r.id]! });
  }

  private createVm(op: OpOf<"create_vm">): Outcome {
    const type = op.type ?? 0;
    if (!this.config.kernel.vmTypes.includes(type)) return { errno: "EINVAL" };
    const kvm = new Kvm(type, this.config);
    this.mm.notifiers.push(mmuNotifier(kvm));
    this.fds.install(op.vm, "vm", this.vms.length);
    this.vms.push(kvm);
    return { result: "ok" };
  }

  private checkExtension(op: OpOf<"check_extension">): Outcome {
    const r = op.vm === undefined ? undefined : ioctlFd(this.fds, op.vm, "vm", this.config.arch);
    if (r !== undefined && "errno" in r) return r;
    const v = r === undefined ? undefined : { id: r.id, kvm: this.vms[r.id]! };
    const k = this.config.kernel;
    const x86 = this.config.arch === "x86";
    const PRIVATE = 8;
    const priv = v === undefined || v.kvm.hasPrivateMem ? PRIVATE : 0;
    const gmemFlags = supportedFlags(v?.kvm, k.gmemFlags).reduce((bits, f) => bits | (2 ** GMEM_FLAG_BITS[f]), 0);
    const values: Record<OpOf<"check_extension">["cap"], number> = {
      USER_MEMORY: 1,
      USER_MEMORY2: 1,
      NR_MEMSLOTS: k.userMemSlots,
      MULTI_ADDRESS_SPACE: k.addressSpaces > 1 ? (v?.kvm.nrMemslotAsIds ?? k.addressSpaces) : 0,
      READONLY_MEM: k.readonlyMem ? 1 : 0,
      MEMORY_FAULT_INFO: x86 ? 1 : 0,
      MEMORY_ATTRIBUTES: k.memoryAttributes && !gmemOwnsAttributes(this.config) ? priv : 0,
      GUEST_MEMFD: k.guestMemfd ? 1 : 0,
      VM_TYPES: x86 ? k.vmTypes.reduce((bits, t) => bits | (1 << t), 0) : 0,
      GUEST_MEMFD_FLAGS: k.guestMemfd ? gmemFlags : 0,
      USERFAULT: k.userfault ? 1 : 0,
      GUEST_MEMFD_MEMORY_ATTRIBUTES: gmemOwnsAttributes(this.config) ? priv : 0,
    };
    return { result: "ok", value: values[op.cap] };
  }

  private createGmem(v: { id: number; kvm: Kvm }, op: OpOf<"create_gmem">): Outcome {
    const inode = gmemCreate(this.bugs, v.kvm, v.id, op);
    if (!(inode instanceof GmemInode)) return inode;
    this.fds.install(op.gmem, "gmem", this.gmemInodes.length);
    this.gmemInodes.push(inode);
    return { result: "ok" };
  }

  private async munmap(op: OpOf<"munmap">, h: Hooks): Promise<Outcome> {
    const map = this.mm.maps.get(op.map);
    const outcome = await this.mm.munmap(op, h);
    if (map?.backing.kind === "gmem" && !this.mm.maps.has(op.map)) await this.releaseIfUnused(map.backing.inode, h);
    return outcome;
  }

  /** kvm_gmem_release runs at the last fput: once the fd is closed and no mapping holds the file. */
  private async releaseIfUnused(id: number, h: Hooks): Promise<void> {
    const inode = this.gmemInodes[id]!;
    const mapped = [...this.mm.maps.values()].some((m) => m.backing.kind === "gmem" && m.backing.inode === id);
    if (!inode.open || inode.fd || mapped) return;
    await gmemRelease(inode, this.vms, h);
  }

  /** close_fd of whatever the name refers to, whichever field names it; then that file's release, if it was the last reference. */
  private async close(op: OpOf<"close">, h: Hooks): Promise<Outcome> {
    const name = op.vm ?? op.gmem ?? op.file ?? op.uffd;
    const e = name === undefined ? undefined : this.fds.close(name);
    if (e === undefined) return EBADF;
    if (e.kind === "gmem") {
      this.gmemInodes[e.id]!.fd = false;
      await this.releaseIfUnused(e.id, h);
    }
    if (e.kind === "uffd") return this.uffd.release(e.id, h);
    return { result: "ok" };
  }
}

export function createSystem(config: Config, hooks: Hooks = NO_HOOKS): System {
  return new Kernel(config, hooks);
}
