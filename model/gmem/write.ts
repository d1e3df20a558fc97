// write(2) to a guest_memfd (the write() series v7): generic_perform_write, page by page through kvm_gmem_write_begin and
// kvm_gmem_write_end. With direct map removal a folio already out of the direct map refuses it, and a folio it wrote
// leaves the direct map (the plan both series' authors state; docs/GMEM.md "Secret hiding").
import type { OpOf } from "../../schema/ops.js";
import { PAGE_SIZE } from "../consts.js";
import { fdOf } from "../fd.js";
import { writeAt } from "../mm/pages.js";
import { check, rule, validate, type Rule } from "../rules.js";
import { refuse, result, withPassed, type State, type StepResult } from "../state.js";
import { WRITE_SEALED_REPLY, WRITE_V7 } from "../sources.js";
import { DIRECT_MAP_RULES, outOfDirectMap, prepareFolio } from "./direct-map.js";
import { withInode } from "./file.js";
import { getFolio } from "./folio.js";

export const WRITE_RULES = {
  pos: rule("gmem.write-pos", "fs/read_write.c (ksys_pwrite64: pos < 0, before the fd is looked up)", "offset negative as loff_t", "EINVAL"),
  badFd: rule("gmem.write-ebadf", "fs/read_write.c (ksys_pwrite64: fdget)", "the guest_memfd fd is not open", "EBADF"),
  notGmem: rule(
    "faultline.gmem-write-not-gmem",
    "docs/VOCABULARY.md (gmem_write)",
    "gmem_write names a guest_memfd; other files are written with pwrite",
    "ENOTTY",
  ),
  noPwrite: rule(
    "gmem.write-espipe",
    "fs/read_write.c (ksys_pwrite64: no FMODE_PWRITE); virt/kvm/guest_memfd.c (__kvm_gmem_create: alloc_file_pseudo, no FMODE_PWRITE)",
    "a kernel without the write() series: a guest_memfd is not pwrite-able",
    "ESPIPE",
  ),
  overflow: rule("gmem.write-overflow", "fs/read_write.c (rw_verify_area: check_add_overflow(pos, count))", "offset + len past 2^63 (loff_t)", "EINVAL"),
  empty: rule("gmem.write-empty", "mm/filemap.c (generic_perform_write: no byte, no write_begin)", "len 0 writes nothing and returns 0"),
  noFlag: rule(
    "gmem.write-enodev",
    `${WRITE_V7} (kvm_gmem_write_begin: !kvm_gmem_supports_write)`,
    "the file was created without GUEST_MEMFD_FLAG_WRITE",
    "ENODEV",
  ),
  eof: rule("gmem.write-eof", `${WRITE_V7} (kvm_gmem_write_begin: pos + len > i_size_read)`, "a page of the write reaches past i_size", "EINVAL"),
  align: rule(
    "gmem.write-align",
    `${WRITE_V7} (kvm_gmem_write_begin: !IS_ALIGNED(pos, PAGE_SIZE) || !IS_ALIGNED(len, PAGE_SIZE))`,
    "a piece of the write is not a whole, aligned page",
    "EINVAL",
  ),
  sealed: rule(
    "gmem.write-sealed",
    `${WRITE_SEALED_REPLY}; ${WRITE_V7} (commit message: "write() will not be allowed to access pages that have already been removed from direct map")`,
    "the page's folio is already out of the direct map (a fault or a write prepared it)",
    "EEXIST",
  ),
  write: rule(
    "gmem.write",
    `${WRITE_V7} (kvm_gmem_write_begin: kvm_gmem_get_folio; kvm_gmem_write_end: folio_mark_uptodate)`,
    "the page is allocated if need be, written whole and marked uptodate",
  ),
  seal: rule(
    "gmem.write-seal",
    `${WRITE_V7} (commit message: "on completion, write() will remove the populated pages from direct map"); ${WRITE_SEALED_REPLY}`,
    "on a NO_DIRECT_MAP file, a written folio leaves the direct map before write_end unlocks it",
  ),
  short: rule(
    "gmem.write-short",
    "mm/filemap.c (generic_perform_write: return written ? written : status)",
    "a page refused after others were written: write() returns the bytes written",
  ),
};

/** pwrite(2) of len bytes of `byte` at offset into a guest_memfd. */
export function gmemWrite(s: State, op: OpOf<"gmem_write">): StepResult {
  if (op.offset >= 2 ** 63) return refuse(s, WRITE_RULES.pos);
  const ref = fdOf(s, op.gmem);
  if (ref === undefined) return refuse(s, WRITE_RULES.badFd);
  if (ref.kind !== "gmem") return refuse(s, WRITE_RULES.notGmem);
  if (!s.config.kernel.gmemFlags.includes("WRITE")) return refuse(s, WRITE_RULES.noPwrite);
  if (op.offset + op.len >= 2 ** 63) return refuse(s, WRITE_RULES.overflow);
  if (op.len === 0) return result(s, { result: "ok", value: 0 }, WRITE_RULES.empty);
  return performWrite(s, op, ref.id);
}

/** generic_perform_write: one page-sized piece per write_begin / copy / write_end, stopping at the first refusal. */
function performWrite(s: State, op: OpOf<"gmem_write">, id: number): StepResult {
  const end = op.offset + op.len;
  let next = s;
  let written = 0;
  const fired: Rule[] = [];
  for (let pos = op.offset; pos < end; ) {
    const bytes = Math.min(PAGE_SIZE - (pos % PAGE_SIZE), end - pos);
    const inode = next.gmem.inodes[id]!;
    const index = Math.floor(pos / PAGE_SIZE);
    const v = validate([
      check(WRITE_RULES.noFlag, () => !inode.flags.includes("WRITE")),
      check(WRITE_RULES.eof, () => pos + bytes > inode.size),
      check(WRITE_RULES.align, () => pos % PAGE_SIZE !== 0 || bytes % PAGE_SIZE !== 0),
      check(WRITE_RULES.sealed, () => outOfDirectMap(inode, index)),
    ]);
    if (v.failure !== undefined) {
      if (written === 0) return withPassed(refuse(next, v.failure, ...fired), v.passed);
      return result(next, { result: "ok", value: written }, ...fired, v.failure, WRITE_RULES.short);
    }
    const copied = writeAt(withInode(next, id, getFolio(inode, index)), { kind: "gmem", inode: id, index }, 0, PAGE_SIZE, op.byte ?? 0);
    const prepared = prepareFolio(copied.gmem.inodes[id]!, index, WRITE_RULES.seal);
    next = withInode(copied, id, prepared.inode);
    fired.push(WRITE_RULES.write, ...prepared.fired.filter((r) => r !== DIRECT_MAP_RULES.prepared));
    written += bytes;
    pos += bytes;
  }
  return result(next, { result: "ok", value: written }, ...fired);
}
