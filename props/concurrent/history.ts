// The history of a concurrent run: each operation's call and return in real-time order, and its check
// against the model: some order of the model's atomic steps must give every recorded outcome, respect
// real-time order, and (at a quiescent point) end in the implementation's abstract state.
import { PAGE_SIZE } from "../../model/consts.js";
import type { Spte } from "../../model/kvm/types.js";
import { alsoReached, alternatives, canonical, canonicalText, firstDifference, step } from "../../model/index.js";
import type { State, StepResult } from "../../model/index.js";
import { get, spans, type RangeMap } from "../../model/ranges.js";
import { locate } from "../../model/mm/pages.js";
import type { Mapping, PagePointer, Pte } from "../../model/mm/types.js";
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { sameOutcome } from "../outcomes.js";
import { linearize, type Operation, type SequentialSpec } from "./linearizability.js";

export interface RaceOp {
  readonly actor: string;
  /** Position in the actor's steps. */
  readonly index: number;
  readonly op: Op;
  /** Schedule steps that began and ended the operation. */
  readonly callStep: number;
  retStep: number;
  /** Event times: real-time order of calls and returns. */
  readonly call: number;
  ret: number;
  impl?: Outcome;
  /** The model's outcome and deciding rules where a linearization (or its longest prefix) placed it. */
  model?: Outcome;
  fired?: readonly string[];
}

export class History {
  readonly ops: RaceOp[] = [];
  private clock = 0;
  private inFlight = 0;
  /** Index in `ops` where the segment since the last quiescent cut starts. */
  private cut = 0;

  invoke(actor: string, index: number, op: Op, stepIndex: number): RaceOp {
    const r: RaceOp = { actor, index, op, callStep: stepIndex, retStep: -1, call: this.clock++, ret: -1 };
    this.ops.push(r);
    this.inFlight++;
    return r;
  }

  respond(r: RaceOp, outcome: Outcome, stepIndex: number): void {
    r.impl = outcome;
    r.ret = this.clock++;
    r.retStep = stepIndex;
    this.inFlight--;
  }

  /** No operation in flight and something completed since the last cut. */
  get quiescent(): boolean {
    return this.inFlight === 0 && this.cut < this.ops.length;
  }

  /** The operations since the last cut; the next segment starts after them. */
  takeSegment(): RaceOp[] {
    const seg = this.ops.slice(this.cut);
    this.cut = this.ops.length;
    return seg;
  }
}

export type SegmentVerdict =
  /** `final` is the model's state after `order`, `path` after each op of it; the implementation's agrees with it. */
  | {
      readonly kind: "ok";
      readonly order: readonly RaceOp[];
      readonly path: readonly State[];
      readonly final: State;
      readonly overlapping: boolean;
    }
  | { readonly kind: "undecided" }
  /** Every outcome is explained, but no explanation ends in the implementation's state. */
  | {
      readonly kind: "state";
      readonly order: readonly RaceOp[];
      readonly path: readonly State[];
      readonly detail: string;
      readonly model: unknown;
      readonly impl: unknown;
    }
  /** No order explains the outcomes: `stuck` is the first operation the longest explanation could not take. */
  | {
      readonly kind: "outcome";
      readonly prefix: readonly RaceOp[];
      readonly path: readonly State[];
      readonly pre: State;
      readonly stuck: RaceOp;
      readonly expected: Outcome;
    };

/**
 * What a quiescent implementation state must equal in the model. Left out, and compared by hostWithin and
 * staleSpte instead: host page presence and PTEs, which a fault that retries may leave behind, and stage 2.
 */
export function observable(s: State): unknown {
  const maps = new Map([...s.mm.maps].map(([id, m]) => [id, { ...m, ptes: [], anon: [] }]));
  return canonical({
    ...s,
    kvm: { ...s.kvm, vms: s.kvm.vms.map((vm) => ({ ...vm, stage2: [] })) },
    gmem: { ...s.gmem, inodes: s.gmem.inodes.map((g) => ({ ...g, present: [] })) },
    mm: { ...s.mm, files: s.mm.files.map((f) => ({ ...f, present: [] })), maps },
  });
}

/** Whether `inner` is covered by `outer`, index by index: the first index that is not, or undefined. */
function covered(inner: RangeMap<unknown>, outer: RangeMap<unknown>): number | undefined {
  for (const span of inner) {
    let at = span.start;
    for (const o of spans(outer, span.start, span.end)) {
      if (o.start > at) return at;
      at = o.end;
    }
    if (at < span.end) return at;
  }
  return undefined;
}

/** The pieces of [start, end) as `m` divides it, gaps included (value undefined). */
function pieces<V>(m: RangeMap<V>, start: number, end: number): { start: number; value: V | undefined }[] {
  const out: { start: number; value: V | undefined }[] = [];
  let at = start;
  for (const s of spans(m, start, end)) {
    if (s.start > at) out.push({ start: at, value: undefined });
    out.push({ start: s.start, value: s.value });
    at = s.end;
  }
  if (at < end) out.push({ start: at, value: undefined });
  return out;
}

/**
 * Why the implementation's host PTE `impl` cannot stand where the model has `model` (undefined: none), or
 * undefined when it can. A fault that retried (a vCPU's GUP before it exited) keeps what it faulted in, so
 * the implementation may be one fault further than the model, as far as the mapping type allows a fault to go:
 * - a private page (a COW done, the zero page replaced) only in a MAP_PRIVATE mapping: in a MAP_SHARED one a
 *   fault maps the page cache and a write reaches the file (mm/memory.c do_shared_fault, do_cow_fault);
 * - a writable page-cache PTE only in a MAP_SHARED mapping with PROT_WRITE: a MAP_PRIVATE mapping maps the file
 *   read-only and copies on write (mm/memory.c do_read_fault, do_wp_page -> wp_page_copy);
 * - writable only with PROT_WRITE, and nothing under PROT_NONE (arch/x86/mm/fault.c access_error);
 * - never read-only where the model's is writable, never another page than the model's (but its private copy),
 *   never another uffd-wp bit.
 */
function pteProblem(map: Mapping, model: Pte | undefined, impl: Pte): string | undefined {
  if (map.prot === "none") return "a PTE in a PROT_NONE mapping";
  if (impl.writable && map.prot !== "rw") return "a writable PTE in a mapping without PROT_WRITE";
  if (impl.target !== "file" && map.shared) return `${impl.target === "anon" ? "a private page" : "the zero page"} in a MAP_SHARED mapping`;
  if (impl.target === "file" && map.backing.kind === "anon") return "a page-cache PTE in an anonymous mapping";
  if (impl.target === "file" && impl.writable && !map.shared) return "a writable page-cache PTE in a MAP_PRIVATE mapping";
  if (impl.target === "zero" && impl.writable) return "a writable zero-page PTE";
  if (model === undefined) return undefined;
  if (impl.uffdWp !== model.uffdWp) return "another uffd-wp bit than the model's";
  if (model.writable && !impl.writable) return "read-only where the model's PTE is writable";
  if (impl.target !== model.target && impl.target !== "anon") return `the ${impl.target} page where the model maps the ${model.target} one`;
  return undefined;
}

const pteText = (p: Pte | undefined): unknown => p ?? null;

/** Host PTEs and private pages of one mapping: the model's, each kept or taken one fault further, and others the mapping allows. */
function mappingWithin(id: string, m: Mapping, i: Mapping): { detail: string; model: unknown; impl: unknown } | undefined {
  const lost = covered(m.ptes, i.ptes);
  if (lost !== undefined) return { detail: `${id} page ${lost} has lost its host PTE`, model: get(m.ptes, lost), impl: null };
  for (const span of i.ptes) {
    const dead = covered([span], m.live);
    if (dead !== undefined) return { detail: `${id} page ${dead} has a host PTE but no VMA maps it`, model: null, impl: span.value };
    for (const piece of pieces(m.ptes, span.start, span.end)) {
      const why = pteProblem(m, piece.value, span.value);
      const which = piece.value === undefined ? "a host PTE no fault makes in this mapping" : "another host PTE than the model's";
      const detail = `${id} page ${piece.start} has ${which}: ${why}`;
      if (why !== undefined) return { detail, model: pteText(piece.value), impl: span.value };
    }
  }
  const anon = covered(m.anon, i.anon);
  if (anon !== undefined) return { detail: `${id} page ${anon} has lost its private page`, model: "private page", impl: null };
  const shared = m.shared ? i.anon[0]?.start : undefined;
  if (shared !== undefined) {
    return { detail: `${id} page ${shared} has a private page in a MAP_SHARED mapping`, model: null, impl: "private page" };
  }
  const dead = covered(i.anon, m.live);
  if (dead !== undefined) return { detail: `${id} page ${dead} has a private page but no VMA maps it`, model: null, impl: "private page" };
  return undefined;
}

/**
 * Host memory the model has that the implementation lacks or holds differently. GUP in a vCPU fault that
 * then retried and exited keeps what it faulted in, which the model's atomic vcpu_access cannot show: the
 * implementation may hold more pages and PTEs than the model, never fewer or others, and only those a fault
 * could have made in that mapping (pteProblem).
 */
export function hostWithin(model: State, impl: State): { detail: string; model: unknown; impl: unknown } | undefined {
  for (const [id, m] of model.mm.maps) {
    const i = impl.mm.maps.get(id);
    const problem = i === undefined ? undefined : mappingWithin(id, m, i);
    if (problem !== undefined) return problem;
  }
  for (const [f, file] of model.mm.files.entries()) {
    const at = covered(file.present, impl.mm.files[f]?.present ?? []);
    if (at !== undefined) return { detail: `file ${f} page ${at} has left the page cache`, model: "page-cache page", impl: null };
  }
  for (const [g, inode] of model.gmem.inodes.entries()) {
    const at = covered(inode.present, impl.gmem.inodes[g]?.present ?? []);
    if (at !== undefined) return { detail: `guest_memfd ${g} page ${at} has lost its folio`, model: "folio", impl: null };
  }
  return undefined;
}

/**
 * The state the next segment starts from: the model's own final state, with only what the comparison lets the
 * implementation have beyond it (observable(), staleSpte, hostWithin): the stage-2 mappings it has not made or
 * has zapped already, and the host PTEs, private pages, page-cache pages and folios a retried fault left.
 * Everything else of the implementation's state was checked equal, and none of it is taken.
 */
export function carryOver(model: State, impl: State): State {
  const vms = model.kvm.vms.map((vm, v) => ({ ...vm, stage2: impl.kvm.vms[v]?.stage2 ?? vm.stage2 }));
  const maps = new Map(
    [...model.mm.maps].map(([id, m]) => {
      const i = impl.mm.maps.get(id);
      return [id, i === undefined ? m : { ...m, ptes: i.ptes, anon: i.anon }] as const;
    }),
  );
  const files = model.mm.files.map((f, k) => ({ ...f, present: impl.mm.files[k]?.present ?? f.present }));
  const inodes = model.gmem.inodes.map((g, k) => ({ ...g, present: impl.gmem.inodes[k]?.present ?? g.present }));
  return { ...model, kvm: { ...model.kvm, vms }, gmem: { ...model.gmem, inodes }, mm: { ...model.mm, files, maps } };
}

const observableText = (s: State): string => JSON.stringify(observable(s));

const hex = (n: number): string => `0x${n.toString(16)}`;
const spteText = (v: Spte): string => `level ${v.level}${v.writable ? " writable" : ""}${v.private ? " private" : ""}`;

/** A page pointer made absolute: its owner and the owner's page index (pointers are relative to where they sit). */
const pageAt = (p: PagePointer, at: number): string =>
  p.in === "zero" || p.in === "freed" ? p.in : `${p.in} ${p.in === "anon" ? p.map : p.in === "file" ? p.file : p.inode} ${at + p.delta}`;

/**
 * Whether the implementation's writable SPTE at `gfn`, where the model's is read-only, maps the writable host page
 * the implementation holds one fault further than the model at the slot's hva (hostWithin): a vCPU's GUP that
 * retried left that page (a write fault's private copy), and a later fault of the same gfn maps it writable, as the
 * model's would from that host state. Not in a READONLY or dirty-logged slot, whose SPTEs stay read-only anyway.
 */
function hostFurther(model: State, impl: State, v: number, as: number, gfn: number, spte: Spte): boolean {
  const slot = model.kvm.vms[v]?.slots.find((sl) => sl.as === as && gfn >= sl.baseGfn && gfn < sl.baseGfn + sl.npages);
  if (slot === undefined || spte.private || slot.flags.includes("READONLY") || slot.flags.includes("LOG_DIRTY_PAGES")) return false;
  const hva = slot.userspaceAddr + (gfn - slot.baseGfn) * PAGE_SIZE;
  const m = locate(model, hva);
  const i = locate(impl, hva);
  const modelPte = m === undefined ? undefined : get(m.map.ptes, m.index);
  const implPte = i === undefined ? undefined : get(i.map.ptes, i.index);
  if (i === undefined || implPte === undefined || !implPte.writable || modelPte?.writable === true) return false;
  return pageAt(implPte.page, i.index) === pageAt(spte.page, gfn);
}

/**
 * An implementation SPTE the model does not allow: where the model maps nothing, or more than it (a higher
 * level, writable where it is read-only, the other private bit). Less is allowed: stage 2 is a cache, and a
 * zap that lands after a concurrent fault (the USERFAULT-enable zap runs after the new flags are published)
 * leaves fewer mappings than the model's atomic steps. Writable where the model's is read-only is allowed only
 * for the host page a retried fault left (hostFurther).
 */
export function staleSpte(model: State, impl: State): { detail: string; model: Spte | null; impl: Spte } | undefined {
  for (const [v, vm] of impl.kvm.vms.entries()) {
    for (const [as, s2] of vm.stage2.entries()) {
      for (const span of s2) {
        let at = span.start;
        for (const m of spans(model.kvm.vms[v]?.stage2[as] ?? [], span.start, span.end)) {
          const further = (): boolean => {
            for (let gfn = Math.max(at, m.start); gfn < Math.min(span.end, m.end); gfn++) {
              if (!hostFurther(model, impl, v, as, gfn, span.value)) return false;
            }
            return true;
          };
          const within =
            m.value.private === span.value.private &&
            span.value.level <= m.value.level &&
            (!span.value.writable || m.value.writable || (span.value.level === 0 && further()));
          if (m.start > at) break;
          if (!within) {
            const detail = `vm ${v} gfn ${hex(m.start)} is mapped ${spteText(span.value)} where the model maps ${spteText(m.value)}`;
            return { detail, model: m.value, impl: span.value };
          }
          at = m.end;
        }
        if (at < span.end) {
          return { detail: `vm ${v} gfn ${hex(at)} is mapped ${spteText(span.value)} where the model maps nothing`, model: null, impl: span.value };
        }
      }
    }
  }
  return undefined;
}

const agrees =
  (implText: string, impl: State) =>
  (s: State): boolean =>
    observableText(s) === implText && staleSpte(s, impl) === undefined && hostWithin(s, impl) === undefined;

/** The model's step that gives `out` for `op` from `s`: step()'s own, or an alternative the concurrent ops allow. */
export function explain(s: State, op: Op, out: Outcome, concurrent: readonly Op[] = []): StepResult | undefined {
  const r = step(s, op);
  if (sameOutcome(r.outcome, out)) return r;
  for (const alt of alternatives(s, op, concurrent)) if (sameOutcome(alt.outcome, out)) return alt;
  return undefined;
}

/**
 * The model's step for `op` from `pre` that the linearization took: the one ending in `post` when alsoReached
 * offered more than one state for the outcome. `before`: the state the segment started in.
 */
export function explainTaken(
  pre: State,
  op: Op,
  out: Outcome,
  concurrent: readonly Op[],
  before: State,
  post: State,
): StepResult | undefined {
  const first = explain(pre, op, out, concurrent);
  if (first === undefined || first.state === post) return first;
  const key = canonicalText(post);
  if (canonicalText(first.state) === key) return first;
  return alsoReached(pre, op, concurrent, before).find((r) => sameOutcome(r.outcome, out) && canonicalText(r.state) === key) ?? first;
}

/** The ops of the segment whose call-return interval overlaps r's. */
export const concurrentWith = (seg: readonly RaceOp[], r: RaceOp): Op[] =>
  seg.filter((x) => x !== r && x.call < r.ret && r.call < x.ret).map((x) => x.op);

/** A linearizability input: the op and what ran concurrently with it. */
interface Input {
  readonly op: Op;
  readonly concurrent: readonly Op[];
}

const spec = (init: State, accept?: (s: State) => boolean): SequentialSpec<State, Input, Outcome> => ({
  init,
  step: (s, input, out) => explain(s, input.op, out, input.concurrent)?.state,
  also: (s, input, out) =>
    alsoReached(s, input.op, input.concurrent, init).flatMap((r) => (sameOutcome(r.outcome, out) ? [r.state] : [])),
  key: canonicalText,
  ...(accept === undefined ? {} : { accept }),
});

/** Linearizes a segment that starts at model state `start` and ends quiescent in `impl`. */
export function checkSegment(start: State, seg: readonly RaceOp[], impl: State, budget: number): SegmentVerdict {
  const ops: Operation<Input, Outcome>[] = seg.map((r) => ({
    input: { op: r.op, concurrent: concurrentWith(seg, r) },
    output: r.impl!,
    call: r.call,
    ret: r.ret,
  }));
  const v = linearize(spec(start, agrees(observableText(impl), impl)), ops, budget);
  if (v.kind === "ok") {
    const overlapping = seg.some((a, i) => seg.some((b, j) => i < j && a.call < b.ret && b.call < a.ret));
    return { kind: "ok", order: v.order.map((i) => seg[i]!), path: v.path, final: v.final, overlapping };
  }
  if (v.kind === "undecided") return v;
  const outcomes = linearize(spec(start), ops, budget);
  if (outcomes.kind === "ok") {
    const taken = { order: outcomes.order.map((i) => seg[i]!), path: outcomes.path };
    const d = firstDifference(observable(outcomes.final), observable(impl));
    if (d !== undefined) return { kind: "state", ...taken, detail: `they differ at ${d.path}`, model: d.left, impl: d.right };
    const stale = staleSpte(outcomes.final, impl);
    if (stale !== undefined) return { kind: "state", ...taken, detail: stale.detail, model: stale.model, impl: stale.impl };
    const host = hostWithin(outcomes.final, impl)!;
    return { kind: "state", ...taken, detail: host.detail, model: host.model, impl: host.impl };
  }
  if (outcomes.kind === "undecided") return outcomes;
  const prefix = outcomes.deepest.order.map((i) => seg[i]!);
  const stuck = seg[outcomes.stuck]!;
  const pre = outcomes.deepest.state;
  return { kind: "outcome", prefix, path: outcomes.deepest.path, pre, stuck, expected: step(pre, stuck.op).outcome };
}
