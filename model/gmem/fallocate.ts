// fallocate(2) on a guest_memfd: allocate (KEEP_SIZE) or PUNCH_HOLE, after vfs_fallocate's generic checks.
import type { FallocModeName, FlagList } from "../../schema/flags.js";
import type { OpOf } from "../../schema/ops.js";
import { beyond, bound, isBeyond, type Measured } from "../bound.js";
import { PAGE_SIZE } from "../consts.js";
import { fdOf } from "../fd.js";
import { withoutKeysIn } from "../immutable.js";
import { assign, get } from "../ranges.js";
import { fallocEnd, fallocLen, fallocMode, onlyKeepPunch, vfsFallocateChecks } from "../mm/falloc.js";
import { check, rule, validate, type Rule } from "../rules.js";
import { refuse, result, withPassed, type State, type StepResult } from "../state.js";
import { withInode } from "./file.js";
import { freeFolios } from "./direct-map.js";
import { getFolio } from "./folio.js";
import { unmapHost, zapBindings } from "./invalidate.js";
import type { GmemInode } from "./types.js";
import { ALLOC_FAIL_RULES, failingAttempt } from "./alloc-fail.js";

const G = "virt/kvm/guest_memfd.c";
const VFS = "fs/open.c (vfs_fallocate)";

export const FALLOCATE_RULES = {
  badFd: rule("gmem.fallocate-ebadf", "fs/open.c (ksys_fallocate: fdget)", "the guest_memfd fd is not open", "EBADF"),
  args: rule("gmem.fallocate-args", VFS, "offset negative as loff_t, or len <= 0", "EINVAL"),
  punchMode: rule("gmem.fallocate-punch-mode", VFS, "PUNCH_HOLE without KEEP_SIZE", "EOPNOTSUPP"),
  fbig: rule("gmem.fallocate-efbig", VFS, "offset + len beyond s_maxbytes", "EFBIG"),
  keepSize: rule("gmem.fallocate-keep-size", `${G} (kvm_gmem_fallocate)`, "guest_memfd's size is immutable: KEEP_SIZE is required", "EOPNOTSUPP"),
  mode: rule(
    "gmem.fallocate-mode",
    `${G} (kvm_gmem_fallocate: mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))`,
    "with KEEP_SIZE, a mode other than allocate and PUNCH_HOLE (ZERO_RANGE, UNSHARE_RANGE)",
    "EOPNOTSUPP",
  ),
  align: rule(
    "gmem.fallocate-align",
    `${G} (kvm_gmem_fallocate: PAGE_ALIGNED); cover.1726009989.git.ackerleytng@google.com (guest_memfd_test: huge page size alignment)`,
    "offset or len not aligned to the folio size (a page in the current tree)",
    "EINVAL",
  ),
  beyond: rule("gmem.allocate-beyond", `${G} (kvm_gmem_allocate)`, "allocation past i_size", "EINVAL"),
  allocate: rule("gmem.allocate", `${G} (kvm_gmem_allocate)`, "folios of the range are allocated; they read as zero"),
  punch: rule(
    "gmem.punch-hole",
    `${G} (kvm_gmem_punch_hole: kvm_gmem_invalidate_begin, truncate_inode_pages_range)`,
    "SPTEs of the range are zapped in every bound VM, host PTEs unmapped, and the folios freed: the range reads as zero",
  ),
};

/** The guest_memfd inode a fallocate's fd names (file_fallocate and gmem_fallocate take any fd). */
const inodeOf = (s: State, op: OpOf<"gmem_fallocate"> | OpOf<"file_fallocate">): GmemInode | undefined => {
  const ref = fdOf(s, op.op === "gmem_fallocate" ? op.gmem : op.file);
  return ref?.kind === "gmem" ? s.gmem.inodes[ref.id] : undefined;
};

/** An allocation's end against the file's size, in folios. */
const allocEndOf = (offset: number, len: number, inode: GmemInode): Measured => ({ value: offset + len, limit: inode.size, unit: inode.folioPages * PAGE_SIZE });

/** len and offset + len below 2^63, an allocation inside the file, in folios. */
export const FALLOCATE_BOUNDS = {
  args: bound({
    rule: FALLOCATE_RULES.args,
    ops: ["gmem_fallocate", "file_fallocate"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "2^63 (len as loff_t)",
    accepts: "lt",
    measure: (s, op) => (inodeOf(s, op) === undefined ? undefined : fallocLen(op.offset, op.len)),
  }),
  fbig: bound({
    rule: FALLOCATE_RULES.fbig,
    ops: ["gmem_fallocate", "file_fallocate"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "2^63 (s_maxbytes)",
    accepts: "lt",
    measure: (s, op) => (inodeOf(s, op) === undefined ? undefined : fallocEnd(op.offset, op.len)),
  }),
  beyond: bound({
    rule: FALLOCATE_RULES.beyond,
    ops: ["gmem_fallocate", "file_fallocate"],
    unit: PAGE_SIZE,
    unitName: "folio",
    limitName: "the guest_memfd's size",
    accepts: "le",
    measure: (s, op) => {
      const inode = inodeOf(s, op);
      return inode === undefined || fallocMode(op.mode).punch ? undefined : allocEndOf(op.offset, op.len, inode);
    },
  }),
};

/** kvm_gmem_punch_hole: zap, unmap, free (a pinned page leaves the file with its pin; a folio out of the direct map goes back). */
function punchHole(s: State, id: number, start: number, end: number): { state: State; fired: readonly Rule[] } {
  const next = unmapHost(zapBindings(s, id, start, end), id, start, end, "truncate");
  const inode = next.gmem.inodes[id]!;
  const freed: GmemInode = {
    ...inode,
    present: assign(inode.present, start, end, undefined),
    data: withoutKeysIn(inode.data, start, end),
    split: assign(inode.split, start, end, undefined),
    pins: assign(inode.pins, start, end, undefined),
  };
  const f = freeFolios(freed, start, end);
  return { state: withInode(next, id, f.inode), fired: f.fired };
}

/** kvm_gmem_allocate: folio by folio, each absent one an allocation attempt; the failing one (fail_nth) ends the loop. */
function allocate(inode: GmemInode, start: number, end: number, nth: number | undefined): { inode: GmemInode; failed: boolean } {
  if ((nth ?? 0) === 0 && inode.folioPages === 1) return { inode: { ...inode, present: assign(inode.present, start, end, true) }, failed: false };
  let out = inode;
  let used = 0;
  for (let f = start; f < end; f += inode.folioPages) {
    if (get(out.present, f) !== true && failingAttempt(nth, used++, 1) !== undefined) return { inode: out, failed: true };
    out = getFolio(out, f);
  }
  return { inode: out, failed: false };
}

/** vfs_fallocate then kvm_gmem_fallocate on an open file of inode id (also madvise_remove's PUNCH_HOLE|KEEP_SIZE). */
export function fallocateInode(s: State, id: number, modeList: FlagList<FallocModeName>, offset: number, len: number, nth?: number): StepResult {
  const inode = s.gmem.inodes[id]!;
  const mode = fallocMode(modeList);
  const punch = mode.punch;
  const folioBytes = inode.folioPages * PAGE_SIZE;
  const v = validate([
    ...vfsFallocateChecks(mode, offset, len, FALLOCATE_RULES.args, FALLOCATE_RULES.punchMode),
    check(FALLOCATE_RULES.fbig, () => isBeyond(FALLOCATE_BOUNDS.fbig, fallocEnd(offset, len))),
    check(FALLOCATE_RULES.keepSize, () => !mode.keep),
    check(FALLOCATE_RULES.mode, () => !onlyKeepPunch(mode)),
    check(FALLOCATE_RULES.align, () => offset % folioBytes !== 0 || len % folioBytes !== 0),
    check(FALLOCATE_RULES.beyond, () => !punch && beyond(FALLOCATE_BOUNDS.beyond.accepts, allocEndOf(offset, len, inode))),
  ]);
  if (v.failure !== undefined) return withPassed(refuse(s, v.failure), v.passed);
  const start = offset / PAGE_SIZE;
  const end = start + len / PAGE_SIZE;
  if (punch) {
    const last = Math.min(end, inode.size / PAGE_SIZE);
    const p = start < last ? punchHole(s, id, start, last) : { state: s, fired: [] };
    return result(p.state, { result: "ok" }, FALLOCATE_RULES.punch, ...p.fired);
  }
  const a = allocate(inode, start, end, nth);
  if (a.failed) return result(withInode(s, id, a.inode), { errno: "ENOMEM" }, ALLOC_FAIL_RULES.failNth, ALLOC_FAIL_RULES.allocate);
  return result(withInode(s, id, a.inode), { result: "ok" }, FALLOCATE_RULES.allocate);
}
