// What one schedule step changed in KVM, read from the implementation's own structures (an INVALID memslot,
// mmu_invalidate_seq and in_progress, the root generation), for the race diagrams.
import { MEM, type MemFlag } from "../../impl/kvm/kvm.js";
import type { Kernel } from "../../impl/system.js";
import { LEVEL_PAGES } from "../../model/consts.js";

const hex = (n: number): string => `0x${n.toString(16)}`;
const SIZES = ["4K", "2M", "1G"] as const;
const FLAGS = Object.keys(MEM) as MemFlag[];

/** The KVM facts of a kernel, keyed so that a diff can say what appeared, went or changed. */
export function kvmFacts(k: Kernel): Map<string, string> {
  const out = new Map<string, string>();
  k.vms.forEach((kvm, v) => {
    const vm = k.vms.length > 1 ? `vm${v} ` : "";
    for (const slots of kvm.memslots) {
      for (const s of slots.sorted) {
        const flags = FLAGS.filter((f) => s.flags & MEM[f]);
        out.set(`${vm}memslot ${s.slot}`, `gfn ${hex(s.baseGfn)}+${s.npages} [${flags.join(",")}]${s.invalid ? " INVALID" : ""}`);
      }
    }
    kvm.stage2.forEach((s2, as) => {
      for (const { gfn, leaf } of s2.leaves()) {
        const end = gfn + LEVEL_PAGES[leaf.level] - 1;
        out.set(`${vm}spte${as > 0 ? ` as${as}` : ""} gfn ${hex(gfn)}${end > gfn ? `-${hex(end)}` : ""}`, `${SIZES[leaf.level]} ${leaf.writable ? "rw" : "ro"}${leaf.private ? " private" : ""}`);
      }
    });
    for (const sp of kvm.attributes.spans()) out.set(`${vm}PRIVATE gfn ${hex(sp.start)}-${hex(sp.end - 1)}`, "set");
    for (const [slot, bits] of kvm.bitmaps) {
      for (const r of bits.runs()) out.set(`${vm}userfault bit slot ${slot} gfn+${r.start}${r.end - 1 > r.start ? `-${r.end - 1}` : ""}`, "set");
    }
    out.set(`${vm}mmu_invalidate_seq`, String(kvm.mmuInvalidateSeq));
    if (kvm.mmuInvalidateInProgress > 0) {
      out.set(`${vm}mmu_invalidate_in_progress`, `${kvm.mmuInvalidateInProgress} (gfn ${hex(kvm.mmuInvalidateRangeStart)}-${hex(kvm.mmuInvalidateRangeEnd - 1)})`);
    }
    if (kvm.rootGen > 0) out.set(`${vm}mmu_valid_gen`, String(kvm.rootGen));
  });
  return out;
}

/** Short lines for what changed: "+key value", "-key", "key: old -> new"; many SPTEs at once are counted. */
export function diffFacts(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const lines: string[] = [];
  const gone: string[] = [];
  const added: string[] = [];
  for (const [k, v] of before) {
    const now = after.get(k);
    if (now === undefined) gone.push(k);
    else if (now !== v) lines.push(`${k}: ${v} -> ${now}`);
  }
  for (const [k, v] of after) if (!before.has(k)) added.push(`${k}${v === "set" ? "" : ` ${v}`}`);
  const sptes = gone.filter((k) => k.includes("spte"));
  const zap = sptes.length > 3 ? [`-${sptes.length} SPTEs (zap)`] : sptes.map((k) => `-${k}`);
  return [...lines, ...gone.filter((k) => !k.includes("spte")).map((k) => `-${k}`), ...zap, ...added.map((k) => `+${k}`)];
}
