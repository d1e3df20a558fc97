// Outcome shapes (DESIGN.md section 1): one per step, compared field for field between model, impl and kernel.
import * as t from "io-ts";
import { Byte, Id, literals, strict, tagged, U64 } from "./codecs.js";

export const ERRNOS = [
  "EPERM", "ENOENT", "EACCES", "ESRCH", "EINTR", "EIO", "EBADF", "EAGAIN", "ENOMEM", "EFAULT", "EBUSY", "EEXIST", "ENODEV",
  "EINVAL", "EFBIG", "ENOSPC", "ESPIPE", "ENOTTY", "EOPNOTSUPP", "EHWPOISON", "ENXIO",
] as const;
export type Errno = (typeof ERRNOS)[number];
const ErrnoCodec = literals(...ERRNOS);

/** One run of pages of a guest_memfd as gmem_state reports it (model/gmem/state-query.ts). */
const GmemRangeStateCodec = strict(
  "guest_memfd range state",
  { offset: U64, size: U64, private: t.boolean, faultable: t.boolean, folio: literals("none", "4K", "2M", "1G") },
  {},
);
export type GmemRangeState = t.TypeOf<typeof GmemRangeStateCodec>;

/** `0x0+0x200000 private unfaultable 2M`: one run as replays and race diagrams print it. */
export const gmemRangeText = (r: GmemRangeState): string =>
  `0x${r.offset.toString(16)}+0x${r.size.toString(16)} ${r.private ? "private" : "shared"} ${r.faultable ? "faultable" : "unfaultable"} ${r.folio}`;

/** Fields the kernel writes back into the ioctl argument (a count, or -errno / partial bytes on failure). */
const writeBack = {
  value: t.union([Byte, U64, t.null]),
  mapped: t.union([t.number, t.null]),
  copy: t.union([t.number, t.null]),
  zeropage: t.union([t.number, t.null]),
  updated: t.union([t.number, t.null]),
  move: t.union([t.number, t.null]),
  /** mincore's vector: one character per page written, "1" where its low bit is set. */
  vec: t.string,
  /** uffdio_api.api as UFFDIO_API left it (0xAA, or 0 on a refusal). */
  api: t.number,
  features: t.array(t.string),
  ioctls: t.array(t.string),
  error_offset: U64,
  /** KVM_GET_DIRTY_LOG's bitmap: one character per page of the slot, "1" where the page is reported dirty. */
  dirty_bitmap: t.string,
  /** gmem_state's answer: faultline's own query, no kernel writes it. */
  ranges: t.array(GmemRangeStateCodec),
};

const FaultFlag = literals("WRITE", "MINOR", "WP");
/** siginfo.si_code of a SIGBUS: BUS_ADRERR, or BUS_MCEERR_AR for a poisoned page where memory-failure handling reports it. */
const BusCode = literals("BUS_ADRERR", "BUS_MCEERR_AR");
/** siginfo.si_code of a SIGSEGV: no VMA (SEGV_MAPERR) or one that refuses the access (SEGV_ACCERR). */
const SegvCode = literals("SEGV_MAPERR", "SEGV_ACCERR");
// READ/WRITE/EXEC only under the memory-fault-rwx variant (config.faultExit).
const ExitFlag = literals("PRIVATE", "USERFAULT", "READ", "WRITE", "EXEC");

export const OUTCOME_CODECS = {
  ok: strict("ok outcome", { result: t.literal("ok") }, writeBack),
  SIGBUS: strict("SIGBUS outcome", { result: t.literal("SIGBUS"), code: BusCode }, {}),
  SIGSEGV: strict("SIGSEGV outcome", { result: t.literal("SIGSEGV"), code: SegvCode }, {}),
  blocked: strict(
    "blocked outcome",
    { result: t.literal("blocked"), fault: strict("fault", { uffd: Id, flags: t.array(FaultFlag), address_offset: U64 }, {}) },
    {},
  ),
  completed: strict("completed outcome", { result: t.literal("completed") }, { value: t.union([Byte, t.null]) }),
  exit: strict(
    "exit outcome",
    { result: t.literal("exit"), exit: literals("memory_fault", "mmio", "internal_error", "hypercall"), gpa: U64 },
    // npages: KVM_EXIT_HYPERCALL's args[1] for KVM_HC_MAP_GPA_RANGE (a size in bytes could pass 2^64).
    { errno: ErrnoCodec, size: U64, flags: t.array(ExitFlag), write: t.boolean, npages: U64 },
  ),
};

const ResultOutcome = tagged("outcome", "result", OUTCOME_CODECS);
const ErrnoOutcome = strict("errno outcome", { errno: ErrnoCodec }, writeBack);

export const OutcomeCodec = new t.Type<Outcome, Outcome, unknown>(
  "outcome",
  (u): u is Outcome => ResultOutcome.is(u) || ErrnoOutcome.is(u),
  (u, c) => (typeof u === "object" && u !== null && "errno" in u && !("result" in u) ? ErrnoOutcome.validate(u, c) : ResultOutcome.validate(u, c)),
  t.identity,
);

export type ResultOutcome = t.TypeOf<typeof ResultOutcome>;
export type ErrnoOutcome = t.TypeOf<typeof ErrnoOutcome>;
export type Outcome = ResultOutcome | ErrnoOutcome;
export type OkOutcome = t.TypeOf<(typeof OUTCOME_CODECS)["ok"]>;
export type ExitOutcome = t.TypeOf<(typeof OUTCOME_CODECS)["exit"]>;
export type BlockedOutcome = t.TypeOf<(typeof OUTCOME_CODECS)["blocked"]>;
export type ExitFlagName = t.TypeOf<typeof ExitFlag>;
export type FaultFlagName = t.TypeOf<typeof FaultFlag>;
/** A signal a host access takes, with its si_code. */
export type SignalOutcome = t.TypeOf<(typeof OUTCOME_CODECS)["SIGBUS"]> | t.TypeOf<(typeof OUTCOME_CODECS)["SIGSEGV"]>;
export const SEGV_MAPERR: SignalOutcome = { result: "SIGSEGV", code: "SEGV_MAPERR" };
export const SEGV_ACCERR: SignalOutcome = { result: "SIGSEGV", code: "SEGV_ACCERR" };
export const BUS_ADRERR: SignalOutcome = { result: "SIGBUS", code: "BUS_ADRERR" };
