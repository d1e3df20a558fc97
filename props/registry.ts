// Every suite `faultline check` runs, in order. Each area adds its suites here.
import { CONCURRENT_SUITES } from "./concurrent/suites.js";
import type { Suite } from "./suite.js";
import { GMEM_EDGE_SUITES } from "./gmem/edges.js";
import { GMEM_FAILURE_SUITES } from "./gmem/failures.js";
import { CONVERSION_PROTOCOL_RACE, CONVERSION_PROTOCOL_SUITES } from "./gmem/conversion.js";
import { GMEM_RACES } from "./gmem/races.js";
import { GMEM_SEQUENTIAL_SUITES } from "./gmem/suites.js";
import { GMEM_SECRET_SUITE, SECRET_RACE } from "./gmem/secret.js";
import { KVM_EDGE_SUITES } from "./kvm-edges.js";
import { MM_SUITES } from "./mm/files.js";
import { SEQUENTIAL_SUITES } from "./suites.js";
import { HOST_FAULT_RACE, UFFD_RACE } from "./uffd/races.js";
import { UFFD_EDGE_SUITES } from "./uffd/edges.js";
import { UFFD_SUITES } from "./uffd/suites.js";
import { PROGRESS_SUITES } from "./progress.js";
import { POSTCOPY_KVM_RACE, POSTCOPY_RACE, POSTCOPY_RACE_ARM64, POSTCOPY_SHAPE_RACES } from "./postcopy/race.js";
import { POSTCOPY_SUITES } from "./postcopy/suite.js";
import { POSTCOPY_SHAPE_SUITES } from "./postcopy/backings.js";
import { UFFD_GMEM_DESIGN_SUITES } from "./postcopy/designs.js";
import { REFUSAL_SUITES } from "./refusals.js";
import { VARIANT_CHECK_SUITES } from "./variants.js";
import { DIRTY_LOG_RACES, DIRTY_LOG_SUITES } from "./dirty-log.js";
import { PROGRESS_RACES } from "./progress-races.js";
import { POISON_RACES } from "./poison/race.js";
import { POISON_SUITES } from "./poison/suite.js";

export const SUITES: readonly Suite[] = [
  ...SEQUENTIAL_SUITES,
  ...KVM_EDGE_SUITES,
  ...GMEM_SEQUENTIAL_SUITES,
  ...GMEM_EDGE_SUITES,
  ...GMEM_FAILURE_SUITES,
  GMEM_SECRET_SUITE,
  ...CONVERSION_PROTOCOL_SUITES,
  ...UFFD_SUITES,
  ...UFFD_EDGE_SUITES,
  ...MM_SUITES,
  ...POSTCOPY_SUITES,
  ...POSTCOPY_SHAPE_SUITES,
  ...UFFD_GMEM_DESIGN_SUITES,
  ...PROGRESS_SUITES,
  ...VARIANT_CHECK_SUITES,
  ...DIRTY_LOG_SUITES,
  ...POISON_SUITES,
  ...REFUSAL_SUITES,
  ...CONCURRENT_SUITES,
  ...GMEM_RACES,
  SECRET_RACE,
  CONVERSION_PROTOCOL_RACE,
  UFFD_RACE,
  HOST_FAULT_RACE,
  POSTCOPY_RACE,
  POSTCOPY_RACE_ARM64,
  POSTCOPY_KVM_RACE,
  ...POSTCOPY_SHAPE_RACES,
  ...DIRTY_LOG_RACES,
  ...PROGRESS_RACES,
  ...POISON_RACES,
];

export const suiteNamed = (name: string): Suite | undefined => SUITES.find((s) => s.name === name);
