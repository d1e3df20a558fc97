// The host-memory suites of props/mm/files.ts exist for states the other suites reach too seldom.
import { focusedSuiteTests } from "./helpers/focused-suites.js";

focusedSuiteTests("the host-memory suites find what they exist for", [
  { suite: "mm-fault-around", bug: "fault-around-next-folio", property: "ptes-map-their-page" },
  { suite: "mm-shmem-zaps", bug: "munmap-no-notify", property: "stage2-maps-current-page" },
  { suite: "mm-hugetlb-gmem", bug: "file-fallocate-len-inclusive", property: "refinement.outcome" },
]);
