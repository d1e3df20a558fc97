// The sequential refinement suites `faultline check` runs by default.
import type fc from "fast-check";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { ANON, GMEM, HUGETLB, SHARED_GMEM, setupOf, type Layout } from "./layouts.js";
import { runSequentialSuite } from "./run.js";
import type { Area, Suite } from "./suite.js";

export interface SequentialSuite extends Suite {
  readonly kind: "sequential";
  readonly config: Config;
  readonly layout: Layout;
  readonly setup: readonly Op[];
  /** The longest command list per run. */
  readonly maxCommands: number;
  /** The suite's own op generator (default: props/generators.ts opArbitrary). */
  readonly arbitrary?: (layout: Layout, config: Config) => fc.Arbitrary<Op>;
}

function suite(name: string, description: string, config: Config, layout: Layout, vmType: number, runs: number, area: Area = "kvm"): SequentialSuite {
  const s: SequentialSuite = {
    name,
    description,
    kind: "sequential",
    area,
    config,
    layout,
    setup: setupOf(layout, vmType),
    runs,
    maxCommands: 60,
    run: (opts) => runSequentialSuite(s, opts),
  };
  return s;
}

export const SEQUENTIAL_SUITES: readonly SequentialSuite[] = [
  suite("kvm-anon-x86", "memslots, KVM Userfault and attributes over anonymous memory (x86, software-protected VM)", PRESETS.default, ANON, 1, 800),
  suite("kvm-anon-smm-x86", "the same layout on a default VM, the only kind with address space 1 (SMM): slots and faults in both address spaces", PRESETS.default, ANON, 0, 300),
  suite("kvm-hugetlb-x86", "huge stage-2 mappings over hugetlbfs: USERFAULT, dirty logging, recovery, mixed attributes (x86)", PRESETS.default, HUGETLB, 1, 800),
  suite("kvm-hugetlb-arm64", "the same layout on arm64: no huge-page recovery, no private memory", PRESETS.arm64, HUGETLB, 0, 600),
  suite("kvm-gmem-x86", "guest_memfd-bound slots: private faults, GMEM_ONLY, late USERFAULT on guest_memfd slots (x86)", PRESETS.default, GMEM, 1, 600),
  suite("kvm-kernel-6.18", "the running kernel's feature set: default VM, shared guest_memfd, no proposals", PRESETS["kernel-6.18"], SHARED_GMEM, 0, 400),
];
