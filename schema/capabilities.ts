// Capability names: what a scenario can need from the host it runs on (conformance/capabilities.ts probes them).
import * as t from "io-ts";
import { UFFD_FEATURES } from "./ops.js";

/** Capabilities that are kernel features of the configuration (config.ts KernelFeatures), by their uAPI names. */
export const CONFIG_CAPABILITIES = [
  "KVM_CAP_GUEST_MEMFD",
  "GUEST_MEMFD_FLAG_MMAP",
  "GUEST_MEMFD_FLAG_INIT_SHARED",
  "GUEST_MEMFD_FLAG_NO_DIRECT_MAP",
  "GUEST_MEMFD_FLAG_WRITE",
  "KVM_CAP_MEMORY_ATTRIBUTES",
  "KVM_CAP_READONLY_MEM",
  "KVM_CAP_MULTI_ADDRESS_SPACE",
  "KVM_X86_SW_PROTECTED_VM",
  "KVM_MEM_USERFAULT",
  "GMEM_INPLACE_CONVERSION",
  "UFFD_GUEST_MEMFD",
  "MEMORY_FAILURE",
  "KVM_USERFAULT_RESCAN",
] as const;

/** Capabilities the native helper needs to run a step at all, or that the model assumes of the host's memory. */
export const HOST_CAPABILITIES = [
  "KVM",
  "KVM_GUEST",
  "KVM_GUEST_UACCESS",
  "KVM_DIRTY_LOG_IOCTLS",
  "KVM_CAP_USER_MEMORY2",
  "KVM_CAP_MEMORY_FAULT_INFO",
  "USERFAULTFD",
  "DEV_USERFAULTFD",
  ...UFFD_FEATURES.map((f) => `UFFD_FEATURE_${f}` as const),
  "HUGETLB_2M",
  "HUGETLB_1G",
  "ANON_SMALL_PAGES",
  "SHMEM_SMALL_PAGES",
  "GMEM_STATE_QUERY",
  "KVM_HYPERCALL_EXIT",
  "FAIL_NTH",
] as const;

export type ConfigCapability = (typeof CONFIG_CAPABILITIES)[number];
export type Capability = ConfigCapability | (typeof HOST_CAPABILITIES)[number];
export const CAPABILITIES: readonly Capability[] = [...HOST_CAPABILITIES, ...CONFIG_CAPABILITIES];

export const isCapability = (s: string): s is Capability => (CAPABILITIES as readonly string[]).includes(s);
export const isConfigCapability = (s: string): s is ConfigCapability => (CONFIG_CAPABILITIES as readonly string[]).includes(s);

/** A scenario's declared requirement: "NAME" (the host must have it) or "!NAME" (it must not). */
export const RequirementCodec = new t.Type<string, string, unknown>(
  "capability requirement",
  (u): u is string => typeof u === "string" && isCapability(u.replace(/^!/, "")),
  (u, c) =>
    typeof u === "string" && isCapability(u.replace(/^!/, ""))
      ? t.success(u)
      : t.failure(u, c, `expected a capability name, or "!" and one (docs/CONFORMANCE.md lists them)`),
  t.identity,
);
