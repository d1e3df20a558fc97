// What a scenario needs from the host: the capabilities its steps use (derived from the ops), the ones its file
// declares (`requires`), and the kernel features its expected outcomes were written for (its config) wherever a step
// touches them. A scenario the host cannot run is skipped with the capability named, never failed.
import { resolveConfig, type Config } from "../schema/config.js";
import { decodeFlags, GMEM_FLAG_BITS, MEMSLOT_FLAG_BITS } from "../schema/flags.js";
import { UFFD_FEATURES, type CapName, type Op } from "../schema/ops.js";
import type { Scenario } from "../schema/scenario.js";
import { isConfigCapability, type Capability, type ConfigCapability } from "../schema/capabilities.js";
import type { Host } from "./capabilities.js";

const KVM_OPS = new Set<Op["op"]>(["create_vm", "check_extension", "set_memory_region", "set_memory_attributes", "vcpu_access", "create_gmem"]);

/** The kernel features (as capabilities) a step's outcome depends on. */
export function featuresTouched(op: Op, gmemMaps: ReadonlySet<string> = new Set()): ConfigCapability[] {
  const out: ConfigCapability[] = [];
  const gmem = (...flags: readonly ("MMAP" | "INIT_SHARED")[]): void => {
    out.push("KVM_CAP_GUEST_MEMFD", ...flags.map((f) => `GUEST_MEMFD_FLAG_${f}` as const));
  };
  switch (op.op) {
    case "create_vm":
      if ((op.type ?? 0) !== 0) out.push("KVM_X86_SW_PROTECTED_VM");
      break;
    case "check_extension":
      out.push(...capFeatures(op.cap));
      break;
    case "create_gmem":
      gmem(...decodeFlags(op.flags, GMEM_FLAG_BITS).names);
      break;
    case "gmem_mmap":
      gmem("MMAP");
      break;
    case "gmem_fallocate":
      gmem();
      break;
    case "gmem_convert":
      gmem();
      out.push("GMEM_INPLACE_CONVERSION");
      break;
    case "set_memory_region": {
      const flags = decodeFlags(op.flags, MEMSLOT_FLAG_BITS).names;
      if (flags.includes("GUEST_MEMFD") || op.guest_memfd !== undefined) gmem();
      if (flags.includes("READONLY")) out.push("KVM_CAP_READONLY_MEM");
      if (flags.includes("USERFAULT") || op.userfault_bitmap !== undefined) out.push("KVM_MEM_USERFAULT");
      if (op.slot >>> 16 !== 0) out.push("KVM_CAP_MULTI_ADDRESS_SPACE");
      break;
    }
    case "userfault_set":
    case "userfault_clear":
      out.push("KVM_MEM_USERFAULT");
      break;
    case "set_memory_attributes":
      out.push("KVM_CAP_MEMORY_ATTRIBUTES");
      break;
    case "vcpu_access":
      if (op.private !== undefined) out.push("KVM_CAP_MEMORY_ATTRIBUTES");
      break;
    case "uffdio_poison":
      // An access to the marker says BUS_MCEERR_AR or BUS_ADRERR by CONFIG_MEMORY_FAILURE (x86 do_sigbus).
      out.push("MEMORY_FAILURE");
      if (gmemMaps.has(op.map)) out.push("UFFD_GUEST_MEMFD");
      break;
    case "uffd_register":
    case "uffdio_continue":
    case "uffdio_copy":
    case "uffdio_zeropage":
    case "uffdio_writeprotect":
      if (gmemMaps.has(op.map)) out.push("UFFD_GUEST_MEMFD");
      break;
    default:
      break;
  }
  return out;
}

function capFeatures(cap: CapName): ConfigCapability[] {
  switch (cap) {
    case "GUEST_MEMFD":
    case "GUEST_MEMFD_FLAGS":
      return ["KVM_CAP_GUEST_MEMFD", "GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_INIT_SHARED"];
    case "MEMORY_ATTRIBUTES":
      return ["KVM_CAP_MEMORY_ATTRIBUTES"];
    case "VM_TYPES":
      return ["KVM_X86_SW_PROTECTED_VM"];
    case "READONLY_MEM":
      return ["KVM_CAP_READONLY_MEM"];
    case "MULTI_ADDRESS_SPACE":
      return ["KVM_CAP_MULTI_ADDRESS_SPACE"];
    case "USERFAULT":
      return ["KVM_MEM_USERFAULT"];
    case "GUEST_MEMFD_MEMORY_ATTRIBUTES":
      return ["GMEM_INPLACE_CONVERSION"];
    default:
      return [];
  }
}

/** The host capabilities a step needs to run at all (the helper's syscalls, the memory the model assumes). */
export function hostNeeds(op: Op): Capability[] {
  const out: Capability[] = [];
  if (KVM_OPS.has(op.op) || op.op === "userfault_set" || op.op === "userfault_clear" || op.op === "gmem_convert") out.push("KVM");
  if (op.op === "close" && op.vm !== undefined) out.push("KVM");
  if (op.op === "set_memory_region" && op.ioctl !== "REGION") out.push("KVM_CAP_USER_MEMORY2");
  if (op.op === "vcpu_access") out.push("KVM_GUEST", "KVM_CAP_MEMORY_FAULT_INFO");
  if (op.op === "uffd_open" || op.op === "uffdio_api") out.push("USERFAULTFD", ...UFFD_FEATURES.map((f) => `UFFD_FEATURE_${f}` as const));
  if (op.op === "uffd_create") out.push(op.dev === true ? "DEV_USERFAULTFD" : "USERFAULTFD");
  if (op.op === "memfd") {
    if (op.hugetlb === true || op.hugetlb === "2M") out.push("HUGETLB_2M");
    else if (op.hugetlb === "1G") out.push("HUGETLB_1G");
    else out.push("SHMEM_SMALL_PAGES");
  }
  if (op.op === "mmap" && op.file === "anon") out.push(op.shared === true ? "SHMEM_SMALL_PAGES" : "ANON_SMALL_PAGES");
  return out;
}

/** The names of the mappings made from a guest_memfd, step by step (a uffd op on one touches UFFD_GUEST_MEMFD). */
function gmemMapsBefore(ops: readonly Op[]): ReadonlySet<string>[] {
  const maps = new Set<string>();
  return ops.map((op) => {
    const before = new Set(maps);
    if (op.op === "gmem_mmap") maps.add(op.map);
    else if (op.op === "mmap") maps.delete(op.map);
    return before;
  });
}

/** Whether two configurations agree on a kernel feature. */
function sameFeature(a: Config, b: Config, c: ConfigCapability): boolean {
  const k = a.kernel;
  const l = b.kernel;
  switch (c) {
    case "KVM_CAP_GUEST_MEMFD":
      return k.guestMemfd === l.guestMemfd;
    case "GUEST_MEMFD_FLAG_MMAP":
    case "GUEST_MEMFD_FLAG_INIT_SHARED": {
      const f = c === "GUEST_MEMFD_FLAG_MMAP" ? "MMAP" : "INIT_SHARED";
      return (k.guestMemfd && k.gmemFlags.includes(f)) === (l.guestMemfd && l.gmemFlags.includes(f));
    }
    case "KVM_CAP_MEMORY_ATTRIBUTES":
      return k.memoryAttributes === l.memoryAttributes;
    case "KVM_CAP_READONLY_MEM":
      return k.readonlyMem === l.readonlyMem;
    case "KVM_CAP_MULTI_ADDRESS_SPACE":
      return k.addressSpaces === l.addressSpaces;
    case "KVM_X86_SW_PROTECTED_VM":
      return JSON.stringify(k.vmTypes) === JSON.stringify(l.vmTypes);
    case "KVM_MEM_USERFAULT":
      return k.userfault === l.userfault;
    case "GMEM_INPLACE_CONVERSION":
      return k.gmemInplaceConversion === l.gmemInplaceConversion;
    case "UFFD_GUEST_MEMFD":
      return k.uffdGuestMemfd === l.uffdGuestMemfd;
    case "MEMORY_FAILURE":
      return k.memoryFailure === l.memoryFailure;
  }
}

/** Whether a configuration has a kernel feature (for the wording of a skip). */
function hasFeature(c: Config, f: ConfigCapability): boolean {
  const k = c.kernel;
  switch (f) {
    case "KVM_CAP_GUEST_MEMFD":
      return k.guestMemfd;
    case "GUEST_MEMFD_FLAG_MMAP":
      return k.guestMemfd && k.gmemFlags.includes("MMAP");
    case "GUEST_MEMFD_FLAG_INIT_SHARED":
      return k.guestMemfd && k.gmemFlags.includes("INIT_SHARED");
    case "KVM_CAP_MEMORY_ATTRIBUTES":
      return k.memoryAttributes;
    case "KVM_CAP_READONLY_MEM":
      return k.readonlyMem;
    case "KVM_CAP_MULTI_ADDRESS_SPACE":
      return k.addressSpaces > 1;
    case "KVM_X86_SW_PROTECTED_VM":
      return k.vmTypes.includes(1);
    case "KVM_MEM_USERFAULT":
      return k.userfault;
    case "GMEM_INPLACE_CONVERSION":
      return k.gmemInplaceConversion;
    case "UFFD_GUEST_MEMFD":
      return k.uffdGuestMemfd;
    case "MEMORY_FAILURE":
      return k.memoryFailure;
  }
}

/** A declared requirement: "NAME" (the host must have it) or "!NAME" (it must not). */
export interface Requirement {
  readonly capability: Capability;
  readonly present: boolean;
}

export type Plan =
  | { readonly run: true; readonly config: Config; readonly needs: readonly Requirement[] }
  | { readonly run: false; readonly skip: string; readonly needs: readonly Requirement[] };

/** Every requirement of a list of steps written for `written` (deduplicated, in first-use order), plus the declared ones. */
export function requirementsOf(steps: readonly Op[], written: Config, declared: readonly string[] = []): Requirement[] {
  const seen = new Map<Capability, Requirement>();
  const add = (r: Requirement): void => {
    if (!seen.has(r.capability)) seen.set(r.capability, r);
  };
  const gmemMaps = gmemMapsBefore(steps);
  for (const [i, op] of steps.entries()) {
    for (const c of hostNeeds(op)) add({ capability: c, present: true });
    for (const c of featuresTouched(op, gmemMaps[i])) add({ capability: c, present: hasFeature(written, c) });
  }
  for (const d of declared) add({ capability: d.replace(/^!/, "") as Capability, present: !d.startsWith("!") });
  return [...seen.values()];
}

/** Why a host cannot meet one requirement, or undefined when it can. */
export function unmet(host: Host, r: Requirement, written?: Config): string | undefined {
  const name = r.capability;
  if (host.excluded.has(name)) return `${r.present ? "needs" : "needs no"} ${name} (taken out by the override)`;
  const p = host.caps.get(name);
  const has = p?.present === true;
  const config = written !== undefined && isConfigCapability(name);
  // A kernel feature counts as met when the host configuration agrees with the one the scenario was written for.
  if (config && sameFeature(host.config, written, name)) return undefined;
  if (r.present && !has) return `needs ${name}`;
  if (!r.present && has) return `needs no ${name} (written for a kernel without it)`;
  if (config) return `needs ${name} as in its configuration`;
  return undefined;
}

/** Whether and how a scenario runs on a host: with the host's configuration (its arch and bugs kept), or skipped. */
export function planScenario(s: Scenario, host: Host): Plan {
  const written = resolveConfig(s.config);
  if (s.steps === undefined) return { run: false, skip: "a concurrent scenario (actors): sequential conformance replays steps only", needs: [] };
  const needs = requirementsOf(s.steps, written, s.requires ?? []);
  if (written.arch !== host.config.arch) return { run: false, skip: `needs ${written.arch} (this host is ${host.config.arch})`, needs };
  // Without guest_memfd its flags are missing too: name the capability, not each consequence.
  const noGmem = unmet(host, { capability: "KVM_CAP_GUEST_MEMFD", present: true }, written) !== undefined;
  const why = needs
    .filter((r) => !(noGmem && r.capability.startsWith("GUEST_MEMFD_FLAG_")))
    .map((r) => unmet(host, r, written))
    .filter((w): w is string => w !== undefined);
  if (why.length > 0) return { run: false, skip: why.join("; "), needs };
  return { run: true, config: { ...host.config, vcpus: written.vcpus, bugs: written.bugs }, needs };
}

/** Whether a step may be drawn by the random suite on this host (its needs met, no excluded feature touched). */
export function stepRuns(host: Host, op: Op, gmemMaps: ReadonlySet<string> = new Set()): boolean {
  const needs = [...hostNeeds(op).map((c) => ({ capability: c, present: true })), ...featuresTouched(op, gmemMaps).map((c) => ({ capability: c, present: hasFeature(host.config, c) }))];
  return needs.every((r) => unmet(host, r, host.config) === undefined);
}
