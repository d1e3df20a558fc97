// The capability set of a host: one name per thing a scenario can need, present or absent with the reason, narrowed
// or widened by FAULTLINE_CAPS / --caps; and the host configuration the model runs with on that host.
import { PRESETS, type Config, type KernelFeatures } from "../schema/config.js";
import { CAPABILITIES, isCapability, type Capability } from "../schema/capabilities.js";
import { UFFD_FEATURES } from "../schema/ops.js";
import type { HostProbe } from "./probe.js";

/** Whether the host has a capability, and if not, why. */
export type Presence = { readonly present: true; readonly why: string } | { readonly present: false; readonly why: string };

export interface Host {
  readonly probe: HostProbe;
  readonly caps: ReadonlyMap<Capability, Presence>;
  /** Capabilities the override took out of use: scenarios and random steps touching them are skipped, whichever way. */
  readonly excluded: ReadonlySet<Capability>;
  /** What the override said, for the report ("" when none). */
  readonly override: string;
  /** The configuration the model runs with here: the kernel-6.18 preset with every probed kernel feature. */
  readonly config: Config;
}

const has = (why: string): Presence => ({ present: true, why });
const lacks = (why: string): Presence => ({ present: false, why });
const when = (ok: boolean, yes: string, no: string): Presence => (ok ? has(yes) : lacks(no));

/** Modes of the THP knobs under which anonymous or shmem faults map 4 KiB pages only (the model's assumption). */
const SMALL_ANON = ["madvise", "never"];
const SMALL_SHMEM = ["never", "deny", "advise"];

/** Every capability from a probe, before any override. */
export function capabilitiesOf(p: HostProbe): Map<Capability, Presence> {
  const caps = new Map<Capability, Presence>();
  const kvm = p.kvm === "ok" && p.api === 12;
  const kvmWhy = p.kvm !== "ok" ? p.kvm : `KVM_GET_API_VERSION is ${p.api}, not 12`;
  const cap = (name: string, min = 1): Presence =>
    !kvm ? lacks(kvmWhy) : when((p.caps[name] ?? 0) >= min, `KVM_CHECK_EXTENSION(KVM_CAP_${name}) = ${p.caps[name]}`, `KVM_CHECK_EXTENSION(KVM_CAP_${name}) = ${p.caps[name] ?? 0}`);
  const gmemFlag = (bit: number, name: string): Presence =>
    !kvm ? lacks(kvmWhy) : when(((p.caps.GUEST_MEMFD_FLAGS ?? 0) & bit) !== 0, `KVM_CAP_GUEST_MEMFD_FLAGS has ${name}`, `KVM_CAP_GUEST_MEMFD_FLAGS = ${p.caps.GUEST_MEMFD_FLAGS ?? 0}, without ${name}`);
  const proposal = (name: keyof HostProbe["proposals"], how: string): Presence =>
    !kvm ? lacks(kvmWhy) : when(p.proposals[name], how, `not in this kernel (${how}: no)`);
  caps.set("KVM", when(kvm, "/dev/kvm, API 12", kvmWhy));
  caps.set("KVM_GUEST", !kvm ? lacks(kvmWhy) : when(p.guest === "ok", "the helper's guest runs", p.guest));
  // kvm_access needs a guest that makes KVM copy guest memory itself (PV clock, emulation); the helper has none.
  caps.set("KVM_GUEST_UACCESS", lacks("the native helper's guest never makes KVM copy guest memory itself (kvm_access is model-only)"));
  // KVM_CLEAR_DIRTY_LOG comes with KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, which reports the args[0] bits it takes: the model
  // takes ENABLE | INITIALLY_SET (KVM_DIRTY_LOG_MANUAL_CAPS), so both must be there.
  const manual = p.caps.MANUAL_DIRTY_LOG_PROTECT2 ?? 0;
  const manualWhy = `KVM_CHECK_EXTENSION(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) = ${manual}`;
  caps.set("KVM_DIRTY_LOG_IOCTLS", !kvm ? lacks(kvmWhy) : when((manual & 3) === 3, manualWhy, `${manualWhy}, not ENABLE | INITIALLY_SET`));
  caps.set("KVM_CAP_USER_MEMORY2", cap("USER_MEMORY2"));
  // The bitmap re-scan ioctl was proposed in review (2025-05-28) and never posted (model/kvm/rescan.ts).
  caps.set("KVM_USERFAULT_RESCAN", lacks("proposed in the KVM Userfault v2 thread, never posted: no kernel has it"));
  caps.set("KVM_CAP_MEMORY_FAULT_INFO", cap("MEMORY_FAULT_INFO"));
  caps.set("KVM_CAP_GUEST_MEMFD", cap("GUEST_MEMFD"));
  caps.set("GUEST_MEMFD_FLAG_MMAP", gmemFlag(1, "MMAP"));
  caps.set("GUEST_MEMFD_FLAG_INIT_SHARED", gmemFlag(2, "INIT_SHARED"));
  // Secret hiding's two posted series (docs/GMEM.md): the bits Firecracker's tests probe for.
  caps.set("GUEST_MEMFD_FLAG_NO_DIRECT_MAP", gmemFlag(4, "NO_DIRECT_MAP"));
  caps.set("GUEST_MEMFD_FLAG_WRITE", gmemFlag(8, "WRITE"));
  caps.set("KVM_CAP_MEMORY_ATTRIBUTES", cap("MEMORY_ATTRIBUTES"));
  caps.set("KVM_CAP_READONLY_MEM", cap("READONLY_MEM"));
  caps.set("KVM_CAP_MULTI_ADDRESS_SPACE", cap("MULTI_ADDRESS_SPACE", 2));
  caps.set("KVM_X86_SW_PROTECTED_VM", !kvm ? lacks(kvmWhy) : when(p.vmTypes.includes(1), "KVM_CREATE_VM type 1", `KVM_CREATE_VM types [${p.vmTypes.join(",")}]`));
  caps.set("KVM_MEM_USERFAULT", proposal("KVM_MEM_USERFAULT", "KVM_SET_USER_MEMORY_REGION2 takes KVM_MEM_USERFAULT"));
  caps.set("GMEM_INPLACE_CONVERSION", proposal("GMEM_INPLACE_CONVERSION", "a guest_memfd answers KVM_SET_MEMORY_ATTRIBUTES2"));
  caps.set("UFFD_GUEST_MEMFD", proposal("UFFD_GUEST_MEMFD", "a guest_memfd mapping registers for MINOR faults"));
  const uffd = p.uffd === "ok";
  caps.set("USERFAULTFD", when(uffd, "userfaultfd(2) and UFFDIO_API", p.uffd));
  caps.set("DEV_USERFAULTFD", when(p.devUserfaultfd === "ok", "/dev/userfaultfd and USERFAULTFD_IOC_NEW", p.devUserfaultfd));
  for (const f of UFFD_FEATURES) {
    caps.set(`UFFD_FEATURE_${f}`, !uffd ? lacks(p.uffd) : when(p.uffdFeatures.includes(f), `UFFDIO_API offers ${f}`, `UFFDIO_API does not offer ${f}`));
  }
  caps.set("HUGETLB_2M", when(p.hugetlb2M === "ok", "2 MiB hugetlbfs pages can be reserved", p.hugetlb2M));
  caps.set("HUGETLB_1G", when(p.hugetlb1G === "ok", "1 GiB hugetlbfs pages are free", p.hugetlb1G));
  caps.set("ANON_SMALL_PAGES", when(SMALL_ANON.includes(p.thpAnon), `THP enabled [${p.thpAnon}]`, `THP enabled [${p.thpAnon}] maps anonymous memory with huge pages`));
  caps.set("SHMEM_SMALL_PAGES", when(SMALL_SHMEM.includes(p.thpShmem), `THP shmem_enabled [${p.thpShmem}]`, `THP shmem_enabled [${p.thpShmem}] gives shmem huge folios`));
  caps.set("GMEM_STATE_QUERY", lacks("gmem_state is faultline's own query of the model: no kernel answers it"));
  caps.set("KVM_HYPERCALL_EXIT", lacks("the native helper runs no guest code, so no guest makes KVM_HC_MAP_GPA_RANGE"));
  caps.set("FAIL_NTH", lacks("fail_nth counts faultline's allocation attempts, not the kernel's should_fail calls: no host run can aim it"));
  caps.set("MEMORY_FAILURE", when(p.memoryFailure, "CONFIG_MEMORY_FAILURE", "no /proc/sys/vm/memory_failure_early_kill (CONFIG_MEMORY_FAILURE off)"));
  return caps;
}

/** The environment variable that narrows (-NAME) or widens (+NAME) the probed set, like --caps. */
export const CAPS_ENV = "FAULTLINE_CAPS";

export class CapsOverrideError extends Error {}

/** Parses "-KVM_CAP_GUEST_MEMFD,+KVM_MEM_USERFAULT": each item names a capability with - (take out) or + (assume). */
export function parseOverride(spec: string): { readonly narrow: Capability[]; readonly widen: Capability[] } {
  const narrow: Capability[] = [];
  const widen: Capability[] = [];
  for (const raw of spec.split(/[,\s]+/).filter((s) => s !== "")) {
    const sign = raw[0];
    const name = raw.slice(1);
    if ((sign !== "-" && sign !== "+") || !isCapability(name)) {
      throw new CapsOverrideError(`capability override ${JSON.stringify(raw)}: expected -NAME or +NAME with NAME one of ${CAPABILITIES.join(", ")}`);
    }
    (sign === "-" ? narrow : widen).push(name);
  }
  return { narrow, widen };
}

/** The host from a probe and an override spec ("" for none). */
export function hostOf(probe: HostProbe, override = ""): Host {
  const caps = capabilitiesOf(probe);
  const { narrow, widen } = parseOverride(override);
  for (const c of widen) caps.set(c, has(`assumed by the override "+${c}"`));
  for (const c of narrow) caps.set(c, lacks(`taken out by the override "-${c}"`));
  return { probe, caps, excluded: new Set(narrow), override, config: hostConfig(probe, caps) };
}

const present = (caps: ReadonlyMap<Capability, Presence>, c: Capability): boolean => caps.get(c)?.present === true;

/** The model's configuration for this host: what the probe found, on top of the kernel-6.18 preset. */
export function hostConfig(p: HostProbe, caps: ReadonlyMap<Capability, Presence> = capabilitiesOf(p)): Config {
  const base = PRESETS["kernel-6.18"];
  const gmem = present(caps, "KVM_CAP_GUEST_MEMFD");
  const kernel: KernelFeatures = {
    ...base.kernel,
    vmTypes: p.vmTypes.length > 0 ? [...p.vmTypes] : base.kernel.vmTypes,
    memoryAttributes: present(caps, "KVM_CAP_MEMORY_ATTRIBUTES"),
    userfault: present(caps, "KVM_MEM_USERFAULT"),
    guestMemfd: gmem,
    gmemFlags: gmem ? (["MMAP", "INIT_SHARED", "NO_DIRECT_MAP", "WRITE"] as const).filter((f) => present(caps, `GUEST_MEMFD_FLAG_${f}`)) : [],
    gmemInplaceConversion: present(caps, "GMEM_INPLACE_CONVERSION"),
    uffdGuestMemfd: present(caps, "UFFD_GUEST_MEMFD"),
    readonlyMem: present(caps, "KVM_CAP_READONLY_MEM"),
    userMemSlots: p.caps.NR_MEMSLOTS ?? base.kernel.userMemSlots,
    addressSpaces: present(caps, "KVM_CAP_MULTI_ADDRESS_SPACE") ? (p.caps.MULTI_ADDRESS_SPACE ?? 2) : 1,
    memoryFailure: present(caps, "MEMORY_FAILURE"),
  };
  return { ...base, kernel };
}

/** The named preset a configuration is, if any ("kernel-6.18", "kernel-6.18-no-gmem"). */
export function presetOf(c: Config): string | undefined {
  const same = (a: Config, b: Config): boolean => JSON.stringify(a) === JSON.stringify(b);
  return Object.entries(PRESETS).find(([, p]) => same(p, c))?.[0];
}
