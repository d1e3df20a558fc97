// The userfaultfd-on-guest_memfd designs (config.uffdGmemDesign) against VMM uffd handlers written for each: post-copy
// on guest_memfd 4 KiB mapped through its mmap, no KVM Userfault, so every vCPU and VMM-thread fault goes through uffd.
// A suite per design draws the handlers that work on it; tools/uffd-gmem-designs.ts runs every design x handler cell
// and writes the table into docs/UFFD.md, with a stored counterexample per cell that breaks.
import fc from "fast-check";
import { PRESETS, UFFD_GMEM_DESIGNS, type UffdGmemDesign } from "../../schema/config.js";
import { shapeArbitrary } from "./backings.js";
import type { PostcopyScenario, UffdHandler } from "./scenario.js";
import { runPostcopySuite, type PostcopySuite } from "./suite.js";

/** Which handlers run unchanged on each design (what the table of docs/UFFD.md shows; the others break there). */
export const WORKS_ON: Readonly<Record<UffdGmemDesign, readonly UffdHandler[]>> = {
  "vm-uffd-ops": ["vm-uffd-ops", "missing-only"],
  "guestmem-v6": ["vm-uffd-ops", "minor-only"],
  "v1-hybrid": ["missing-only"],
  "v2-minor-first": ["vm-uffd-ops", "minor-only"],
};

const SHAPE = { backing: "gmem", userfault: false, maxPages: 3, maxEvents: 20 } as const;

/** Post-copy scenarios on guest_memfd, with the handler drawn from `handlers`. */
export const designArbitrary = (handlers: readonly UffdHandler[]): fc.Arbitrary<PostcopyScenario> =>
  fc.tuple(shapeArbitrary(SHAPE), fc.constantFrom(...handlers)).map(([sc, handler]) => ({ ...sc, handler }));

function designSuite(name: string, description: string, design: UffdGmemDesign, handlers: readonly UffdHandler[], runs: number): PostcopySuite {
  const s: PostcopySuite = {
    name,
    description,
    kind: "sequential",
    area: "postcopy",
    config: { ...PRESETS.default, uffdGmemDesign: design },
    arbitrary: designArbitrary(handlers),
    runs,
    run: (opts) => runPostcopySuite(s, opts),
  };
  return s;
}

/** One cell of the table: a handler written for one design on a kernel of another (the tool's, not the default check's). */
export const cellSuite = (design: UffdGmemDesign, handler: UffdHandler, runs: number): PostcopySuite =>
  designSuite(`uffd-gmem-${design}--${handler}-handler`, `post-copy on guest_memfd under ${design}, the uffd handler written ${handler}`, design, [handler], runs);

/** The default check's suites: each design with the handlers that work on it (drawn per scenario). */
export const UFFD_GMEM_DESIGN_SUITES: readonly PostcopySuite[] = UFFD_GMEM_DESIGNS.map((d) =>
  designSuite(
    `postcopy-uffd-gmem-${d}`,
    `post-copy on guest_memfd 4 KiB (every fault through uffd) under the ${d} design, with the uffd handlers that work there (${WORKS_ON[d].join(", ")})`,
    d,
    WORKS_ON[d],
    30,
  ),
);
