// Outcome shapes (DESIGN.md section 1): one per step, compared field for field between model, impl and kernel.
import * as t from "io-ts";
import { Byte, Id, literals, strict, tagged, U64 } from "./codecs.js";

export const ERRNOS = [
  "EPERM", "ENOENT", "EACCES", "ESRCH", "EINTR", "EIO", "EBADF", "EAGAIN", "ENOMEM", "EFAULT", "EBUSY", "EEXIST", "ENODEV",
  "EINVAL", "EFBIG", "ENOSPC", "ESPIPE", "ENOTTY", "EOPNOTSUPP", "EHWPOISON",
] as const;
export type Errno = (typeof ERRNOS)[number];
const ErrnoCodec = literals(...ERRNOS);

/** Fields the kernel writes back into the ioctl argument (a count, or -errno / partial bytes on failure). */
const writeBack = {
  value: t.union([Byte, U64, t.null]),
  mapped: t.union([t.number, t.null]),
  copy: t.union([t.number, t.null]),
  zeropage: t.union([t.number, t.null]),
  updated: t.union([t.number, t.null]),
  features: t.array(t.string),
  ioctls: t.array(t.string),
  error_offset: U64,
};

const FaultFlag = literals("WRITE", "MINOR", "WP");
const ExitFlag = literals("PRIVATE", "USERFAULT");

export const OUTCOME_CODECS = {
  ok: strict("ok outcome", { result: t.literal("ok") }, writeBack),
  SIGBUS: strict("SIGBUS outcome", { result: t.literal("SIGBUS") }, {}),
  SIGSEGV: strict("SIGSEGV outcome", { result: t.literal("SIGSEGV") }, {}),
  blocked: strict(
    "blocked outcome",
    { result: t.literal("blocked"), fault: strict("fault", { uffd: Id, flags: t.array(FaultFlag), address_offset: U64 }, {}) },
    {},
  ),
  completed: strict("completed outcome", { result: t.literal("completed") }, { value: t.union([Byte, t.null]) }),
  exit: strict(
    "exit outcome",
    { result: t.literal("exit"), exit: literals("memory_fault", "mmio"), gpa: U64 },
    { errno: ErrnoCodec, size: U64, flags: t.array(ExitFlag), write: t.boolean },
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
