// The capability set and host configuration built from a probe, for machines this one is not: probes recorded from
// (or written for) each kind of kernel, so every path of the planner runs here whatever the kernel is.
import { describe, expect, it } from "vitest";
import { capabilitiesOf, hostConfig, hostOf, parseOverride, presetOf } from "../conformance/capabilities.js";
import { corpusFiles, loadCorpusScenario } from "../conformance/index.js";
import { parseProbe, type HostFiles } from "../conformance/probe.js";
import { planScenario, requirementsOf } from "../conformance/requirements.js";
import { PRESETS, resolveConfig } from "../schema/config.js";
import { UFFD_FEATURES } from "../schema/ops.js";

const files = (over: Record<string, string> = {}): HostFiles => {
  const all: Record<string, string> = {
    "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages": "4\n",
    "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages": "0\n",
    "/sys/kernel/mm/transparent_hugepage/enabled": "always [madvise] never\n",
    "/sys/kernel/mm/transparent_hugepage/shmem_enabled": "always within_size advise [never] deny force\n",
    ...over,
  };
  return {
    exists: (p) => p in all || Object.keys(all).some((k) => k.startsWith(`${p}/`)),
    read: (p) => all[p],
  };
};

/** The helper's __probe answer on a 6.18 build with guest_memfd MMAP|INIT_SHARED (docs/CONFORMANCE.md). */
const GMEM_KERNEL = {
  result: "probe",
  kvm: "ok",
  api: 12,
  maxphys: 48,
  caps: { USER_MEMORY: 1, NR_MEMSLOTS: 32764, MULTI_ADDRESS_SPACE: 0, READONLY_MEM: 1, USER_MEMORY2: 1, MEMORY_FAULT_INFO: 1, MEMORY_ATTRIBUTES: 0, GUEST_MEMFD: 1, VM_TYPES: 1, GUEST_MEMFD_FLAGS: 3, MANUAL_DIRTY_LOG_PROTECT2: 3 },
  vm_types: [0],
  guest: "ok",
  proposals: { KVM_MEM_USERFAULT: false, GMEM_INPLACE_CONVERSION: false, UFFD_GUEST_MEMFD: false },
  uffd: "ok",
  uffd_features: [...UFFD_FEATURES],
  uffd_ioctls: ["REGISTER", "UNREGISTER", "API"],
  dev_userfaultfd: "ok",
};
const NO_GMEM_KERNEL = { ...GMEM_KERNEL, caps: { ...GMEM_KERNEL.caps, GUEST_MEMFD: 0, GUEST_MEMFD_FLAGS: 0 } };
const NO_KVM = { result: "probe", kvm: "/dev/kvm: No such file or directory", uffd: "ok", uffd_features: [...UFFD_FEATURES], uffd_ioctls: [], dev_userfaultfd: "ok" };
const NO_UFFD = { ...NO_GMEM_KERNEL, uffd: "userfaultfd: Function not implemented", uffd_features: [], dev_userfaultfd: "/dev/userfaultfd: No such file or directory" };

const all = corpusFiles().map((f) => ({ name: f.split(/[\\/]/).slice(-2).join("/"), s: loadCorpusScenario(f) }));
/** The scenarios written for the 6.18 builds these machines run (the rest need a proposal, another arch or design). */
const corpus = all.filter(({ s }) => s.config.preset === "kernel-6.18" || s.config.preset === "kernel-6.18-no-gmem");
const skipped = (h: ReturnType<typeof hostOf>): Map<string, string> =>
  new Map(corpus.flatMap(({ name, s }) => {
    const p = planScenario(s, h);
    return p.run ? [] : [[name, p.skip] as const];
  }));

describe("host configurations from probes", () => {
  it("a guest_memfd 6.18 build is the kernel-6.18 preset, and every scenario written for 6.18 but 1 GiB pages and memory-failure handling runs there", () => {
    expect(corpus.length).toBeGreaterThan(100);
    const h = hostOf(parseProbe(GMEM_KERNEL, "", files()));
    expect(h.config).toEqual(PRESETS["kernel-6.18"]);
    expect(presetOf(h.config)).toBe("kernel-6.18");
    // Secret hiding's scenario needs the two posted series' flags, which no 6.18 build has.
    for (const [name, why] of skipped(h)) expect(why, name).toMatch(/needs HUGETLB_1G|needs MEMORY_FAILURE|needs no KVM_CAP_GUEST_MEMFD|needs GUEST_MEMFD_FLAG_(NO_DIRECT_MAP|WRITE)/);
  });

  it("a 6.18 build without guest_memfd is the kernel-6.18-no-gmem preset; exactly the guest_memfd scenarios skip", () => {
    const h = hostOf(parseProbe(NO_GMEM_KERNEL, "", files()));
    expect(presetOf(h.config)).toBe("kernel-6.18-no-gmem");
    expect(h.caps.get("KVM_CAP_GUEST_MEMFD")).toEqual({ present: false, why: "KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD) = 0" });
    const touchesGmem = (n: string): boolean => {
      const s = corpus.find((c) => c.name === n)!.s;
      return requirementsOf(s.steps ?? [], resolveConfig(s.config), s.requires).some((r) => r.capability === "KVM_CAP_GUEST_MEMFD" && r.present);
    };
    for (const { name } of corpus) {
      const why = skipped(h).get(name);
      if (touchesGmem(name)) expect(why, name).toContain("needs KVM_CAP_GUEST_MEMFD");
      else if (why !== undefined) expect(why, name).toMatch(/needs HUGETLB_1G|needs MEMORY_FAILURE/);
    }
  });

  it("secret hiding's scenario skips naming the flags a 6.18 build lacks, and runs where the probe has both series", () => {
    const s = loadCorpusScenario(corpusFiles().find((f) => f.endsWith("secret-write-then-host-fault.json"))!);
    const plan = (probe: typeof GMEM_KERNEL): string => {
      const p = planScenario(s, hostOf(parseProbe(probe, "", files())));
      return p.run ? "runs" : p.skip;
    };
    expect(plan(GMEM_KERNEL)).toMatch(/needs GUEST_MEMFD_FLAG_NO_DIRECT_MAP.*needs GUEST_MEMFD_FLAG_WRITE/);
    expect(plan({ ...GMEM_KERNEL, caps: { ...GMEM_KERNEL.caps, GUEST_MEMFD_FLAGS: 15 } })).toBe("runs");
    expect(plan(NO_GMEM_KERNEL)).toContain("needs KVM_CAP_GUEST_MEMFD");
  });

  it("without /dev/kvm: no KVM capability, the reason kept, KVM scenarios skip and host-memory ones run", () => {
    const h = hostOf(parseProbe(NO_KVM, "", files()));
    expect(h.caps.get("KVM")).toEqual({ present: false, why: "/dev/kvm: No such file or directory" });
    expect(h.caps.get("KVM_CAP_GUEST_MEMFD")?.why).toBe("/dev/kvm: No such file or directory");
    expect(h.caps.get("USERFAULTFD")?.present).toBe(true);
    const why = skipped(h);
    expect(why.get("memslots/create-read-write.json")).toContain("needs KVM");
    expect(why.has("host_memory/memfd-basics.json")).toBe(false);
    expect(why.has("uffd/missing-anon-zeropage.json")).toBe(false);
  });

  it("without userfaultfd: every uffd scenario skips naming USERFAULTFD; memslot scenarios run", () => {
    const h = hostOf(parseProbe(NO_UFFD, "", files()));
    const why = skipped(h);
    for (const { name, s } of corpus) {
      if ((s.steps ?? []).some((op) => op.op === "uffd_open")) expect(why.get(name), name).toContain("needs USERFAULTFD");
    }
    expect(why.has("memslots/create-read-write.json")).toBe(false);
    expect(h.caps.get("DEV_USERFAULTFD")?.present).toBe(false);
  });

  it("a kernel without KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 (or with ENABLE only) skips every dirty-log scenario, naming KVM_DIRTY_LOG_IOCTLS", () => {
    const present = hostOf(parseProbe(NO_GMEM_KERNEL, "", files()));
    expect(present.caps.get("KVM_DIRTY_LOG_IOCTLS")).toEqual({ present: true, why: "KVM_CHECK_EXTENSION(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) = 3" });
    const dirty = corpus.filter(({ s }) => (s.steps ?? []).some((op) => op.op === "get_dirty_log" || op.op === "clear_dirty_log" || op.op === "enable_cap"));
    expect(dirty.length).toBeGreaterThan(3);
    for (const value of [0, 1]) {
      const h = hostOf(parseProbe({ ...NO_GMEM_KERNEL, caps: { ...NO_GMEM_KERNEL.caps, MANUAL_DIRTY_LOG_PROTECT2: value } }, "", files()));
      expect(h.caps.get("KVM_DIRTY_LOG_IOCTLS")?.present).toBe(false);
      for (const { name } of dirty) expect(skipped(h).get(name), name).toContain("needs KVM_DIRTY_LOG_IOCTLS");
      expect(skipped(h).has("memslots/dirty-log.json")).toBe(false);
    }
  });

  it("a kernel missing one userfaultfd feature skips the scenarios that open a userfaultfd, naming the feature", () => {
    const h = hostOf(parseProbe({ ...NO_GMEM_KERNEL, uffd_features: UFFD_FEATURES.filter((f) => f !== "MOVE") }, "", files()));
    expect(skipped(h).get("uffd/missing-anon-zeropage.json")).toContain("needs UFFD_FEATURE_MOVE");
  });

  it("huge pages, THP modes and memory-failure handling come from the host's files", () => {
    const c = capabilitiesOf(parseProbe(NO_GMEM_KERNEL, "", files({
      "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages": "1\n",
      "/sys/kernel/mm/transparent_hugepage/shmem_enabled": "[always] within_size advise never deny force\n",
      "/proc/sys/vm/memory_failure_early_kill": "0\n",
    })));
    expect(c.get("HUGETLB_1G")?.present).toBe(true);
    expect(c.get("SHMEM_SMALL_PAGES")).toEqual({ present: false, why: "THP shmem_enabled [always] gives shmem huge folios" });
    expect(c.get("ANON_SMALL_PAGES")?.present).toBe(true);
    expect(c.get("MEMORY_FAILURE")?.present).toBe(true);
    const none = capabilitiesOf(parseProbe(NO_GMEM_KERNEL, "", { exists: () => false, read: () => undefined }));
    expect(none.get("HUGETLB_2M")?.why).toMatch(/hugepages-2048kB/);
    expect(none.get("MEMORY_FAILURE")?.present).toBe(false);
  });

  it("a kernel with the proposals applied gets them in its configuration, so conformance checks the model's version", () => {
    const p = parseProbe({ ...GMEM_KERNEL, proposals: { KVM_MEM_USERFAULT: true, GMEM_INPLACE_CONVERSION: true, UFFD_GUEST_MEMFD: true } }, "", files());
    const k = hostConfig(p).kernel;
    expect([k.userfault, k.gmemInplaceConversion, k.uffdGuestMemfd]).toEqual([true, true, true]);
    const why = skipped(hostOf(p));
    expect(why.get("memslots/userfault-model-only.json")).toBe("needs no KVM_MEM_USERFAULT (written for a kernel without it)");
  });

  it("no helper at all: every kernel capability is absent with the reason", () => {
    const h = hostOf(parseProbe(undefined, "no C compiler", files()));
    expect(h.caps.get("KVM")?.why).toBe("no C compiler");
    expect(h.caps.get("USERFAULTFD")?.why).toBe("no C compiler");
  });
});

describe("the capability override (FAULTLINE_CAPS, --caps)", () => {
  it("narrows and widens by name, and refuses an unknown name in one line", () => {
    expect(parseOverride("-KVM_CAP_GUEST_MEMFD, +KVM_MEM_USERFAULT")).toEqual({ narrow: ["KVM_CAP_GUEST_MEMFD"], widen: ["KVM_MEM_USERFAULT"] });
    expect(() => parseOverride("-GUEST_MEMFD")).toThrow(/capability override "-GUEST_MEMFD": expected -NAME or \+NAME with NAME one of KVM, /);
    expect(() => parseOverride("KVM")).toThrow(/expected -NAME or \+NAME/);
  });

  it("a narrowed feature skips both the scenarios that need it and those that need it absent", () => {
    const h = hostOf(parseProbe(GMEM_KERNEL, "", files()), "-KVM_CAP_GUEST_MEMFD");
    expect(h.config.kernel.guestMemfd).toBe(false);
    const why = skipped(h);
    expect(why.get("guest_memfd/bind-rules.json")).toBe("needs KVM_CAP_GUEST_MEMFD (taken out by the override)");
    expect(why.has("memslots/create-read-write.json")).toBe(false);
  });

  it("a widened proposal is assumed present and configured", () => {
    const h = hostOf(parseProbe(NO_GMEM_KERNEL, "", files()), "+KVM_MEM_USERFAULT");
    expect(h.caps.get("KVM_MEM_USERFAULT")).toEqual({ present: true, why: 'assumed by the override "+KVM_MEM_USERFAULT"' });
    expect(h.config.kernel.userfault).toBe(true);
  });
});
