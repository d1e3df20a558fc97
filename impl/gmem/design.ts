// Which guest_memfd design is in force, from the configuration alone: a leaf both impl/gmem and impl/kvm read.
import type { Config } from "../../schema/config.js";

/** The in-place conversion series (v8, or its v7 variant) is in the kernel, switched on or not. */
export const isInplace = (c: Config): boolean => c.kernel.gmemInplaceConversion && (c.gmemDesign === "v8" || c.gmemDesign === "v7");

/** KVM asks guest_memfd for private/shared: v8's gmem_in_place_conversion, v7's vm_memory_attributes=0. */
export function gmemOwnsAttributes(c: Config): boolean {
  if (!isInplace(c)) return false;
  if (c.gmemDesign === "v7") return !c.kernel.memoryAttributes;
  return c.kernel.gmemInPlaceParam === "default" ? !c.kernel.memoryAttributes : c.kernel.gmemInPlaceParam === "on";
}

export const isRfc2024 = (c: Config): boolean => c.kernel.gmemInplaceConversion && c.gmemDesign === "rfc-2024";
