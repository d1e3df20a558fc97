// Reading scenario files and writing any file faultline produces: atomically, and never over a different file.
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";
import { BUG_IDS } from "../impl/bugs.js";
import { UsageError } from "./args.js";
import { lineColumn } from "../schema/json.js";
import { FileError } from "../schema/report.js";
import { decodeScenario, type Scenario } from "../schema/scenario.js";

/** Bytes a scenario or counterexample file may have: the largest written so far has 5 KB. */
export const MAX_SCENARIO_BYTES = 4 * 2 ** 20;

/** Reads, decodes and validates a scenario or counterexample file; any problem is one FileError line. */
export function loadScenario(file: string): Scenario {
  return decodeScenario(file, readText(file, MAX_SCENARIO_BYTES), { bugs: BUG_IDS });
}

/**
 * A file's text, refused past `limit` bytes (so /dev/zero ends in an error, not in memory exhaustion) and unless
 * it is UTF-8 (so a stray byte is not read as U+FFFD).
 */
export function readText(file: string, limit: number): string {
  const bytes = readBytes(file, limit);
  const bad = firstInvalidUtf8(bytes);
  if (bad !== undefined) {
    const before = bytes.subarray(0, bad).toString("utf8");
    const where = lineColumn(before, before.length);
    throw new FileError(file, where, `not UTF-8: byte 0x${bytes[bad]!.toString(16).padStart(2, "0")} starts no character`);
  }
  return bytes.toString("utf8");
}

function readBytes(file: string, limit: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new FileError(file, "", `cannot read: ${systemMessage(e)}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new FileError(file, "", "cannot read: a directory, not a file");
    if (st.isFile() && st.size > limit) throw new FileError(file, "", `${st.size} bytes, more than the ${limit} a file may have`);
    // A device or a pipe tells no size: read one byte past the limit to know it is exceeded.
    const buf = Buffer.alloc(st.isFile() ? st.size + 1 : limit + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    if (n > limit) throw new FileError(file, "", `more than the ${limit} bytes a file may have`);
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof FileError) throw e;
    throw new FileError(file, "", `cannot read: ${systemMessage(e)}`);
  } finally {
    closeSync(fd);
  }
}

/** Offset of the first byte that does not start (or continue) a well-formed UTF-8 character (RFC 3629). */
export function firstInvalidUtf8(b: Uint8Array): number | undefined {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0 || i + n >= b.length) return i;
    // The second byte's range excludes overlong forms, surrogates and code points past U+10FFFF.
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    if (b[i + 1]! < lo || b[i + 1]! > hi) return i;
    for (let k = 2; k <= n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return undefined;
}

const systemMessage = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ENOENT: "no such file",
    EISDIR: "a directory, not a file",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    ENOTDIR: "a path component is not a directory",
    EROFS: "read-only file system",
    ENOSPC: "no space left on the device",
    ELOOP: "too many symbolic links",
    ENXIO: "not a file that can be opened (a socket?)",
  };
  return (code !== undefined ? reasons[code] : undefined) ?? (e as Error).message;
};

function existingText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    // A write into a directory that is a file: say so as a write, not as a read.
    if (code === "ENOTDIR") throw new FileError(path, "", `cannot write: ${dirname(path)} is not a directory`);
    throw new FileError(path, "", `cannot read: ${systemMessage(e)}`);
  }
}

/** Replaces a generated report (benchmarks, coverage, docs, JUnit) in one step: a reader sees the old file or the new one. */
export function replaceAtomically(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    throw new FileError(path, "", `cannot write: ${systemMessage(e)}`);
  }
}

/**
 * Writes `text` to `path` unless the file is already there. A reader never sees half a file (temp file, then a
 * hard link, which unlike rename fails rather than replace a file that appeared meanwhile). An existing file
 * with other contents is an error, never overwritten.
 */
export function writeNew(path: string, text: string): "written" | "unchanged" {
  const existing = existingText(path);
  if (existing !== undefined) {
    if (existing === text) return "unchanged";
    throw new FileError(path, "", "exists with different contents; not overwritten (choose another name or remove it)");
  }
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, text, { flag: "wx" });
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST" && existingText(path) !== undefined) return writeNew(path, text);
    throw new FileError(path, "", `cannot write: ${systemMessage(e)}`);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // The temp file was never created.
    }
  }
  return "written";
}

/**
 * A file a report will be written to (--junit), checked before a check of minutes: the nearest existing directory
 * on its path must be writable (the missing ones are created).
 */
export function outputFile(command: string, option: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  let dir = dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    accessSync(dir, constants.W_OK);
    if (!statSync(dir).isDirectory()) throw new Error("not a directory");
  } catch {
    throw new UsageError(command, `${option}: cannot write ${JSON.stringify(path)}: ${dir} is not a writable directory`);
  }
  return path;
}
