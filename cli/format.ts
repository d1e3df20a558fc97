// Compact text for operations, outcomes and tables, as a kernel developer would write them in a review.
import type { Op } from "../schema/ops.js";
import { gmemRangeText, type GmemRangeState, type Outcome } from "../schema/outcome.js";
import { printable } from "../schema/report.js";

/** Fields holding addresses, sizes and offsets: printed in hex. */
const HEX_FIELDS = new Set([
  "gpa", "guest_phys_addr", "memory_size", "userspace_offset", "guest_memfd_offset", "userfault_bitmap", "address", "size", "offset", "len",
  "length", "address_offset", "error_offset",
]);

function value(key: string, v: unknown): string {
  if (key === "ranges" && Array.isArray(v)) return `[${(v as GmemRangeState[]).map(gmemRangeText).join(", ")}]`;
  if (typeof v === "number") return HEX_FIELDS.has(key) ? `0x${v.toString(16)}` : String(v);
  if (Array.isArray(v)) return v.length === 0 ? "[]" : v.map((x) => value(key, x)).join("|");
  if (typeof v === "string") return printable(v);
  return printable(JSON.stringify(v));
}

const fields = (o: object, skip: readonly string[]): string =>
  Object.entries(o)
    .filter(([k, v]) => !skip.includes(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(k, v)}`)
    .join(" ");

/** `set_memory_region vm=v0 slot=0 flags=USERFAULT guest_phys_addr=0x100000 ...` */
export const formatOp = (op: Op): string => `${op.op} ${fields(op, ["op"])}`.trimEnd();

/** `ok value=7`, `EINVAL`, `exit memory_fault gpa=0x1000 ...`, `blocked uffd=u0 ...`. */
export function formatOutcome(o: Outcome): string {
  if ("errno" in o && !("result" in o)) return `${o.errno} ${fields(o, ["errno"])}`.trimEnd();
  const r = o as Extract<Outcome, { result: string }>;
  if (r.result === "exit") return `exit ${r.exit} ${fields(r, ["result", "exit"])}`.trimEnd();
  if (r.result === "blocked") return `blocked ${fields(r.fault, [])}`;
  return `${r.result} ${fields(r, ["result"])}`.trimEnd();
}

export type Align = "left" | "right";

/** A plain text table: the header, then one row per entry, columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (align[i] === "right" ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
