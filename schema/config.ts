// The configuration every layer is built from: which arch, which kernel features, which proposed designs.
import * as t from "io-ts";
import { intIn, literals, strict } from "./codecs.js";

/**
 * The fault-exit designs (docs/VARIANTS.md): KVM Userfault v3 as posted (the default), and the alternatives the threads
 * weigh, each a variant of the model and the implementation alike.
 */
export const FAULT_EXIT_DESIGNS = ["userfault-v3", "userfault-v1", "eager-split", "memory-fault-rwx", "arm64-memory-fault-info", "exit-on-missing"] as const;
export type FaultExitDesign = (typeof FAULT_EXIT_DESIGNS)[number];
/** The userfaultfd-on-guest_memfd designs (config.uffdGmemDesign); the first is the default. */
export const UFFD_GMEM_DESIGNS = ["vm-uffd-ops", "guestmem-v6", "v1-hybrid", "v2-minor-first"] as const;
export type UffdGmemDesign = (typeof UFFD_GMEM_DESIGNS)[number];

const Kernel = strict(
  "kernel",
  {},
  {
    vmTypes: t.array(intIn("vm type", 0, 31)),
    memoryAttributes: t.boolean,
    userfault: t.boolean,
    guestMemfd: t.boolean,
    gmemFlags: t.array(literals("MMAP", "INIT_SHARED", "NO_DIRECT_MAP", "WRITE")),
    gmemInplaceConversion: t.boolean,
    gmemInPlaceParam: literals("default", "on", "off"),
    uffdGuestMemfd: t.boolean,
    readonlyMem: t.boolean,
    slotZapAll: t.boolean,
    userMemSlots: intIn("user memslots", 1, 32767),
    addressSpaces: intIn("address spaces", 1, 2),
    memoryFailure: t.boolean,
    userfaultRescan: t.boolean,
  },
);

export const ConfigCodec = strict(
  "config",
  {},
  {
    preset: literals("default", "kernel-6.18", "kernel-6.18-no-gmem", "arm64", "gmem-v8", "gmem-v8-vm-attrs", "gmem-v7"),
    arch: literals("x86", "arm64"),
    vcpus: intIn("vcpus", 1, 64),
    kernel: Kernel,
    gmemDesign: literals("v8", "v7", "rfc-2024"),
    gmemFaultLock: t.union([t.boolean, t.literal("folio")]),
    gmemFolio: literals("4K", "2M", "1G"),
    uffdGmemPrivate: literals("absent", "as-posted"),
    uffdGmemDesign: literals(...UFFD_GMEM_DESIGNS),
    faultExit: literals(...FAULT_EXIT_DESIGNS),
    bugs: t.array(t.string),
  },
);
export type ConfigInput = t.TypeOf<typeof ConfigCodec>;

export interface KernelFeatures {
  /** KVM_CREATE_VM types accepted: 0 = default, 1 = KVM_X86_SW_PROTECTED_VM. */
  readonly vmTypes: readonly number[];
  /**
   * KVM_SET_MEMORY_ATTRIBUTES is built in (CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES; v8's CONFIG_KVM_VM_MEMORY_ATTRIBUTES),
   * else the ioctl is ENOTTY. Under v7 it is also the module parameter vm_memory_attributes: off is vm_memory_attributes=0.
   */
  readonly memoryAttributes: boolean;
  /** KVM Userfault, v3 (20250618042424.330664-1-jthoughton@google.com): KVM_MEM_USERFAULT + bitmap. */
  readonly userfault: boolean;
  readonly guestMemfd: boolean;
  /**
   * The GUEST_MEMFD_FLAG_*s this kernel knows. NO_DIRECT_MAP and WRITE are the posted series for secret hiding (direct map
   * removal v12, write() v7; docs/GMEM.md "Secret hiding"): listed, they are built in; no preset lists them.
   */
  readonly gmemFlags: readonly ("MMAP" | "INIT_SHARED" | "NO_DIRECT_MAP" | "WRITE")[];
  /** guest_memfd in-place conversion is in the kernel (config.gmemDesign says which version; docs/SOURCES.md). */
  readonly gmemInplaceConversion: boolean;
  /**
   * v8's module parameter gmem_in_place_conversion ([PATCH v8 24/46]): "default" is !CONFIG_KVM_VM_MEMORY_ATTRIBUTES
   * (on without per-VM attributes built in); "on" and "off" are gmem_in_place_conversion=1 and =0.
   */
  readonly gmemInPlaceParam: "default" | "on" | "off";
  /** userfaultfd on guest_memfd through vm_uffd_ops (20260306171815.3160826-1-rppt@kernel.org). */
  readonly uffdGuestMemfd: boolean;
  readonly readonlyMem: boolean;
  /** KVM_X86_QUIRK_SLOT_ZAP_ALL: DELETE/MOVE zap every SPTE of the VM (x86 default). */
  readonly slotZapAll: boolean;
  /** KVM_USER_MEM_SLOTS. */
  readonly userMemSlots: number;
  /** kvm_arch_nr_memslot_as_ids: 2 on x86 (SMM), 1 on arm64. */
  readonly addressSpaces: number;
  /**
   * CONFIG_MEMORY_FAILURE: x86's do_sigbus reports a poisoned page (VM_FAULT_HWPOISON) as BUS_MCEERR_AR only when it is
   * built in, else as BUS_ADRERR; arm64's do_page_fault always says BUS_MCEERR_AR. The machines here have it off.
   */
  readonly memoryFailure: boolean;
  /**
   * The bitmap re-scan ioctl James Houghton proposed for emulating poison under a live KVM_MEM_USERFAULT slot
   * (CADrL8HXjLjVyFiFee9Q58TQ9zBfXiO+VG=25Rw4UD+fbDmxQFg@mail.gmail.com, "some kind of bitmap re-scan ioctl"): never
   * posted, so only the poison suite turns it on (model/kvm/rescan.ts).
   */
  readonly userfaultRescan: boolean;
}

export interface Config {
  readonly arch: "x86" | "arm64";
  /** vCPUs created with each VM. */
  readonly vcpus: number;
  readonly kernel: KernelFeatures;
  /** Which proposed guest_memfd conversion design to follow: v8 (the default), v7 or the 2024 RFC (variants). */
  readonly gmemDesign: "v8" | "v7" | "rfc-2024";
  /**
   * rfc-2024 only: what serialises the host fault's faultability check against a conversion. true: the filemap
   * invalidate lock, shared (the series' last patch); false: nothing (before it); "folio": Peter Xu's alternative, the
   * check made under the folio lock kvm_gmem_get_folio takes (Zw7f3YrzqnH-iWwf@x1n).
   */
  readonly gmemFaultLock: boolean | "folio";
  /** Folio size backing every guest_memfd: "4K" is the current tree; "2M"/"1G" follow the HugeTLB series (cover.1726009989.git.ackerleytng@google.com). */
  readonly gmemFolio: "4K" | "2M" | "1G";
  /**
   * userfaultfd on a private page of a guest_memfd, where in-place conversion and uffd on guest_memfd meet (neither
   * series knows the other): "absent" is faultline's assumption, a private page is as absent as one past i_size;
   * "as-posted" follows the uffd series' vm_uffd_ops, which never look at private/shared (docs/GMEM.md).
   */
  readonly uffdGmemPrivate: "absent" | "as-posted";
  /**
   * Which posted userfaultfd-on-guest_memfd design the kernel follows (docs/UFFD.md, "The designs"): "vm-uffd-ops" is
   * Mike Rapoport's vm_uffd_ops series (the default); "guestmem-v6" the guestmem-library RFC v6; "v1-hybrid" and
   * "v2-minor-first" the earlier iterations its cover letter recounts (v1: MISSING, filled by write then CONTINUE;
   * v2/v3: the fault allocates first, so every first touch is MINOR).
   */
  readonly uffdGmemDesign: UffdGmemDesign;
  /** Which fault-exit design KVM follows (FAULT_EXIT_DESIGNS); "userfault-v3" is KVM Userfault v3 as posted. */
  readonly faultExit: FaultExitDesign;
  /** Seeded bugs switched on in impl/ (ids from impl/bugs.ts); empty for the real thing. */
  readonly bugs: readonly string[];
}

/** The richer kernel used for exploration: every proposal present, software-protected VMs with PRIVATE. */
const RICH_X86: KernelFeatures = {
  vmTypes: [0, 1],
  memoryAttributes: true,
  userfault: true,
  guestMemfd: true,
  gmemFlags: ["MMAP", "INIT_SHARED"],
  gmemInplaceConversion: true,
  gmemInPlaceParam: "default",
  uffdGuestMemfd: true,
  readonlyMem: true,
  slotZapAll: true,
  userMemSlots: 32764,
  addressSpaces: 2,
  memoryFailure: true,
  userfaultRescan: false,
};

/** What the machines here run (Linux 6.18, built without SMM): type 0 only, no memory attributes, no proposals. */
const KERNEL_6_18: KernelFeatures = {
  ...RICH_X86,
  addressSpaces: 1,
  vmTypes: [0],
  memoryAttributes: false,
  userfault: false,
  gmemInplaceConversion: false,
  uffdGuestMemfd: false,
  memoryFailure: false,
};

/** The other 6.18 build seen on these machines: no guest_memfd at all (KVM_CAP_GUEST_MEMFD = 0). */
const KERNEL_6_18_NO_GMEM: KernelFeatures = { ...KERNEL_6_18, guestMemfd: false, gmemFlags: [] };

const RICH_ARM64: KernelFeatures = {
  ...RICH_X86,
  vmTypes: [0],
  memoryAttributes: false,
  slotZapAll: false,
  userMemSlots: 32767,
  addressSpaces: 1,
};

/** In-place conversion as meant to be used: no per-VM attributes, so KVM asks guest_memfd for private/shared and KVM_SET_MEMORY_ATTRIBUTES2 works. */
const GMEM_INPLACE_X86: KernelFeatures = { ...RICH_X86, memoryAttributes: false };
/** v8 with per-VM attributes built in (kept for RWX attributes) and gmem_in_place_conversion=1 on the command line. */
const GMEM_V8_VM_ATTRS_X86: KernelFeatures = { ...RICH_X86, gmemInPlaceParam: "on" };

export type PresetName = "default" | "kernel-6.18" | "kernel-6.18-no-gmem" | "arm64" | "gmem-v8" | "gmem-v8-vm-attrs" | "gmem-v7";

const preset = (arch: "x86" | "arm64", kernel: KernelFeatures, gmemDesign: Config["gmemDesign"] = "v8"): Config => ({
  arch,
  vcpus: 2,
  kernel,
  gmemDesign,
  gmemFaultLock: true,
  gmemFolio: "4K",
  uffdGmemPrivate: "absent",
  uffdGmemDesign: "vm-uffd-ops",
  faultExit: "userfault-v3",
  bugs: [],
});

export const PRESETS: Readonly<Record<PresetName, Config>> = {
  default: preset("x86", RICH_X86),
  "kernel-6.18": preset("x86", KERNEL_6_18),
  "kernel-6.18-no-gmem": preset("x86", KERNEL_6_18_NO_GMEM),
  arm64: preset("arm64", RICH_ARM64),
  "gmem-v8": preset("x86", GMEM_INPLACE_X86),
  "gmem-v8-vm-attrs": preset("x86", GMEM_V8_VM_ATTRS_X86),
  "gmem-v7": preset("x86", GMEM_INPLACE_X86, "v7"),
};

export const DEFAULT_CONFIG: Config = PRESETS.default;

/** Fills what a file leaves out from its preset (or the default). */
export function resolveConfig(input: ConfigInput = {}): Config {
  const base = PRESETS[input.preset ?? (input.arch === "arm64" ? "arm64" : "default")];
  return {
    arch: input.arch ?? base.arch,
    vcpus: input.vcpus ?? base.vcpus,
    kernel: { ...base.kernel, ...input.kernel },
    gmemDesign: input.gmemDesign ?? base.gmemDesign,
    gmemFaultLock: input.gmemFaultLock ?? base.gmemFaultLock,
    gmemFolio: input.gmemFolio ?? base.gmemFolio,
    uffdGmemPrivate: input.uffdGmemPrivate ?? base.uffdGmemPrivate,
    uffdGmemDesign: input.uffdGmemDesign ?? base.uffdGmemDesign,
    faultExit: input.faultExit ?? base.faultExit,
    bugs: input.bugs ?? base.bugs,
  };
}

/** The proposed re-scan ioctl is written only when on, so files written before it existed keep their hash. */
function kernelWithout({ userfaultRescan, ...rest }: KernelFeatures): Omit<KernelFeatures, "userfaultRescan"> & { readonly userfaultRescan?: true } {
  return userfaultRescan ? { ...rest, userfaultRescan } : rest;
}

/** The full form written into counterexample files, so they replay even if defaults change (a fault-exit variant only when chosen). */
export function configToInput(c: Config): ConfigInput {
  return {
    arch: c.arch,
    vcpus: c.vcpus,
    kernel: { ...kernelWithout(c.kernel), vmTypes: [...c.kernel.vmTypes], gmemFlags: [...c.kernel.gmemFlags] },
    gmemDesign: c.gmemDesign,
    gmemFaultLock: c.gmemFaultLock,
    gmemFolio: c.gmemFolio,
    uffdGmemPrivate: c.uffdGmemPrivate,
    ...(c.uffdGmemDesign === "vm-uffd-ops" ? {} : { uffdGmemDesign: c.uffdGmemDesign }),
    ...(c.faultExit === "userfault-v3" ? {} : { faultExit: c.faultExit }),
    bugs: [...c.bugs],
  };
}
