// The VMM side of KVM Userfault: plain stores into its bitmap buffer (KVM only ever reads it).
import type { OpOf } from "../../schema/ops.js";
import { SEGV_MAPERR, type Outcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { Hooks } from "../hooks.js";
import type { Kvm } from "./kvm.js";

export async function userfaultWrite(bugs: Bugs, kvm: Kvm, op: OpOf<"userfault_set"> | OpOf<"userfault_clear">, h: Hooks): Promise<Outcome> {
  const bitmap = kvm.bitmaps.get(op.slot);
  // userfault.no-buffer: the write must end at or before the slot's last bit.
  if (bitmap === undefined || op.gfn_offset + op.npages > bitmap.bits - (bugs.has("userfault-write-end-exclusive") ? 1 : 0)) return SEGV_MAPERR;
  bitmap.assign(op.gfn_offset, op.gfn_offset + op.npages, op.op === "userfault_set");
  await h.yield(op.op === "userfault_set" ? "userfault_bitmap:set" : "userfault_bitmap:clear_release");
  return { result: "ok" };
}
