// Secret hiding's invariants: no kernel access through a removed direct-map entry, every mapping of a NO_DIRECT_MAP
// file's page set up after its folio left the direct map, and no read clearing what write() put in a page.
import type { StateInvariant, StepInvariant, Verdict } from "../invariants.js";
import { covers, size } from "../ranges.js";
import type { State } from "../state.js";
import { gmemLeaves, hostPtes } from "./invariants.js";

const ok = (nonVacuous: boolean): Verdict => ({ holds: true, nonVacuous });
const broken = (detail: string): Verdict => ({ holds: false, nonVacuous: true, detail });

const anyRemoved = (s: State): boolean => s.gmem.inodes.some((g) => g.noDirectMap !== undefined && size(g.noDirectMap) > 0);

/** An oops in a kernel: a load or store through a direct-map entry guest_memfd took away. */
const noDirectMapAccess: StateInvariant = {
  name: "gmem-no-direct-map-access",
  kind: "state",
  when: "always",
  description: "no kernel-side access (clearing, write(), KVM's own copies) reads or writes a guest_memfd folio through a direct-map entry it removed",
  check: (s) => {
    for (const [id, g] of s.gmem.inodes.entries()) {
      const at = g.directMapFaults?.[0];
      if (at !== undefined) return broken(`the kernel touched page ${at} of guest_memfd #${id} through its removed direct-map entry`);
    }
    return ok(anyRemoved(s));
  },
};

/** [PATCH v12 10/16]: "Direct map entries are zapped right before guest or userspace mappings of gmem folios are set up". */
const mappedOutOfDirectMap: StateInvariant = {
  name: "gmem-mapped-out-of-direct-map",
  kind: "state",
  when: "always",
  description: "every page of a NO_DIRECT_MAP guest_memfd that a host PTE or a stage-2 leaf maps has left the kernel's direct map",
  check: (s) => {
    let any = false;
    for (const p of hostPtes(s)) {
      const removed = s.gmem.inodes[p.inode]!.noDirectMap;
      if (removed === undefined) continue;
      any = true;
      if (!covers(removed, p.start, p.end)) return broken(`${p.map} maps page(s) [${p.start}, ${p.end}) of guest_memfd #${p.inode} still in the direct map`);
    }
    for (const l of gmemLeaves(s)) {
      if (l.inode.noDirectMap === undefined) continue;
      any = true;
      if (covers(l.inode.noDirectMap, l.start, l.end)) continue;
      return broken(`vm #${l.vm} maps gfn ${l.gfn} to guest_memfd pages [${l.start}, ${l.end}) still in the direct map`);
    }
    return ok(any);
  },
};

const READS = new Set(["vcpu_access", "kvm_access", "access"]);

/** What write() put in a page is what the guest reads: a fault clears only a folio not yet uptodate. */
const readKeepsContents: StepInvariant = {
  name: "gmem-read-keeps-contents",
  kind: "step",
  description: "a read or instruction fetch (vCPU, KVM, host) changes no byte of any guest_memfd: a fault never clears a prepared folio",
  check: (pre, op, _outcome, post) => {
    if (!READS.has(op.op) || !("kind" in op) || op.kind === "write") return ok(false);
    let any = false;
    for (const [id, g] of pre.gmem.inodes.entries()) {
      const after = post.gmem.inodes[id]!;
      if (g.prepared === undefined || g.data.size === 0) continue;
      any = true;
      if (after.data === g.data) continue;
      for (const [index, bytes] of g.data) {
        if (JSON.stringify(after.data.get(index)) !== JSON.stringify(bytes)) return broken(`${op.op} changed page ${index} of guest_memfd #${id}`);
      }
    }
    return ok(any);
  },
};

export const DIRECT_MAP_STATE_INVARIANTS: readonly StateInvariant[] = [noDirectMapAccess, mappedOutOfDirectMap];
export const DIRECT_MAP_STEP_INVARIANTS: readonly StepInvariant[] = [readKeepsContents];
