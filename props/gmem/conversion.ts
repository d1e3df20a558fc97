// A confidential VM's conversion protocol end to end (issue 20, item 1). The guest asks with KVM_HC_MAP_GPA_RANGE
// (model/kvm/hypercall.ts); the VMM serves the exit the way a CoCo VMM does: convert the guest_memfd pieces of the
// range (v8/v7: KVM_SET_MEMORY_ATTRIBUTES2 per file; the 2024 RFC: KVM_SET_MEMORY_ATTRIBUTES over the gpa range), and
// when the kernel refuses because something holds a page (EAGAIN with error_offset; the RFC's EINVAL) drop what the VMM
// itself holds there (its DMA pins; under the RFC its own mappings too) and retry. Three properties of the whole:
// - conversion-terminates: each retry gets further; the VMM is done within (pinned pages + 2) rounds;
// - conversion-keeps-contents: every page of the folios the range touches reads as before (both designs convert in
//   place: [PATCH v8 13/46], [RFC PATCH 29/39]);
// - conversion-folio-whole: with huge folios, the range's present pages are 4 KiB after going shared, and a folio that
//   is wholly private after going private is one folio again ([RFC PATCH 39/39]), as gmem_state reports it.
import fc from "fast-check";
import { PAGE_SIZE, gfnOf } from "../../model/consts.js";
import { folioPagesOf } from "../../model/gmem/folio.js";
import type { State } from "../../model/index.js";
import { get } from "../../model/ranges.js";
import { PRESETS, type Config } from "../../schema/config.js";
import type { Op, OpOf } from "../../schema/ops.js";
import type { GmemRangeState, Outcome } from "../../schema/outcome.js";
import { checksInvariant, PropertyFailure, type Checker, type Checks } from "../checker.js";
import { runConcurrentSuite, type ConcurrentSuite } from "../concurrent/explore.js";
import { pctSteps } from "../concurrent/run-lengths.js";
import { setupOf } from "../layouts.js";
import { runOpListSuite } from "../run.js";
import type { SequentialSuite } from "../suites.js";
import { pkvmMode } from "../../model/gmem/pkvm.js";
import { gmemOpArbitrary } from "./generators.js";
import { GMEM_RFC, GMEM_V7, type GmemLayout } from "./layouts.js";

export const CONVERSION_TERMINATES = "conversion-terminates";
export const CONVERSION_KEEPS_CONTENTS = "conversion-keeps-contents";
export const CONVERSION_FOLIO_WHOLE = "conversion-folio-whole";

/** The part of the range one guest_memfd backs: its file name, the map showing it to the VMM, page indexes. */
interface Piece {
  readonly gmem: string;
  readonly inode: number;
  readonly map: string | undefined;
  readonly start: number;
  readonly end: number;
}

/** The guest_memfd pieces of [gpa, gpa + size) through the VM's memslots (address space 0), in slot order. */
function piecesOf(s: State, vm: string, gpa: number, size: number, files: GmemLayout["gmems"]): Piece[] {
  const vmId = s.kvm.names.get(vm);
  if (vmId === undefined) return [];
  const first = gfnOf(gpa);
  const last = first + size / PAGE_SIZE;
  const out: Piece[] = [];
  for (const slot of s.kvm.vms[vmId]!.slots) {
    const a = Math.max(first, slot.baseGfn);
    const b = Math.min(last, slot.baseGfn + slot.npages);
    if (slot.as !== 0 || slot.gmem === null || a >= b) continue;
    const inode = slot.gmem.inode;
    const gmem = [...s.gmem.names].find(([, id]) => id === inode)?.[0];
    if (gmem === undefined) continue;
    out.push({ gmem, inode, map: files.find((f) => f.name === gmem)?.map, start: slot.gmem.pgoff + a - slot.baseGfn, end: slot.gmem.pgoff + b - slot.baseGfn });
  }
  return out;
}

const isOk = (o: Outcome): boolean => "result" in o && o.result === "ok";

/** The folio-aligned page range around a piece, inside the file. */
function folioSpan(s: State, p: Piece): { start: number; end: number } {
  const inode = s.gmem.inodes[p.inode]!;
  const fp = inode.folioPages;
  return { start: p.start - (p.start % fp), end: Math.min(Math.ceil(p.end / fp) * fp, inode.size / PAGE_SIZE) };
}

/** Each page's contents in the implementation's state (canonical text), across the folios the pieces touch. */
function contents(s: State, pieces: readonly Piece[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of pieces) {
    const span = folioSpan(s, p);
    const data = s.gmem.inodes[p.inode]!.data;
    for (let i = span.start; i < span.end; i++) out.set(`${p.gmem}:${i}`, JSON.stringify(data.get(i) ?? []));
  }
  return out;
}

type Round = { readonly done: true } | { readonly done: false; readonly busy: number | undefined; readonly outcome: Outcome };

class Protocol {
  rounds = 0;
  constructor(
    private readonly m: Checker,
    private readonly checks: Checks,
    private readonly exitStep: number,
  ) {}

  private fail(property: string, expected: unknown, actual: unknown, detail: string): never {
    throw new PropertyFailure({ property, step: this.m.ops.length - 1, expected, actual, detail: `serving the exit of step ${this.exitStep}: ${detail}` }, [...this.m.ops]);
  }

  /** The conversion call the VMM makes, and what it answered. */
  private async convert(op: Op): Promise<Round> {
    this.rounds++;
    await this.m.apply(op);
    const o = this.m.trace.at(-1)!.impl;
    if (isOk(o)) return { done: true };
    const busy = !("result" in o) && o.errno === "EAGAIN" && o.error_offset !== undefined ? o.error_offset / PAGE_SIZE : undefined;
    return { done: false, busy, outcome: o };
  }

  /** Drops the VMM's own pins on page `index` of a piece; false if it cannot (no map of its own shows the file). */
  private async unpin(p: Piece, index: number): Promise<boolean> {
    const pins = get(this.m.implementationStates.after.gmem.inodes[p.inode]!.pins, index) ?? 0;
    if (pins > 0 && p.map === undefined) return false;
    for (let n = 0; n < pins; n++) {
      await this.m.apply({ op: "unpin", map: p.map!, offset: index * PAGE_SIZE });
      if (!isOk(this.m.trace.at(-1)!.impl)) return false;
    }
    return true;
  }

  private pinnedPages(p: Piece): number {
    const pins = this.m.implementationStates.after.gmem.inodes[p.inode]!.pins;
    let n = 0;
    for (let i = p.start; i < p.end; i++) if ((get(pins, i) ?? 0) > 0) n++;
    return n;
  }

  /** v8/v7: KVM_SET_MEMORY_ATTRIBUTES2 over the piece, EAGAIN answered by unpinning the page error_offset names. */
  async servePiece(p: Piece, to: "private" | "shared"): Promise<boolean> {
    const op: Op = { op: "gmem_convert", gmem: p.gmem, offset: p.start * PAGE_SIZE, size: (p.end - p.start) * PAGE_SIZE, to };
    const limit = this.pinnedPages(p) + 2;
    let last: number | undefined;
    for (let round = 0; round < limit; round++) {
      const r = await this.convert(op);
      if (r.done) return true;
      if (r.busy === undefined) return false; // an answer the VMM cannot act on (a closed file, an unsupported VM)
      if (r.busy === last && checksInvariant(this.checks, CONVERSION_TERMINATES)) {
        this.fail(CONVERSION_TERMINATES, "a retry that gets further", r.outcome, `the VMM dropped every pin of page ${last} and the retry names it again`);
      }
      if (r.busy < p.start || r.busy >= p.end || !(await this.unpin(p, r.busy))) return false;
      last = r.busy;
    }
    if (checksInvariant(this.checks, CONVERSION_TERMINATES)) this.fail(CONVERSION_TERMINATES, `done within ${limit} rounds`, "still EAGAIN", `${limit} rounds of unpinning and retrying`);
    return false;
  }

  /** The 2024 RFC: KVM_SET_MEMORY_ATTRIBUTES over the gpa range; EINVAL (mapped or pinned) answered by dropping both. */
  async serveRange(vm: string, gpa: number, size: number, pieces: readonly Piece[], toPrivate: boolean): Promise<boolean> {
    const op: Op = { op: "set_memory_attributes", vm, address: gpa, size, attributes: toPrivate ? ["PRIVATE"] : [] };
    const first = await this.convert(op);
    if (first.done) return true;
    if (!toPrivate || !("errno" in first.outcome) || first.outcome.errno !== "EINVAL") return false;
    for (const p of pieces) {
      if (p.map === undefined) continue;
      await this.m.apply({ op: "madvise", map: p.map, offset: p.start * PAGE_SIZE, len: (p.end - p.start) * PAGE_SIZE, advice: "DONTNEED" });
      for (let i = p.start; i < p.end; i++) if (!(await this.unpin(p, i))) return false;
    }
    const again = await this.convert(op);
    if (!again.done && checksInvariant(this.checks, CONVERSION_TERMINATES)) {
      this.fail(CONVERSION_TERMINATES, { result: "ok" }, again.outcome, "the VMM unmapped and unpinned the range and KVM_SET_MEMORY_ATTRIBUTES still refuses");
    }
    return again.done;
  }

  /** gmem_state over the folios of a piece: 4 KiB after going shared, whole where the folio is wholly private. */
  async checkFolios(p: Piece, toPrivate: boolean): Promise<void> {
    const span = folioSpan(this.m.implementationStates.after, p);
    const fp = this.m.implementationStates.after.gmem.inodes[p.inode]!.folioPages;
    await this.m.apply({ op: "gmem_state", gmem: p.gmem, offset: span.start * PAGE_SIZE, size: (span.end - span.start) * PAGE_SIZE });
    const o = this.m.trace.at(-1)!.impl;
    if (!("ranges" in o) || o.ranges === undefined) return;
    const page = (r: GmemRangeState): number => r.offset / PAGE_SIZE;
    for (let f = span.start; f < span.end; f += fp) {
      const runs = o.ranges.filter((r) => page(r) < f + fp && page(r) + r.size / PAGE_SIZE > f);
      const present = runs.filter((r) => r.folio !== "none");
      const bad = toPrivate
        ? runs.every((r) => r.private) && present.some((r) => r.folio === "4K")
        : present.some((r) => r.folio !== "4K" && page(r) < p.end && page(r) + r.size / PAGE_SIZE > p.start);
      if (bad) {
        const want = toPrivate ? "one huge folio (wholly private)" : "4 KiB folios (shared)";
        this.fail(CONVERSION_FOLIO_WHOLE, want, runs, `the folio at page ${f} of ${p.gmem} after going ${toPrivate ? "private" : "shared"}`);
      }
    }
  }

  /**
   * pKVM: nothing tells the VMM about a MEM_UNSHARE, so this VMM lets go of the range on its own (its mappings and DMA
   * pins, as when the device using the buffer is done); after that the guest's access to each page must get through.
   */
  async releaseForGuest(vm: string, gpa: number, pieces: readonly Piece[]): Promise<boolean> {
    // The guest goes on at once and touches the range where it has no stage-2 mapping yet: while the host still holds
    // that page, the access waits (EAGAIN).
    await this.m.apply({ op: "vcpu_access", vm, vcpu: 0, gpa: unmappedGpa(this.m.implementationStates.after, vm, gpa, pieces), kind: "read" });
    for (const p of pieces) {
      if (p.map === undefined) continue;
      await this.m.apply({ op: "madvise", map: p.map, offset: p.start * PAGE_SIZE, len: (p.end - p.start) * PAGE_SIZE, advice: "DONTNEED" });
      for (let i = p.start; i < p.end; i++) if (!(await this.unpin(p, i))) return false;
    }
    const pages = pieces.reduce((n, p) => n + p.end - p.start, 0);
    for (const k of pages > 1 ? [0, pages - 1] : [0]) {
      await this.m.apply({ op: "vcpu_access", vm, vcpu: 0, gpa: gpa + k * PAGE_SIZE, kind: "read" });
      const o = this.m.trace.at(-1)!.impl;
      if (!("result" in o) && o.errno === "EAGAIN" && checksInvariant(this.checks, CONVERSION_TERMINATES)) {
        this.fail(CONVERSION_TERMINATES, "the guest's access gets through", o, `the host let go of every page of the unshared range and the guest still faults with EAGAIN at page ${k}`);
      }
    }
    return true;
  }
}

/** The first gpa of the range the guest has no stage-2 mapping for, else the range's start. */
function unmappedGpa(s: State, vm: string, gpa: number, pieces: readonly Piece[]): number {
  const stage2 = s.kvm.vms[s.kvm.names.get(vm)!]!.stage2[0]!;
  const pages = pieces.reduce((n, p) => n + p.end - p.start, 0);
  for (let k = 0; k < pages; k++) if (get(stage2, gfnOf(gpa) + k) === undefined) return gpa + k * PAGE_SIZE;
  return gpa;
}

/**
 * pKVM: the guest shares a buffer to hand it to a device; the VMM's device then writes it through its own mapping (the
 * reference a later MEM_UNSHARE finds the host holding).
 */
async function deviceUses(m: Checker, pieces: readonly Piece[]): Promise<void> {
  const p = pieces[0]!;
  if (p.map !== undefined) await m.apply({ op: "access", map: p.map, offset: p.start * PAGE_SIZE, kind: "write", byte: 0xd0 });
}

const text = (o: { gpa: number; size: number }): string => `0x${o.gpa.toString(16)}+0x${o.size.toString(16)}`;

/**
 * After a vcpu_hypercall the kernel answered: serve a KVM_EXIT_HYPERCALL (or, under pKVM, follow a MEM_UNSHARE the
 * kernel did by itself), then check the properties. A design without conversion, or a range with no guest_memfd
 * behind it, is left alone.
 */
export async function serveHypercall(m: Checker, checks: Checks): Promise<void> {
  const rec = m.trace.at(-1)!;
  const o = rec.impl;
  if (rec.op.op !== "vcpu_hypercall" || !("result" in o) || !m.modelState.config.kernel.gmemInplaceConversion) return;
  const pkvm = rec.op.nr !== "MAP_GPA_RANGE";
  if (pkvm ? o.result !== "ok" : o.result !== "exit" || o.exit !== "hypercall" || o.npages === undefined) return;
  // The VMM works from the exit's own fields (pKVM's call has none: the kernel already acted on the guest's range).
  const range = "exit" in o && o.npages !== undefined ? { gpa: o.gpa, size: o.npages * PAGE_SIZE } : { gpa: rec.op.gpa, size: rec.op.npages * PAGE_SIZE };
  const toPrivate = pkvm ? rec.op.nr === "MEM_UNSHARE" : "flags" in o && o.flags?.includes("PRIVATE") === true;
  const before = m.implementationStates.after;
  const pieces = piecesOf(before, rec.op.vm, range.gpa, range.size, FILES);
  if (pieces.length === 0) return;
  // pKVM's kernel already did the conversion: what it kept is what the range held before the hypercall.
  const kept = contents(pkvm ? m.implementationStates.before : before, pieces);
  const p = new Protocol(m, checks, m.ops.length - 1);
  const keptContents = (): void => {
    if (!checksInvariant(checks, CONVERSION_KEEPS_CONTENTS)) return;
    const now = contents(m.implementationStates.after, pieces);
    for (const [page, was] of kept) {
      if (now.get(page) !== was) {
        const detail = `page ${page} after the conversion to ${toPrivate ? "private" : "shared"} of ${text(range)}`;
        throw new PropertyFailure({ property: CONVERSION_KEEPS_CONTENTS, step: m.ops.length - 1, expected: was, actual: now.get(page), detail }, [...m.ops]);
      }
    }
  };
  if (pkvm && !toPrivate) {
    keptContents();
    return deviceUses(m, pieces);
  }
  let done = true;
  if (pkvm) done = await p.releaseForGuest(rec.op.vm, range.gpa, pieces);
  else if (m.modelState.config.gmemDesign === "rfc-2024") done = await p.serveRange(rec.op.vm, range.gpa, range.size, pieces, toPrivate);
  else for (const piece of pieces) done = (await p.servePiece(piece, toPrivate ? "private" : "shared")) && done;
  if (!done) return;
  keptContents();
  // pKVM (Fuad Tabba's v5) has no huge folios to merge back.
  if (!pkvm && checksInvariant(checks, CONVERSION_FOLIO_WHOLE)) {
    for (const piece of pieces) if (m.implementationStates.after.gmem.inodes[piece.inode]!.folioPages > 1) await p.checkFolios(piece, toPrivate);
  }
}

/** Every file of the layouts here, with the map that shows it to the VMM. */
const FILES: GmemLayout["gmems"] = [...GMEM_V7.gmems, ...GMEM_RFC.gmems.filter((g) => !GMEM_V7.gmems.some((v) => v.name === g.name))];

/** The guest's requests: a few pages, a folio or two at the hot pages of slots 0-2, now and then a malformed one. */
function hypercalls(l: GmemLayout, config: Config): fc.Arbitrary<Op> {
  const folio = folioPagesOf(config);
  const slots = l.slots.filter((s) => s.slot < 65536 && s.gmem !== undefined);
  const page = fc.constantFrom(0, 0, 1, 2, folio - 1, folio);
  return fc
    .record({
      slot: fc.constantFrom(...slots),
      page,
      // -1: to the end of the page's folio, so a range can complete a folio the rest of which went before.
      npages: fc.constantFrom(1, 1, 2, folio, folio, 2 * folio, 0, -1, -1),
      enc: fc.boolean(),
      skew: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 1),
      // Now and then the other architecture's call, which the kernel refuses.
      foreign: fc.constantFrom(false, false, false, false, false, false, false, false, false, true),
    })
    .map((r): OpOf<"vcpu_hypercall"> => {
      const first = Math.min(r.page, r.slot.size / PAGE_SIZE - 1);
      const npages = Math.min(r.npages < 0 ? folio - (first % folio) : r.npages, r.slot.size / PAGE_SIZE - first);
      const gpa = r.slot.gpa + first * PAGE_SIZE + r.skew;
      // pKVM's guest shares and unshares; an x86 guest asks with MAP_GPA_RANGE (ENCRYPTED: make it private).
      if (pkvmMode(config) !== r.foreign) return { op: "vcpu_hypercall", vm: "v0", vcpu: 0, nr: r.enc ? "MEM_UNSHARE" : "MEM_SHARE", gpa, npages };
      return { op: "vcpu_hypercall", vm: "v0", vcpu: 0, nr: "MAP_GPA_RANGE", gpa, npages, ...(r.enc ? { attributes: ["ENCRYPTED" as const] } : {}) };
    });
}

/** The guest writes its pages (contents that must live through the round trip); the VMM writes and pins shared ones. */
function guestAndDevice(l: GmemLayout, config: Config): fc.Arbitrary<Op> {
  const folio = folioPagesOf(config);
  const hot = fc.constantFrom(0, 1, 2, 5, folio - 1, folio);
  const write = fc.tuple(hot, fc.integer({ min: 1, max: 255 })).map(([p, b]): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: p * PAGE_SIZE, kind: "write", byte: b }));
  const map = l.gmems[0]!.map!;
  const pin = hot.map((p): Op => ({ op: "pin", map, offset: p * PAGE_SIZE }));
  const host = fc.tuple(hot, fc.integer({ min: 1, max: 255 })).map(([p, b]): Op => ({ op: "access", map, offset: p * PAGE_SIZE, kind: "write", byte: b }));
  return fc.oneof(write, pin, host);
}

function protocolSuite(name: string, description: string, config: Config, layout: GmemLayout, runs: number, vmType = layout.vmType): SequentialSuite {
  const arbitrary = (_l: unknown, c: Config): fc.Arbitrary<Op> =>
    fc.oneof({ weight: 6, arbitrary: gmemOpArbitrary(layout, c) }, { weight: 3, arbitrary: hypercalls(layout, c) }, { weight: 2, arbitrary: guestAndDevice(layout, c) });
  const s: SequentialSuite & { afterStep: typeof serveHypercall } = {
    name,
    description,
    kind: "sequential",
    area: "gmem",
    config,
    layout,
    setup: setupOf(layout, vmType),
    runs,
    maxCommands: 40,
    arbitrary,
    afterStep: serveHypercall,
    run: (opts) => runOpListSuite(s, (c) => arbitrary(layout, c), opts),
  };
  return s;
}

const V8 = PRESETS["gmem-v8"];
const RFC: Config = { ...PRESETS.default, gmemDesign: "rfc-2024", gmemFaultLock: true };
/** pKVM's mode: arm64 (no KVM_SET_MEMORY_ATTRIBUTES) on the RFC's faultability, a default VM (unfaultable at bind). */
export const PKVM: Config = { ...PRESETS.arm64, gmemDesign: "rfc-2024", gmemFaultLock: true };

export const CONVERSION_PROTOCOL_SUITES: readonly SequentialSuite[] = [
  protocolSuite("conversion-protocol-v8", "KVM_HC_MAP_GPA_RANGE exits served by a VMM that converts with v8's ioctl and unpins what error_offset names", V8, GMEM_V7, 100),
  protocolSuite("conversion-protocol-v8-2m", "the v8 protocol over 2 MiB folios: split on the way to shared, merged back once a folio is private again", { ...V8, gmemFolio: "2M" }, GMEM_V7, 80),
  protocolSuite(
    "conversion-protocol-pkvm",
    "pKVM's mode: the guest's MEM_SHARE / MEM_UNSHARE set faultability in the kernel; the VMM lets go of an unshared range, then the guest's access gets through",
    PKVM,
    GMEM_RFC,
    80,
    0,
  ),
  protocolSuite("conversion-protocol-rfc-2024", "the 2024 RFC's protocol: KVM_SET_MEMORY_ATTRIBUTES, and on EINVAL the VMM unmaps and unpins the range and retries", RFC, GMEM_RFC, 60),
];

/**
 * Not in the default check: the RFC's protocol over 2 MiB folios. A refused conversion's rollback makes its whole range
 * faultable again while KVM keeps the pages PRIVATE, and a later request for them is KVM's no-op: the folio never
 * merges back (conversion-folio-whole fails; docs/GMEM.md, "The conversion protocol end to end").
 */
export const CONVERSION_PROTOCOL_RFC_2M = protocolSuite(
  "conversion-protocol-rfc-2024-2m",
  "the 2024 RFC's protocol over 2 MiB folios: a refused conversion's rollback leaves private pages faultable, and their folio never merges",
  { ...RFC, gmemFolio: "2M" },
  GMEM_RFC,
  200,
);

/**
 * The protocol while another vCPU faults the pages: the guest's request, the VMM's conversion, its unpin of the page
 * the EAGAIN names and its retry, then the way back to shared, against a second vCPU's private and shared accesses.
 */
const RACE_SETUP: readonly Op[] = [
  ...setupOf(GMEM_V7, GMEM_V7.vmType),
  { op: "access", map: "m5", offset: 0, kind: "write", byte: 0xa0 },
  { op: "access", map: "m5", offset: PAGE_SIZE, kind: "write", byte: 0xa1 },
  { op: "pin", map: "m5", offset: PAGE_SIZE },
];
const twoPages = (to: "private" | "shared"): Op => ({ op: "gmem_convert", gmem: "g0", offset: 0, size: 2 * PAGE_SIZE, to });
const vcpu1 = fc
  .record({ gfn: fc.constantFrom(0, 1), write: fc.boolean(), priv: fc.boolean(), byte: fc.integer({ min: 1, max: 255 }) })
  .map((r): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 1, gpa: r.gfn * PAGE_SIZE, kind: r.write ? "write" : "read", private: r.priv, ...(r.write ? { byte: r.byte } : {}) }));
const raceActors = fc.tuple(fc.array(vcpu1, { minLength: 1, maxLength: 2 }), fc.boolean()).map(([steps, back]) => [
  { name: "vCPU0", steps: [{ op: "vcpu_hypercall", vm: "v0", vcpu: 0, nr: "MAP_GPA_RANGE", gpa: 0, npages: 2, attributes: ["ENCRYPTED"] } as Op] },
  { name: "VMM", steps: [twoPages("private"), { op: "unpin", map: "m5", offset: PAGE_SIZE } as Op, twoPages("private"), ...(back ? [twoPages("shared")] : [])] },
  { name: "vCPU1", steps },
]);

export const CONVERSION_PROTOCOL_RACE: ConcurrentSuite = (() => {
  const s: ConcurrentSuite = {
    name: "race-conversion-protocol",
    description: "the v8 conversion protocol (EAGAIN, unpin, retry, back to shared) over 2 MiB folios while another vCPU faults the pages",
    kind: "concurrent",
    area: "gmem",
    config: { ...V8, gmemFolio: "2M" },
    setup: RACE_SETUP,
    actors: raceActors,
    runs: 80,
    steps: pctSteps("race-conversion-protocol"),
    depth: 3,
    run: (opts) => runConcurrentSuite(s, opts),
  };
  return s;
})();
