// The userfaultfd context: userfaultfd(2) plus the UFFDIO_API handshake (uffd_open), and close (userfaultfd_release).
import { decodeFlags, UFFD_FEATURE_BITS, UFFD_FLAG_BITS } from "../../schema/flags.js";
import { UFFD_FEATURES, type OpOf } from "../../schema/ops.js";
import { unbindName } from "../fd.js";
import { withEntry, withoutEntry } from "../immutable.js";
import { rule } from "../rules.js";
import { result, type State, type StepResult } from "../state.js";
import { clearRegistration } from "./register.js";
import { afterWake, wakeRange, type ThreadRunner } from "./thread.js";
import type { UffdCtx } from "./types.js";

const FS = "fs/userfaultfd.c";

export const CTX_RULES = {
  open: rule(
    "uffd.open",
    `${FS} (new_userfaultfd, userfaultfd_api); probe on 6.18.44: UFFDIO_API offers 0x1ffff`,
    "userfaultfd + UFFDIO_API: every feature is available here, features and UFFD_API_IOCTLS are written back",
  ),
  release: rule("uffd.release", `${FS} (userfaultfd_release); mm/userfaultfd.c (userfaultfd_release_all)`, "close unregisters every range of the ctx and wakes all its sleepers"),
};

/** UFFD_API_IOCTLS written back by UFFDIO_API, in bit order. */
export const API_IOCTLS = ["REGISTER", "UNREGISTER", "API"] as const;

/** userfaultfd(flags) then UFFDIO_API. The scenario process is privileged (docs/VOCABULARY.md), so neither EPERM applies. */
export function uffdOpen(s: State, op: OpOf<"uffd_open">): StepResult {
  // UFFDIO_API adds WP_UNPOPULATED to a request with WP_ASYNC (userfaultfd_api).
  const named = decodeFlags(op.features, UFFD_FEATURE_BITS).names;
  const requested = named.includes("WP_ASYNC") ? [...named, "WP_UNPOPULATED"] : named;
  const ctx: UffdCtx = {
    name: op.uffd,
    features: UFFD_FEATURES.filter((f) => requested.includes(f)),
    userModeOnly: decodeFlags(op.flags, UFFD_FLAG_BITS).names.includes("USER_MODE_ONLY"),
    released: false,
  };
  const id = s.uffd.ctxs.length;
  const t = unbindName(s, op.uffd);
  const next: State = { ...t, uffd: { ...t.uffd, ctxs: [...t.uffd.ctxs, ctx], names: withEntry(t.uffd.names, op.uffd, id) } };
  return result(next, { result: "ok", features: [...UFFD_FEATURES], ioctls: [...API_IOCTLS] }, CTX_RULES.open);
}

/** close of the uffd `name` refers to (model/step.ts dispatches close by what the name is). */
export function closeUffd(s: State, name: string, run: ThreadRunner): StepResult {
  const id = s.uffd.names.get(name)!;
  const ctxs = s.uffd.ctxs.map((c, i) => (i === id ? { ...c, released: true } : c));
  const released = clearRegistration({ ...s, uffd: { ...s.uffd, ctxs, names: withoutEntry(s.uffd.names, name) } }, id);
  return afterWake(result(released, { result: "ok" }, CTX_RULES.release), wakeRange(released, id, 0, undefined, run));
}
