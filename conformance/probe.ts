// Feature detection: what the running kernel offers (KVM_CHECK_EXTENSION, KVM_CREATE_VM types, UFFDIO_API), and
// whether that is the kernel-6.18 configuration the conformance corpus is written for.
import { accessSync, constants } from "node:fs";
import { PRESETS, type Config } from "../schema/config.js";
import type { Helper } from "./native.js";

export interface KernelProbe {
  readonly api: number;
  readonly maxphys: number;
  readonly caps: Readonly<Record<string, number>>;
  readonly vmTypes: readonly number[];
  /** "ok", or why a vCPU cannot run the helper's guest here. */
  readonly guest: string;
  /** "ok", or why userfaultfd is not usable. */
  readonly uffd: string;
  readonly uffdFeatures: readonly string[];
}

export interface Features {
  readonly probe: KernelProbe;
  readonly kvm: boolean;
  readonly uffd: boolean;
  readonly guest: boolean;
  readonly minorShmem: boolean;
  readonly minorHugetlbfs: boolean;
  readonly poison: boolean;
}

/** Why conformance cannot run on this machine at all, or undefined when /dev/kvm and userfaultfd are usable. */
export function unusableReason(): string | undefined {
  for (const dev of ["/dev/kvm", "/dev/userfaultfd"]) {
    try {
      accessSync(dev, constants.R_OK | constants.W_OK);
    } catch {
      return `${dev} is not usable here`;
    }
  }
  return undefined;
}

export async function probe(helper: Helper): Promise<Features> {
  const r = await helper.send({ op: "__probe" });
  if (r.result !== "probe") throw new Error(`probe failed: ${JSON.stringify(r)}`);
  const p: KernelProbe = {
    api: r.api as number,
    maxphys: r.maxphys as number,
    caps: r.caps as Record<string, number>,
    vmTypes: r.vm_types as number[],
    guest: r.guest as string,
    uffd: r.uffd as string,
    uffdFeatures: (r.uffd_features as string[] | undefined) ?? [],
  };
  const has = (f: string): boolean => p.uffdFeatures.includes(f);
  return {
    probe: p,
    kvm: p.api === 12,
    uffd: p.uffd === "ok",
    guest: p.guest === "ok",
    minorShmem: has("MINOR_SHMEM"),
    minorHugetlbfs: has("MINOR_HUGETLBFS"),
    poison: has("POISON"),
  };
}

/** The differences between the probed kernel and a configuration's kernel features (empty when they match). */
export function mismatches(f: Features, config: Config = PRESETS["kernel-6.18"]): string[] {
  const k = config.kernel;
  const c = f.probe.caps;
  const out: string[] = [];
  const expect = (what: string, got: unknown, want: unknown): void => {
    if (JSON.stringify(got) !== JSON.stringify(want)) out.push(`${what}: kernel ${JSON.stringify(got)}, configuration ${JSON.stringify(want)}`);
  };
  expect("KVM_CREATE_VM types", f.probe.vmTypes, k.vmTypes);
  expect("KVM_CAP_NR_MEMSLOTS", c.NR_MEMSLOTS, k.userMemSlots);
  expect("KVM_CAP_MULTI_ADDRESS_SPACE", c.MULTI_ADDRESS_SPACE, k.addressSpaces > 1 ? k.addressSpaces : 0);
  expect("KVM_CAP_READONLY_MEM", c.READONLY_MEM === 1, k.readonlyMem);
  expect("KVM_CAP_MEMORY_ATTRIBUTES", (c.MEMORY_ATTRIBUTES ?? 0) !== 0, k.memoryAttributes);
  expect("KVM_CAP_GUEST_MEMFD", c.GUEST_MEMFD === 1, k.guestMemfd);
  const flags = c.GUEST_MEMFD_FLAGS ?? 0;
  expect("KVM_CAP_GUEST_MEMFD_FLAGS", [...(flags & 1 ? ["MMAP"] : []), ...(flags & 2 ? ["INIT_SHARED"] : [])], [...k.gmemFlags]);
  expect("KVM_CAP_USER_MEMORY2", c.USER_MEMORY2, 1);
  expect("KVM_CAP_MEMORY_FAULT_INFO", c.MEMORY_FAULT_INFO, config.arch === "x86" ? 1 : 0);
  expect("userfaultfd", f.uffd, true);
  expect("UFFD_FEATURE_MINOR_SHMEM", f.minorShmem, true);
  expect("UFFD_FEATURE_MINOR_HUGETLBFS", f.minorHugetlbfs, true);
  return out;
}
