// The userfaultfd fd before and at its UFFDIO_API handshake: creating it (userfaultfd(2), /dev/userfaultfd), the
// handshake's checks and write-back, and userfaultfd_ioctl's refusal of every other ioctl until it succeeded.
import { decodeFlags, UFFD_FEATURE_BITS, UFFD_FLAG_BITS } from "../../schema/flags.js";
import type { FlagList, UffdFeatureName, UffdFlagName } from "../../schema/flags.js";
import { UFFD_FEATURES } from "../../schema/ops.js";
import { ioctlTarget, type IoctlTarget } from "../fd.js";
import { rule, type Rule } from "../rules.js";
import type { State } from "../state.js";

const FS = "fs/userfaultfd.c";
/** UFFD_API: the only api number UFFDIO_API takes. */
export const UFFD_API = 0xaa;

export const API_RULES = {
  create: rule(
    "uffd.create",
    `${FS} (SYSCALL_DEFINE1(userfaultfd), userfaultfd_dev_ioctl: USERFAULTFD_IOC_NEW, new_userfaultfd)`,
    "a new userfaultfd, O_RDONLY, not yet through UFFDIO_API (features 0); the scenario process may use both ways in",
  ),
  createFlags: rule(
    "uffd.create-flags",
    `${FS} (new_userfaultfd: flags & ~(UFFD_SHARED_FCNTL_FLAGS | UFFD_USER_MODE_ONLY)); probe on 6.18.44`,
    "a flag other than O_CLOEXEC, O_NONBLOCK and UFFD_USER_MODE_ONLY: no fd",
    "EINVAL",
  ),
  api: rule(
    "uffd.api",
    `${FS} (userfaultfd_api); probe on 6.18.44: UFFDIO_API offers 0x1ffff`,
    "the handshake: the requested features are the ctx's (WP_ASYNC adds WP_UNPOPULATED); api, every available feature " +
      "and UFFD_API_IOCTLS are written back",
  ),
  version: rule(
    "uffd.api-version",
    `${FS} (userfaultfd_api: uffdio_api.api != UFFD_API, goto err_out: the struct is zeroed); probe on 6.18.44`,
    "an api number other than 0xAA: api, features and ioctls are written back as 0",
    "EINVAL",
  ),
  features: rule(
    "uffd.api-features",
    `${FS} (userfaultfd_api: features & ~uffdio_api.features, goto err_out); probe on 6.18.44`,
    "a feature bit the kernel does not offer: api, features and ioctls are written back as 0, the ctx stays before its handshake",
    "EINVAL",
  ),
  again: rule(
    "uffd.api-again",
    `${FS} (userfaultfd_api: cmpxchg(&ctx->features, 0, ...) fails, goto err_out); probe on 6.18.44`,
    "a second handshake: the struct is zeroed after the features were written, the ctx keeps its first features",
    "EINVAL",
  ),
  beforeApi: rule(
    "uffd.ioctl-before-api",
    `${FS} (userfaultfd_ioctl: cmd != UFFDIO_API && !userfaultfd_is_initialized); probe on 6.18.44`,
    "any other userfaultfd ioctl before the handshake succeeded; the count field is not written",
    "EINVAL",
  ),
};

/** UFFD_API_IOCTLS written back by UFFDIO_API, in bit order. */
export const API_IOCTLS = ["REGISTER", "UNREGISTER", "API"] as const;

/** userfaultfd(2)'s flags: the USER_MODE_ONLY bit, or undefined for a flag new_userfaultfd refuses. */
export function createFlags(list: FlagList<UffdFlagName> | undefined): { readonly userModeOnly: boolean } | undefined {
  const flags = decodeFlags(list, UFFD_FLAG_BITS);
  return flags.unknown.length > 0 ? undefined : { userModeOnly: flags.names.includes("USER_MODE_ONLY") };
}

/** What UFFDIO_API decides on a ctx: its features, or the refusing rule (checked in userfaultfd_api's order). */
export type Handshake = { readonly features: readonly UffdFeatureName[] } | { readonly rule: Rule };

export function handshake(api: number, list: FlagList<UffdFeatureName>, initialized: boolean): Handshake {
  if (api !== UFFD_API) return { rule: API_RULES.version };
  const requested = decodeFlags(list, UFFD_FEATURE_BITS);
  // Every feature is offered here (x86 and arm64 with uffd-wp markers): an unknown bit is the only one refused.
  if (requested.unknown.length > 0) return { rule: API_RULES.features };
  if (initialized) return { rule: API_RULES.again };
  const names = requested.names.includes("WP_ASYNC") ? [...requested.names, "WP_UNPOPULATED"] : requested.names;
  return { features: UFFD_FEATURES.filter((f) => names.includes(f)) };
}

/** A userfaultfd ioctl other than UFFDIO_API: the ctx, once the fd is a userfaultfd past its handshake. */
export function uffdTarget(s: State, name: string, badFd: Rule): IoctlTarget {
  const t = ioctlTarget(s, name, "uffd", badFd);
  if (t.ok && s.uffd.ctxs[t.id]!.uninitialized === true) return { ok: false, rule: API_RULES.beforeApi };
  return t;
}
