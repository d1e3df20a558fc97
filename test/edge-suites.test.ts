// The edge suites (props/gmem/edges.ts, props/uffd/edges.ts, props/kvm-edges.ts) exist for states the broad suites
// reach too seldom.
import { focusedSuiteTests } from "./helpers/focused-suites.js";

focusedSuiteTests("the edge suites find what they exist for", [
  { suite: "gmem-edges", bug: "gmem-bind-end-exclusive", property: "refinement.outcome" },
  { suite: "gmem-edges-2m", bug: "gmem-split-misses-last-folio", property: "refinement.state" },
  { suite: "kvm-edges", bug: "gmem-huge-ignores-split", property: "stage2-in-slot" },
  { suite: "uffd-edges", bug: "uffd-move-keeps-src", property: "ptes-map-their-page" },
]);
