// userfaultfd invariants: a registered mapping shows no page before its resolving ioctl, woken threads read the
// page their mapping maps, no wakeup is lost, the ioctls never change page-cache contents, and nothing written
// through the alias is lost.
import { decodeFlags, MOVE_MODE_BITS } from "../../schema/flags.js";
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { readByte } from "../bytes.js";
import { PAGE_SIZE } from "../consts.js";
import { accessTarget, type StepInvariant, type Verdict } from "../invariants.js";
import { mapBase } from "../mm/layout.js";
import { copyData, readAt, type PageRef } from "../mm/pages.js";
import type { Mapping } from "../mm/types.js";
import { get, spans } from "../ranges.js";
import type { State } from "../state.js";
import { noneReason } from "./fault.js";
import { fillMode, writeprotectMode } from "./ioctl.js";
import type { UffdThread } from "./types.js";
import { hasMode, regAt, vmasIn } from "./vma.js";

const ok = (nonVacuous: boolean): Verdict => ({ holds: true, nonVacuous });
const broken = (detail: string): Verdict => ({ holds: false, nonVacuous: true, detail });

/** The page range of op.map a resolving ioctl filled, which it may legitimately map. */
function filledRange(op: Op): { map: string; start: number; end: number } | undefined {
  if (op.op !== "uffdio_continue" && op.op !== "uffdio_copy" && op.op !== "uffdio_zeropage" && op.op !== "uffdio_move") return undefined;
  return { map: op.map, start: Math.floor(op.offset / PAGE_SIZE), end: Math.ceil((op.offset + op.len) / PAGE_SIZE) };
}

const noEarlyMap: StepInvariant = {
  name: "uffd-no-early-map",
  kind: "step",
  description: "a page a MISSING/MINOR-registered mapping would fault on never gets mapped there except by a resolving ioctl (CONTINUE, COPY, ZEROPAGE, MOVE) on it",
  check: (pre, op, _outcome, post) => {
    const filled = filledRange(op);
    let any = false;
    for (const m of post.mm.maps.values()) {
      const before = pre.mm.maps.get(m.id);
      if (before === undefined || m.uffd === undefined) continue;
      for (const p of spans(m.ptes, 0, m.pages)) {
        for (let i = p.start; i < p.end; i++) {
          if (get(before.ptes, i) !== undefined || get(before.live, i) !== true) continue;
          const reg = regAt(before, i);
          if (!hasMode(reg, "MISSING") && !hasMode(reg, "MINOR")) continue;
          any = true;
          if (filled !== undefined && filled.map === m.id && i >= filled.start && i < filled.end) continue;
          const still = regAt(m, i);
          const why = noneReason(pre, before, i);
          if (why !== undefined && hasMode(still, why.reason)) return broken(`${op.op} mapped ${m.id} page ${i}, which the ${why.reason} registration should have reported first`);
        }
      }
    }
    return ok(any);
  },
};

/** Threads that finished in this step (asleep before, finished after), with what they returned. */
function finished(pre: State, post: State): { t: UffdThread; outcome: Outcome }[] {
  const out: { t: UffdThread; outcome: Outcome }[] = [];
  for (const t of post.uffd.threads) {
    if (t.status.kind !== "done") continue;
    const was = pre.uffd.threads.find((x) => x.name === t.name && x.op === t.op && x.status.kind === "blocked");
    if (was !== undefined) out.push({ t, outcome: t.status.outcome });
  }
  return out;
}

const refKey = (r: { ref: PageRef; offset: number }): string => `${JSON.stringify(r.ref)}@${r.offset}`;

/** Where the threads asleep before this step may have stored during it (a woken write runs inside the waking step). */
function storesOf(pre: State, post: State): Set<string> {
  const out = new Set<string>();
  for (const t of pre.uffd.threads) {
    if (t.status.kind !== "blocked" || t.op.kind !== "write") continue;
    const target = accessTarget(post, t.op);
    if (target !== undefined) out.add(refKey(target));
  }
  return out;
}

const wokenReads: StepInvariant = {
  name: "uffd-woken-read",
  kind: "step",
  description: "a thread woken from a userfault reads the page its mapping now maps (for a CONTINUE, the page-cache page with what the alias wrote)",
  check: (pre, _op, _outcome, post) => {
    const done = finished(pre, post);
    const stores = storesOf(pre, post);
    let any = false;
    for (const { t, outcome } of done) {
      if (t.op.kind === "write" || !("value" in outcome) || typeof outcome.value !== "number") continue;
      const target = accessTarget(post, t.op);
      if (target === undefined || stores.has(refKey(target))) continue;
      const held = readAt(post, target.ref, target.offset);
      any = true;
      if (held !== outcome.value) return broken(`thread ${t.name ?? "(unnamed)"} read ${outcome.value} after its wakeup where its page holds ${held}`);
    }
    return ok(any);
  },
};

const MFILL = new Set<Op["op"]>(["uffdio_continue", "uffdio_copy", "uffdio_zeropage", "uffdio_poison", "uffdio_move"]);
const COUNT = ["mapped", "copy", "zeropage", "updated", "move"] as const;

/** The ctx and the hva ranges a successful op must have woken, or undefined when it wakes nothing. */
function wokenRanges(pre: State, op: Op, outcome: Outcome): { ctx: number; ranges: [number, number][] } | undefined {
  if (!("uffd" in op) || op.uffd === undefined) return undefined;
  const ctx = pre.uffd.names.get(op.uffd);
  if (ctx === undefined) return undefined;
  const good = "result" in outcome && outcome.result === "ok";
  if (op.op === "close") return good ? { ctx, ranges: [[0, Number.MAX_SAFE_INTEGER]] } : undefined;
  if (!("map" in op) || !("offset" in op) || !("len" in op)) return undefined;
  const start = mapBase(op.map) + op.offset;
  const fill = op.op === "uffdio_continue" || op.op === "uffdio_copy" || op.op === "uffdio_zeropage" || op.op === "uffdio_poison";
  const names: readonly string[] =
    op.op === "uffdio_writeprotect" ? writeprotectMode(op).names : fill ? fillMode(op).names : op.op === "uffdio_move" ? decodeFlags(op.mode, MOVE_MODE_BITS).names : [];
  const dontwake = names.includes("DONTWAKE");
  if (MFILL.has(op.op)) {
    const count = COUNT.map((f) => (outcome as Record<string, unknown>)[f]).find((v) => typeof v === "number") as number | undefined;
    const partial = "errno" in outcome && outcome.errno === "EAGAIN";
    if (dontwake || count === undefined || count <= 0 || (!good && !partial)) return undefined;
    return { ctx, ranges: [[start, start + count]] };
  }
  if (!good) return undefined;
  if (op.op === "uffdio_wake") return { ctx, ranges: [[start, start + op.len]] };
  if (op.op === "uffdio_writeprotect") return dontwake || names.includes("WP") ? undefined : { ctx, ranges: [[start, start + op.len]] };
  if (op.op !== "uffd_unregister") return undefined;
  const m = pre.mm.maps.get(op.map);
  if (m === undefined) return undefined;
  const a = op.offset / PAGE_SIZE;
  const b = a + op.len / PAGE_SIZE;
  const ranges = vmasIn(m, a, b)
    .filter((v) => hasMode(v.reg, "MISSING"))
    .map((v): [number, number] => [m.base + Math.max(v.start, a) * PAGE_SIZE, m.base + Math.min(v.end, b) * PAGE_SIZE]);
  return { ctx, ranges };
}

/** Threads of one access (name, op and ctx): a wakeup adds one to each one's count of messages, or ends it. */
const groupKey = (t: UffdThread): string => `${t.name ?? ""}:${JSON.stringify(t.op)}:${t.status.kind === "blocked" ? t.status.msg.ctx : ""}`;

const noLostWakeup: StepInvariant = {
  name: "uffd-no-lost-wakeup",
  kind: "step",
  description: "once the range of a sleeping fault is resolved without DONTWAKE, woken, unregistered (MISSING) or its uffd closed, the thread runs again",
  check: (pre, op, outcome, post) => {
    const w = wokenRanges(pre, op, outcome);
    if (w === undefined) return ok(false);
    const inRange = pre.uffd.threads.filter(
      (t) => t.status.kind === "blocked" && t.status.msg.ctx === w.ctx && w.ranges.some(([a, b]) => t.status.kind === "blocked" && t.status.msg.address >= a && t.status.msg.address < b),
    );
    // Each woken group's sleepers after the step must all have a message more than before (multisets).
    const after = new Map<string, number[]>();
    for (const t of inRange) after.set(groupKey(t), [...(after.get(groupKey(t)) ?? []), t.faults + 1]);
    for (const t of post.uffd.threads) {
      if (t.status.kind !== "blocked") continue;
      const allowed = after.get(groupKey(t));
      if (allowed === undefined) continue;
      const i = allowed.indexOf(t.faults);
      if (i < 0) return broken(`${op.op} should have woken thread ${t.name ?? "(unnamed)"} (${t.op.op} at 0x${t.status.msg.address.toString(16)}), which still sleeps on an old message`);
      allowed.splice(i, 1);
    }
    return ok(inRange.length > 0);
  },
};

/** Page-cache contents (shmem, hugetlbfs, guest_memfd) by page. */
function cachePages(s: State): Map<string, PageRef> {
  const out = new Map<string, PageRef>();
  s.mm.files.forEach((f, file) => {
    for (const index of f.data.keys()) out.set(`f${file}/${index}`, { kind: "file", file, index });
  });
  s.gmem.inodes.forEach((g, inode) => {
    for (const index of g.data.keys()) out.set(`g${inode}/${index}`, { kind: "gmem", inode, index });
  });
  return out;
}

const KEEPS = new Set<Op["op"]>(["uffdio_continue", "uffdio_wake", "uffdio_writeprotect", "uffd_register", "uffd_unregister", "uffd_open", "wake_check"]);

const keepsContents: StepInvariant = {
  name: "uffd-keeps-contents",
  kind: "step",
  description: "CONTINUE, WAKE, WRITEPROTECT and (un)registration never change page-cache contents, except where a thread they woke stored",
  check: (pre, op, _outcome, post) => {
    if (!KEEPS.has(op.op)) return ok(false);
    const stores = storesOf(pre, post);
    const pages = new Map([...cachePages(pre), ...cachePages(post)]);
    for (const [key, ref] of pages) {
      const a = copyData(pre, ref);
      const b = copyData(post, ref);
      if (JSON.stringify(a) === JSON.stringify(b)) continue;
      for (let off = 0; off < PAGE_SIZE; off++) {
        if (readByte(a, off) !== readByte(b, off) && !stores.has(refKey({ ref, offset: off }))) return broken(`${op.op} changed ${key} at byte ${off}: ${readByte(a, off)} -> ${readByte(b, off)}`);
      }
    }
    return ok(op.op === "uffdio_continue" && pages.size > 0);
  },
};

/** The page-cache page behind byte `offset` of a file-backed mapping. */
function cacheRef(m: Mapping, offset: number): { ref: PageRef; offset: number } | undefined {
  const b = m.backing;
  if (b.kind === "anon") return undefined;
  const pos = b.offset + offset;
  const index = Math.floor(pos / PAGE_SIZE);
  return { ref: b.kind === "memfd" ? { kind: "file", file: b.file, index } : { kind: "gmem", inode: b.inode, index }, offset: pos % PAGE_SIZE };
}

const aliasWritesStick: StepInvariant = {
  name: "alias-writes-stick",
  kind: "step",
  description: "after a write through the alias mapping, the page cache holds the bytes written, on every page the write covers",
  check: (_pre, op, outcome, post) => {
    if (op.op !== "write_alias" || !("result" in outcome) || outcome.result !== "ok") return ok(false);
    const m = post.mm.maps.get(op.map);
    if (m === undefined) return broken("write_alias succeeded without a mapping");
    const len = op.len ?? 1;
    const byte = op.byte ?? 0;
    for (let pos = op.offset; pos < op.offset + len; pos = (Math.floor(pos / PAGE_SIZE) + 1) * PAGE_SIZE) {
      const last = Math.min((Math.floor(pos / PAGE_SIZE) + 1) * PAGE_SIZE, op.offset + len) - 1;
      for (const at of [pos, last]) {
        const r = cacheRef(m, at);
        const held = r === undefined ? undefined : readAt(post, r.ref, r.offset);
        if (held !== byte) return broken(`write_alias of ${byte} at ${op.map}+${at} left ${String(held)} in the page cache`);
      }
    }
    return ok(byte !== 0);
  },
};

export const UFFD_STEP_INVARIANTS: readonly StepInvariant[] = [noEarlyMap, wokenReads, noLostWakeup, keepsContents, aliasWritesStick];
