// The sequential userfaultfd suites: one per memory type, model against implementation step by step.
import type { Suite } from "../suite.js";
import { ANON, GMEM, GMEM_INPLACE, HUGETLB, PRIVATE_FILE, SHMEM, type UffdLayout } from "./layouts.js";
import { uffdOps } from "./generators.js";
import { opSuite, type OpSuite } from "./run.js";

const suite = (l: UffdLayout, runs: number): OpSuite => opSuite(`uffd-${l.name}`, l.description, "uffd", l.config, l.setup, uffdOps(l), runs);

export const UFFD_SUITES: readonly OpSuite[] = [
  suite(ANON, 600),
  suite(SHMEM, 600),
  suite(PRIVATE_FILE, 400),
  suite(HUGETLB, 160),
  suite(GMEM, 500),
  suite(GMEM_INPLACE, 300),
  // The userfaultfd-on-guest_memfd designs before vm_uffd_ops (config.uffdGmemDesign; docs/UFFD.md).
  ...(["guestmem-v6", "v1-hybrid", "v2-minor-first"] as const).map((d) =>
    opSuite(`uffd-gmem-${d}`, `${GMEM.description}, under the ${d} userfaultfd-on-guest_memfd design`, "uffd", { ...GMEM.config, uffdGmemDesign: d }, GMEM.setup, uffdOps(GMEM), 100),
  ),
];

/**
 * Not in the default check: userfaultfd on guest_memfd as the uffd series posted it, meeting in-place conversion v8.
 * Nothing in vm_uffd_ops looks at private/shared, so a CONTINUE (or a COPY) maps a private page into the host
 * (counterexamples/ keeps the shortest such run; docs/GMEM.md).
 */
export const UFFD_GMEM_AS_POSTED: OpSuite = opSuite(
  "uffd-gmem-as-posted",
  "uffd on guest_memfd as posted (vm_uffd_ops ignore private pages) with in-place conversion v8: the host maps a private page",
  "uffd",
  { ...GMEM_INPLACE.config, uffdGmemPrivate: "as-posted" },
  GMEM_INPLACE.setup,
  uffdOps(GMEM_INPLACE),
  300,
);

export const uffdSuite = (name: string): Suite | undefined => UFFD_SUITES.find((s) => s.name === name);
