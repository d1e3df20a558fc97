// vfs_fallocate's argument and mode-word checks (fs/open.c), shared by every file's fallocate: an int mode, tested
// bit by bit as the kernel does.
import { FALLOC_BITS, word32, type FallocModeName, type FlagList } from "../../schema/flags.js";
import type { Errno } from "../../schema/outcome.js";

export const FL = {
  KEEP_SIZE: 1 << FALLOC_BITS.KEEP_SIZE,
  PUNCH_HOLE: 1 << FALLOC_BITS.PUNCH_HOLE,
  COLLAPSE_RANGE: 1 << FALLOC_BITS.COLLAPSE_RANGE,
  ZERO_RANGE: 1 << FALLOC_BITS.ZERO_RANGE,
  INSERT_RANGE: 1 << FALLOC_BITS.INSERT_RANGE,
  UNSHARE_RANGE: 1 << FALLOC_BITS.UNSHARE_RANGE,
  WRITE_ZEROES: 1 << FALLOC_BITS.WRITE_ZEROES,
} as const;
/** FALLOC_FL_MODE_MASK: the operations (allocate is no bit); NO_HIDE_STALE is not among them. */
const MODE_MASK = FL.PUNCH_HOLE | FL.COLLAPSE_RANGE | FL.ZERO_RANGE | FL.INSERT_RANGE | FL.UNSHARE_RANGE | FL.WRITE_ZEROES;
/** loff_t: offsets and lengths at or above 2^63 are negative; s_maxbytes is MAX_LFS_FILESIZE. */
export const LOFF_LIMIT = 2 ** 63;

export const modeWord = (mode: FlagList<FallocModeName>): number => word32(mode, FALLOC_BITS);

/**
 * vfs_fallocate up to its FMODE_WRITE check: offset and length, then the mode word. A seeded slip (lenSlip, switched
 * by the caller's file) takes a len of exactly 2^63.
 */
export function vfsFallocateArgs(mode: number, offset: number, len: number, lenSlip: boolean): Errno | undefined {
  if (offset >= LOFF_LIMIT || len === 0 || (lenSlip ? len > LOFF_LIMIT : len >= LOFF_LIMIT)) return "EINVAL";
  if ((mode & ~(MODE_MASK | FL.KEEP_SIZE)) !== 0) return "EOPNOTSUPP";
  const op = mode & MODE_MASK;
  const keep = (mode & FL.KEEP_SIZE) !== 0;
  if (op === FL.PUNCH_HOLE) return keep ? undefined : "EOPNOTSUPP";
  if (op === FL.COLLAPSE_RANGE || op === FL.INSERT_RANGE || op === FL.WRITE_ZEROES) return keep ? "EOPNOTSUPP" : undefined;
  if (op === 0 || op === FL.UNSHARE_RANGE || op === FL.ZERO_RANGE) return undefined;
  return "EOPNOTSUPP";
}
