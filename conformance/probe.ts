// What the running kernel offers, probed and never assumed: KVM_CHECK_EXTENSION, KVM_CREATE_VM types, the proposals by
// what they do, UFFDIO_API, /dev/userfaultfd (all through the native helper), and the memory settings in /sys and /proc.
import { existsSync, readFileSync } from "node:fs";
import type { Reply } from "./native.js";

export interface HostProbe {
  /** "ok", or why /dev/kvm cannot be used. */
  readonly kvm: string;
  readonly api: number;
  readonly maxphys: number;
  /** KVM_CHECK_EXTENSION on /dev/kvm, by the CAPS name without KVM_CAP_. */
  readonly caps: Readonly<Record<string, number>>;
  readonly vmTypes: readonly number[];
  /** "ok", or why a vCPU cannot run the helper's guest here. */
  readonly guest: string;
  /** Proposals found by behaviour (conformance/native: probe_userfault, probe_inplace, probe_uffd_gmem). */
  readonly proposals: { readonly KVM_MEM_USERFAULT: boolean; readonly GMEM_INPLACE_CONVERSION: boolean; readonly UFFD_GUEST_MEMFD: boolean };
  /** "ok", or why userfaultfd(2) + UFFDIO_API cannot be used. */
  readonly uffd: string;
  readonly uffdFeatures: readonly string[];
  readonly uffdIoctls: readonly string[];
  /** "ok", or why /dev/userfaultfd + USERFAULTFD_IOC_NEW cannot be used. */
  readonly devUserfaultfd: string;
  /** Huge pages of each size: "ok", or why a scenario could not reserve them. */
  readonly hugetlb2M: string;
  readonly hugetlb1G: string;
  /** /sys/kernel/mm/transparent_hugepage: the selected mode of `enabled` (anonymous) and `shmem_enabled`. */
  readonly thpAnon: string;
  readonly thpShmem: string;
  /** CONFIG_MEMORY_FAILURE: poisoned pages raise SIGBUS with BUS_MCEERR_AR instead of BUS_ADRERR (arch fault.c do_sigbus). */
  readonly memoryFailure: boolean;
}

/** The host's memory settings, read from files (a parameter so tests can give any machine's). */
export interface HostFiles {
  exists(path: string): boolean;
  read(path: string): string | undefined;
}

export const REAL_FILES: HostFiles = {
  exists: (p) => existsSync(p),
  read: (p) => {
    try {
      return readFileSync(p, "utf8");
    } catch {
      return undefined;
    }
  },
};

const HUGE = "/sys/kernel/mm/hugepages";
const THP = "/sys/kernel/mm/transparent_hugepage";

/** The bracketed choice of a THP mode file ("always within_size advise [never] deny force" -> "never"). */
const selected = (text: string | undefined): string => /\[([a-z_]+)\]/.exec(text ?? "")?.[1] ?? "unknown";

/**
 * 2 MiB pages are reserved per scenario through nr_hugepages (conformance/hugepages.ts), which takes root; 1 GiB pages
 * cannot be counted on to be allocated late, so only pages already free count.
 */
function hugePages(files: HostFiles, kib: number, reserveLate: boolean): string {
  const dir = `${HUGE}/hugepages-${kib}kB`;
  if (!files.exists(dir)) return `no ${dir} (hugetlbfs without that page size)`;
  const free = Number(files.read(`${dir}/free_hugepages`)?.trim() ?? "0");
  if (free > 0) return "ok";
  if (reserveLate && process.getuid?.() === 0 && files.exists("/proc/sys/vm/nr_hugepages")) return "ok";
  return reserveLate ? "no free 2 MiB pages and not root (nr_hugepages cannot be raised)" : `no free 1 GiB pages reserved (${dir}/free_hugepages is 0)`;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
const text = (v: unknown, missing: string): string => (typeof v === "string" ? v : missing);

/** The probe from the helper's `__probe` answer (undefined when there is no helper) and the host's files. */
export function parseProbe(r: Reply | undefined, why: string, files: HostFiles = REAL_FILES): HostProbe {
  const p = (r?.proposals ?? {}) as Record<string, unknown>;
  return {
    kvm: text(r?.kvm, why),
    api: typeof r?.api === "number" ? r.api : 0,
    maxphys: typeof r?.maxphys === "number" ? r.maxphys : 0,
    caps: (r?.caps ?? {}) as Record<string, number>,
    vmTypes: Array.isArray(r?.vm_types) ? (r.vm_types as number[]) : [],
    guest: text(r?.guest, r?.kvm === "ok" ? "not probed" : why),
    proposals: {
      KVM_MEM_USERFAULT: p.KVM_MEM_USERFAULT === true,
      GMEM_INPLACE_CONVERSION: p.GMEM_INPLACE_CONVERSION === true,
      UFFD_GUEST_MEMFD: p.UFFD_GUEST_MEMFD === true,
    },
    uffd: text(r?.uffd, why),
    uffdFeatures: strings(r?.uffd_features),
    uffdIoctls: strings(r?.uffd_ioctls),
    devUserfaultfd: text(r?.dev_userfaultfd, why),
    hugetlb2M: hugePages(files, 2048, true),
    hugetlb1G: hugePages(files, 1048576, false),
    thpAnon: selected(files.read(`${THP}/enabled`)),
    thpShmem: selected(files.read(`${THP}/shmem_enabled`)),
    memoryFailure: files.exists("/proc/sys/vm/memory_failure_early_kill"),
  };
}

/** Asks the helper; a helper that cannot be built or started leaves every kernel capability out, with the reason. */
export async function probeHost(send: ((op: Record<string, unknown>) => Promise<Reply>) | undefined, why = "no native helper"): Promise<HostProbe> {
  if (send === undefined) return parseProbe(undefined, why);
  const r = await send({ op: "__probe" });
  if (r.result !== "probe") return parseProbe(undefined, `the helper's probe failed: ${JSON.stringify(r)}`);
  return parseProbe(r, why);
}
