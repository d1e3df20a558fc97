// Every numeric bound the model's checks enforce, one per bounded rule (model/bound.ts); props/bounds.ts draws values
// on both sides of each and counts which side a check reached.
import type { AnyBound } from "./bound.js";
import { CONVERT_BOUNDS } from "./gmem/convert.js";
import { FALLOCATE_BOUNDS } from "./gmem/fallocate.js";
import { GMEM_BOUNDS } from "./gmem/file.js";
import { ATTRIBUTE_BOUNDS } from "./kvm/attributes.js";
import { DIRTY_LOG_BOUNDS } from "./kvm/dirty-log.js";
import { VCPU_BOUNDS } from "./kvm/fault.js";
import { MEMSLOT_BOUNDS } from "./kvm/memslot.js";
import { USERFAULT_BOUNDS } from "./kvm/userfault.js";
import { FAULT_BOUNDS } from "./mm/fault.js";
import { MM_BOUNDS } from "./mm/ops.js";
import { IOCTL_BOUNDS } from "./uffd/ioctl.js";
import { RANGE_BOUNDS } from "./uffd/register.js";

export const BOUND_GROUPS: Readonly<Record<string, Readonly<Record<string, AnyBound>>>> = {
  MEMSLOT_BOUNDS,
  ATTRIBUTE_BOUNDS,
  VCPU_BOUNDS,
  USERFAULT_BOUNDS,
  GMEM_BOUNDS,
  CONVERT_BOUNDS,
  FALLOCATE_BOUNDS,
  MM_BOUNDS,
  FAULT_BOUNDS,
  RANGE_BOUNDS,
  IOCTL_BOUNDS,
  DIRTY_LOG_BOUNDS,
};

/** Every bound by the id of the rule it belongs to. */
export const BOUNDS: ReadonlyMap<string, AnyBound> = new Map(
  Object.values(BOUND_GROUPS)
    .flatMap((g) => Object.values(g))
    .map((b) => [b.rule.id, b]),
);
