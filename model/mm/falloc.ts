// vfs_fallocate's checks of its arguments and of the mode word, shared by every file's fallocate (fs/open.c): the
// mode names one operation (or none: allocate) plus KEEP_SIZE, whatever the fd turns out to be.
import { decodeFlags, type FallocModeName, type Flags, type FlagList, FALLOC_BITS } from "../../schema/flags.js";
import { isBeyond, type Measured } from "../bound.js";
import { check, rule, type Check, type Rule } from "../rules.js";

const VFS = "fs/open.c (vfs_fallocate)";
/** loff_t overflow and MAX_LFS_FILESIZE (2^63 - 1): byte counts at or above 2^63. */
export const LOFF_LIMIT = 2 ** 63;

export const FALLOC_MODE_RULES = {
  unknown: rule(
    "vfs.fallocate-mode-unknown",
    `${VFS}: mode & ~(FALLOC_FL_MODE_MASK | FALLOC_FL_KEEP_SIZE)); include/linux/falloc.h; probe on 6.18.44`,
    "a mode bit no fallocate knows (NO_HIDE_STALE, bits past WRITE_ZEROES), after the offset and length checks and " +
      "before the fd's mode and type",
    "EOPNOTSUPP",
  ),
  exclusive: rule(
    "vfs.fallocate-mode-exclusive",
    `${VFS}: switch (mode & FALLOC_FL_MODE_MASK)); probe on 6.18.44`,
    "modes are exclusive: two at once, or COLLAPSE_RANGE, INSERT_RANGE or WRITE_ZEROES with KEEP_SIZE",
    "EOPNOTSUPP",
  ),
};

/** The mode word of a fallocate call, decoded. */
export interface FallocMode {
  readonly flags: Flags<FallocModeName>;
  /** The operation bits (FALLOC_FL_MODE_MASK): none is allocate. */
  readonly ops: readonly FallocModeName[];
  readonly keep: boolean;
  readonly punch: boolean;
}

export function fallocMode(list: FlagList<FallocModeName>): FallocMode {
  const flags = decodeFlags(list, FALLOC_BITS);
  const ops = flags.names.filter((n) => n !== "KEEP_SIZE" && n !== "NO_HIDE_STALE");
  return { flags, ops, keep: flags.names.includes("KEEP_SIZE"), punch: ops.length === 1 && ops[0] === "PUNCH_HOLE" };
}

/** Whether only KEEP_SIZE and PUNCH_HOLE are set (what shmem, hugetlbfs and guest_memfd take). */
export const onlyKeepPunch = (m: FallocMode): boolean =>
  m.flags.unknown.length === 0 && m.flags.names.every((n) => n === "KEEP_SIZE" || n === "PUNCH_HOLE");

/** The modes that change i_size, so vfs_fallocate refuses them with KEEP_SIZE. */
const SIZE_CHANGING: readonly FallocModeName[] = ["COLLAPSE_RANGE", "INSERT_RANGE", "WRITE_ZEROES"];

/**
 * The measured quantities of vfs_fallocate's bounded checks, shared by the checks and their bounds (the callers'
 * FALLOCATE_BOUNDS, MM_BOUNDS): len below 2^63 once offset and len are not already refused, and offset + len
 * below s_maxbytes + 1 (MAX_LFS_FILESIZE for shmem, hugetlbfs and guest_memfd).
 */
export const fallocLen = (offset: number, len: number): Measured | undefined =>
  offset >= LOFF_LIMIT || len === 0 ? undefined : { value: len, limit: LOFF_LIMIT };
export const fallocEnd = (offset: number, len: number): Measured => ({ value: offset + len, limit: LOFF_LIMIT });

/**
 * vfs_fallocate before it looks at the file: offset and length (`args`, the caller's EINVAL rule), unknown mode bits,
 * then the exclusive-mode switch (PUNCH_HOLE without KEEP_SIZE is the caller's `punchMode` rule, as it always was).
 */
export function vfsFallocateChecks(m: FallocMode, offset: number, len: number, args: Rule, punchMode: Rule): Check[] {
  const single = m.ops.length === 1 ? m.ops[0] : undefined;
  return [
    check(args, () => offset >= LOFF_LIMIT || len === 0 || isBeyond({ accepts: "lt" }, fallocLen(offset, len))),
    check(FALLOC_MODE_RULES.unknown, () => m.flags.unknown.length > 0 || m.flags.names.includes("NO_HIDE_STALE")),
    check(punchMode, () => single === "PUNCH_HOLE" && !m.keep),
    check(FALLOC_MODE_RULES.exclusive, () => m.ops.length > 1 || (single !== undefined && SIZE_CHANGING.includes(single) && m.keep)),
  ];
}
