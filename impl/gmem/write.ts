// write(2) to a guest_memfd (the write() series v7): generic_perform_write, one page per kvm_gmem_write_begin, copy and
// kvm_gmem_write_end. write_begin returns the folio locked and write_end unlocks it, so a fault on the same page waits.
import { PAGE_SIZE } from "../../model/consts.js";
import type { Config } from "../../schema/config.js";
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { FdTable } from "../fdtable.js";
import type { Hooks } from "../hooks.js";
import { pageOf } from "../mm/folio.js";
import { fillPage } from "../util/pagedata.js";
import type { GmemInode } from "./gmem.js";

type Op = OpOf<"gmem_write">;

/** ksys_pwrite64, vfs_write and rw_verify_area, then the file's write_iter. */
export async function gmemWrite(bugs: Bugs, config: Config, fds: FdTable, inodes: readonly GmemInode[], op: Op, h: Hooks): Promise<Outcome> {
  if (op.offset >= 2 ** 63) return { errno: "EINVAL" }; // gmem.write-pos
  const e = fds.get(op.gmem);
  if (e === undefined) return { errno: "EBADF" };
  if (e.kind !== "gmem") return { errno: "ENOTTY" }; // faultline.gmem-write-not-gmem
  if (!config.kernel.gmemFlags.includes("WRITE")) return { errno: "ESPIPE" }; // gmem.write-espipe: no FMODE_PWRITE
  if (op.offset + op.len >= 2 ** 63) return { errno: "EINVAL" }; // gmem.write-overflow
  return performWrite(bugs, inodes[e.id]!, op, h);
}

/** generic_perform_write: the bytes written, or the first refusal's errno when nothing was. */
async function performWrite(bugs: Bugs, inode: GmemInode, op: Op, h: Hooks): Promise<Outcome> {
  const end = op.offset + op.len;
  let written = 0;
  for (let pos = op.offset; pos < end; ) {
    const bytes = Math.min(PAGE_SIZE - (pos % PAGE_SIZE), end - pos);
    const refused = await writePage(bugs, inode, pos, bytes, op.byte ?? 0, h);
    if (refused !== undefined) return written === 0 ? { errno: refused } : { result: "ok", value: written }; // gmem.write-short
    written += bytes;
    pos += bytes;
  }
  return { result: "ok", value: written };
}

/** kvm_gmem_write_begin, the copy, kvm_gmem_write_end for one page; the errno of a refusal. */
type Refusal = "ENODEV" | "EINVAL" | "EEXIST";

async function writePage(bugs: Bugs, inode: GmemInode, pos: number, bytes: number, byte: number, h: Hooks): Promise<Refusal | undefined> {
  if (!inode.flags.includes("WRITE")) return "ENODEV"; // gmem.write-enodev
  if (pos + bytes > inode.size) return "EINVAL"; // gmem.write-eof
  if (pos % PAGE_SIZE !== 0 || bytes % PAGE_SIZE !== 0) return "EINVAL"; // gmem.write-align
  const index = pos / PAGE_SIZE;
  // kvm_gmem_get_folio returns the folio locked.
  await h.yield("kvm_gmem_write_begin:folio_lock", () => !inode.folioLocks.has(index));
  inode.folioLocks.add(index);
  const at = inode.getFolio(index);
  const entry = inode.lookup(index)!.entry;
  // The two series as posted: v7's write_begin never looks at the direct map (the seeded slip); the plan refuses.
  if (entry.noDirectMap === true && !bugs.has("gmem-write-sealed")) {
    inode.folioLocks.delete(index);
    return "EEXIST"; // gmem.write-sealed
  }
  // The seeded slip unlocks the folio in write_begin: the copy and write_end run without it.
  const unlocked = bugs.has("gmem-write-unlocked");
  if (unlocked) inode.folioLocks.delete(index);
  await h.yield("generic_perform_write:copy_folio_from_iter_atomic");
  // copy_folio_from_iter_atomic writes through the kernel's mapping of the folio: the direct map.
  inode.touchDirectMap(entry, index);
  fillPage(pageOf(at.folio, at.sub), 0, PAGE_SIZE, byte);
  // kvm_gmem_write_end: folio_mark_uptodate (the seeded slip forgets it), then take the folio out of the direct map.
  if (!bugs.has("gmem-write-no-uptodate")) entry.uptodate = true;
  if (inode.flags.includes("NO_DIRECT_MAP")) entry.noDirectMap = true; // gmem.write-seal
  if (!unlocked) inode.folioLocks.delete(index);
  return undefined;
}
