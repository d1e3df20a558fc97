// What a scenario needs from the host: the capabilities its steps use (derived from the ops), the ones its file
// declares (`requires`), and the kernel features its expected outcomes were written for (its config) wherever a step
// touches them. A scenario the host cannot run is skipped with the capability named, never failed.
import { initial, step } from "../model/index.js";
import { MEMSLOT_RULES } from "../model/kvm/memslot.js";
import { resolveConfig, type Config } from "../schema/config.js";
import { decodeFlags, GMEM_FLAG_BITS, MEMSLOT_FLAG_BITS } from "../schema/flags.js";
import { UFFD_FEATURES, type CapName, type GmemFlagName, type Op } from "../schema/ops.js";
import type { Scenario } from "../schema/scenario.js";
import { isConfigCapability, type Capability, type ConfigCapability } from "../schema/capabilities.js";
import type { Host } from "./capabilities.js";

const KVM_OPS = new Set<Op["op"]>(["create_vm", "check_extension", "set_memory_region", "set_memory_attributes", "vcpu_access", "create_gmem"]);

/** What the names refer to before a step, as written: each fd name's kind, and the maps made from a guest_memfd. */
export interface Names {
  readonly kinds: ReadonlyMap<string, "vm" | "gmem" | "file" | "uffd">;
  readonly gmemMaps: ReadonlySet<string>;
}

/**
 * The kernel features (as capabilities) a step's outcome depends on. An fd field counts by what its name refers to:
 * gmem_mmap of a memfd is a memfd mapping, KVM_CREATE_GUEST_MEMFD on a memfd is ENOTTY with or without guest_memfd.
 * Without `names` (a random step on its own) every name may be of the kind its field is named after.
 */
export function featuresTouched(op: Op, names?: Names): ConfigCapability[] {
  const out: ConfigCapability[] = [];
  const fieldKind = { create_gmem: "vm", gmem_mmap: "gmem", gmem_fallocate: "gmem", gmem_convert: "gmem", gmem_write: "gmem", mmap: "gmem", file_fallocate: "gmem" } as const;
  const kind = (name: string): string => (names === undefined ? fieldKind[op.op as keyof typeof fieldKind] : (names.kinds.get(name) ?? "none"));
  const gmemMaps = names?.gmemMaps ?? new Set<string>();
  const gmem = (...flags: readonly GmemFlagName[]): void => {
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
      if (kind(op.vm) === "vm") gmem(...decodeFlags(op.flags, GMEM_FLAG_BITS).names);
      break;
    case "gmem_mmap":
      if (kind(op.gmem) === "gmem") gmem("MMAP");
      break;
    case "mmap":
      if (kind(op.file) === "gmem") gmem("MMAP");
      break;
    case "gmem_fallocate":
      if (kind(op.gmem) === "gmem") gmem();
      break;
    case "gmem_write":
      if (kind(op.gmem) === "gmem") gmem("WRITE");
      break;
    case "file_fallocate":
      if (kind(op.file) === "gmem") gmem();
      break;
    case "gmem_convert":
      if (kind(op.gmem) === "gmem") out.push("KVM_CAP_GUEST_MEMFD", "GMEM_INPLACE_CONVERSION");
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
    case "get_dirty_log":
    case "clear_dirty_log":
      // The address-space check (as_id >= kvm_arch_nr_memslot_as_ids) decides a slot id past 16 bits.
      if (op.slot >>> 16 !== 0) out.push("KVM_CAP_MULTI_ADDRESS_SPACE");
      break;
    case "userfault_rescan":
      out.push("KVM_MEM_USERFAULT", "KVM_USERFAULT_RESCAN");
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
  if (KVM_OPS.has(op.op) || op.op === "userfault_set" || op.op === "userfault_clear" || op.op === "userfault_rescan" || op.op === "gmem_convert") out.push("KVM");
  if (op.op === "close" && op.vm !== undefined) out.push("KVM");
  if (op.op === "gmem_state") out.push("GMEM_STATE_QUERY");
  if (op.op === "vcpu_hypercall") out.push("KVM_HYPERCALL_EXIT");
  if ((op.op === "set_memory_attributes" || op.op === "gmem_convert" || op.op === "gmem_fallocate") && (op.fail_nth ?? 0) > 0) out.push("FAIL_NTH");
  if (op.op === "set_memory_region" && op.ioctl !== "REGION") out.push("KVM_CAP_USER_MEMORY2");
  if (op.op === "vcpu_access") out.push("KVM_GUEST", "KVM_CAP_MEMORY_FAULT_INFO");
  if (op.op === "kvm_access") out.push("KVM", "KVM_GUEST_UACCESS");
  if (op.op === "enable_cap" || op.op === "get_dirty_log" || op.op === "clear_dirty_log") out.push("KVM", "KVM_DIRTY_LOG_IOCTLS");
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

/** What the names refer to before each step (a name is bound by the op that creates its object, as written). */
export function namesBefore(ops: readonly Op[]): Names[] {
  const kinds = new Map<string, "vm" | "gmem" | "file" | "uffd">();
  const maps = new Set<string>();
  return ops.map((op) => {
    const before: Names = { kinds: new Map(kinds), gmemMaps: new Set(maps) };
    if (op.op === "create_vm") kinds.set(op.vm, "vm");
    if (op.op === "create_gmem") kinds.set(op.gmem, "gmem");
    if (op.op === "memfd") kinds.set(op.file, "file");
    if (op.op === "uffd_open") kinds.set(op.uffd, "uffd");
    if (op.op === "close") for (const n of [op.vm, op.gmem, op.file, op.uffd]) if (n !== undefined) kinds.delete(n);
    const mapped = op.op === "gmem_mmap" ? op.gmem : op.op === "mmap" ? op.file : undefined;
    if (op.op === "gmem_mmap" || op.op === "mmap") {
      if (mapped !== undefined && kinds.get(mapped) === "gmem") maps.add(op.map);
      else maps.delete(op.map);
    }
    return before;
  });
}

/** A kernel feature's value in a configuration, as the probe would see it (the VM types, the address spaces, or a flag). */
function featureOf(c: Config, f: ConfigCapability): boolean | number | readonly number[] {
  const k = c.kernel;
  switch (f) {
    case "KVM_CAP_GUEST_MEMFD":
      return k.guestMemfd;
    case "GUEST_MEMFD_FLAG_MMAP":
      return k.guestMemfd && k.gmemFlags.includes("MMAP");
    case "GUEST_MEMFD_FLAG_INIT_SHARED":
      return k.guestMemfd && k.gmemFlags.includes("INIT_SHARED");
    case "GUEST_MEMFD_FLAG_NO_DIRECT_MAP":
      return k.guestMemfd && k.gmemFlags.includes("NO_DIRECT_MAP");
    case "GUEST_MEMFD_FLAG_WRITE":
      return k.guestMemfd && k.gmemFlags.includes("WRITE");
    case "KVM_CAP_MEMORY_ATTRIBUTES":
      return k.memoryAttributes;
    case "KVM_CAP_READONLY_MEM":
      return k.readonlyMem;
    case "KVM_CAP_MULTI_ADDRESS_SPACE":
      return k.addressSpaces;
    case "KVM_X86_SW_PROTECTED_VM":
      return k.vmTypes;
    case "KVM_MEM_USERFAULT":
      return k.userfault;
    case "GMEM_INPLACE_CONVERSION":
      return k.gmemInplaceConversion;
    case "UFFD_GUEST_MEMFD":
      return k.uffdGuestMemfd;
    case "MEMORY_FAILURE":
      return k.memoryFailure;
    case "KVM_USERFAULT_RESCAN":
      return k.userfaultRescan;
  }
}

/** Whether two configurations agree on a kernel feature. */
const sameFeature = (a: Config, b: Config, f: ConfigCapability): boolean => JSON.stringify(featureOf(a, f)) === JSON.stringify(featureOf(b, f));

/** Whether a configuration has a kernel feature (for the wording of a skip). */
function hasFeature(c: Config, f: ConfigCapability): boolean {
  const v = featureOf(c, f);
  if (typeof v === "boolean") return v;
  return typeof v === "number" ? v > 1 : v.includes(1);
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
  const names = namesBefore(steps);
  for (const [i, op] of steps.entries()) {
    for (const c of hostNeeds(op)) add({ capability: c, present: true });
    for (const c of featuresTouched(op, names[i])) add({ capability: c, present: hasFeature(written, c) });
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

/**
 * What of a configuration no probe can tell (a design choice, folio size, quirk, arch): a scenario written for other
 * values than the host configuration's needs a kernel built that way. The probed features are compared step by step.
 */
function unprobedDifferences(written: Config, host: Config): string[] {
  const out: string[] = [];
  const same = (what: string, a: unknown, b: unknown): void => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`needs ${what} ${JSON.stringify(a)} (this host: ${JSON.stringify(b)})`);
  };
  same("arch", written.arch, host.arch);
  same("gmemDesign", written.gmemDesign, host.gmemDesign);
  same("gmemFaultLock", written.gmemFaultLock, host.gmemFaultLock);
  same("gmemFolio", written.gmemFolio, host.gmemFolio);
  same("kernel.slotZapAll", written.kernel.slotZapAll, host.kernel.slotZapAll);
  same("kernel.userMemSlots (KVM_CAP_NR_MEMSLOTS)", written.kernel.userMemSlots, host.kernel.userMemSlots);
  return out;
}

/** The helper's own memslot for its guest's code and page tables (conformance/native: FL_GUEST_SLOT, FL_GUEST_GPA). */
export const HELPER_SLOT = { slot: 32700, gpa: 0xe0000000, size: 64 * 1024 } as const;

/** A step the helper cannot run as written because it would collide with its own memslot: why, or undefined. */
export function helperCollision(op: Op): string | undefined {
  const { slot, gpa, size } = HELPER_SLOT;
  const why = `collides with the helper's own memslot (slot ${slot}, gpa 0x${gpa.toString(16)} + 64 KiB)`;
  if (op.op === "set_memory_region" && op.slot >>> 16 === 0) {
    if ((op.slot & 0xffff) === slot) return why;
    if (op.memory_size > 0 && op.guest_phys_addr < gpa + size && gpa < op.guest_phys_addr + op.memory_size) return why;
  }
  if (op.op === "vcpu_access" && op.gpa >= gpa && op.gpa < gpa + size) return why;
  return undefined;
}

/**
 * A step that would meet the helper's memslot on the kernel: a memslot update the model lets through to the overlap
 * check (a refusal before it is the same either way), or a vCPU access in the helper's range.
 */
function collides(steps: readonly Op[], config: Config): string | undefined {
  let state = initial(config);
  for (const op of steps) {
    const r = step(state, op);
    const why = helperCollision(op);
    const reachesOverlap = op.op !== "set_memory_region" || !("errno" in r.outcome) || r.fired.includes(MEMSLOT_RULES.overlap.id);
    if (why !== undefined && reachesOverlap) return why;
    state = r.state;
  }
  return undefined;
}

/** Whether and how a scenario runs on a host: with the host's configuration (its vCPUs and bugs kept), or skipped. */
export function planScenario(s: Scenario, host: Host): Plan {
  const written = resolveConfig(s.config);
  if (s.steps === undefined) return { run: false, skip: "a concurrent scenario (actors): sequential conformance replays steps only", needs: [] };
  const needs = requirementsOf(s.steps, written, s.requires ?? []);
  const unprobed = unprobedDifferences(written, host.config);
  if (unprobed.length > 0) return { run: false, skip: unprobed.join("; "), needs };
  // Without guest_memfd its flags are missing too: name the capability, not each consequence.
  const noGmem = unmet(host, { capability: "KVM_CAP_GUEST_MEMFD", present: true }, written) !== undefined;
  const why = needs
    .filter((r) => !(noGmem && r.capability.startsWith("GUEST_MEMFD_FLAG_")))
    .map((r) => unmet(host, r, written))
    .filter((w): w is string => w !== undefined);
  if (why.length > 0) return { run: false, skip: why.join("; "), needs };
  const config = { ...host.config, vcpus: written.vcpus, bugs: written.bugs };
  const collision = collides(s.steps, config);
  if (collision !== undefined) return { run: false, skip: collision, needs };
  return { run: true, config, needs };
}

/** Whether a step may be drawn by the random suite on this host (its needs met, no excluded feature touched). */
export function stepRuns(host: Host, op: Op, names?: Names): boolean {
  if (helperCollision(op) !== undefined) return false;
  const needs = [...hostNeeds(op).map((c) => ({ capability: c, present: true })), ...featuresTouched(op, names).map((c) => ({ capability: c, present: hasFeature(host.config, c) }))];
  return needs.every((r) => unmet(host, r, host.config) === undefined);
}
