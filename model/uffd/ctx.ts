// The userfaultfd context: userfaultfd(2) and /dev/userfaultfd, the UFFDIO_API handshake, both at once (uffd_open), and
// close (userfaultfd_release).
import { UFFD_FEATURES, type OpOf } from "../../schema/ops.js";
import { ioctlTarget, unbindName } from "../fd.js";
import { replaceAt, withEntry, withoutEntry } from "../immutable.js";
import { rule } from "../rules.js";
import { refuse, result, type State, type StepResult } from "../state.js";
import { API_IOCTLS, API_RULES, UFFD_API, createFlags, handshake } from "./api.js";
import { IOCTL_RULES } from "./ioctl.js";
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

/** new_userfaultfd: a ctx before its handshake, installed under `name` (which another fd may have had). */
function createCtx(s: State, name: string, userModeOnly: boolean): { readonly state: State; readonly id: number } {
  const ctx: UffdCtx = { name, features: [], userModeOnly, released: false, uninitialized: true };
  const id = s.uffd.ctxs.length;
  const t = unbindName(s, name);
  return { state: { ...t, uffd: { ...t.uffd, ctxs: [...t.uffd.ctxs, ctx], names: withEntry(t.uffd.names, name, id) } }, id };
}

/** The handshake done: the ctx's features, and no longer before its handshake. */
function initialize(s: State, id: number, features: UffdCtx["features"]): State {
  const { uninitialized: _before, ...ctx } = s.uffd.ctxs[id]!;
  return { ...s, uffd: { ...s.uffd, ctxs: replaceAt(s.uffd.ctxs, id, { ...ctx, features }) } };
}

/** userfaultfd(2) or /dev/userfaultfd's USERFAULTFD_IOC_NEW: the same new_userfaultfd for a privileged process. */
export function uffdCreate(s: State, op: OpOf<"uffd_create">): StepResult {
  const flags = createFlags(op.flags);
  if (flags === undefined) return refuse(s, API_RULES.createFlags);
  return result(createCtx(s, op.uffd, flags.userModeOnly).state, { result: "ok" }, API_RULES.create);
}

/** UFFDIO_API on whatever the name is; a refusal past fget zeroes api, features and ioctls. */
export function uffdioApi(s: State, op: OpOf<"uffdio_api">): StepResult {
  const fd = ioctlTarget(s, op.uffd, "uffd", IOCTL_RULES.badFd);
  if (!fd.ok) return refuse(s, fd.rule);
  const h = handshake(op.api ?? UFFD_API, op.features, s.uffd.ctxs[fd.id]!.uninitialized !== true);
  if ("rule" in h) return result(s, { errno: "EINVAL", api: 0, features: [], ioctls: [] }, h.rule);
  return result(initialize(s, fd.id, h.features), { result: "ok", api: UFFD_API, features: [...UFFD_FEATURES], ioctls: [...API_IOCTLS] }, API_RULES.api);
}

/** userfaultfd(flags) then UFFDIO_API. The scenario process is privileged (docs/VOCABULARY.md), so neither EPERM applies. */
export function uffdOpen(s: State, op: OpOf<"uffd_open">): StepResult {
  const flags = createFlags(op.flags);
  if (flags === undefined) return refuse(s, API_RULES.createFlags);
  const created = createCtx(s, op.uffd, flags.userModeOnly);
  const h = handshake(UFFD_API, op.features, false);
  if ("rule" in h) return result(created.state, { errno: "EINVAL", features: [], ioctls: [] }, API_RULES.create, h.rule);
  return result(initialize(created.state, created.id, h.features), { result: "ok", features: [...UFFD_FEATURES], ioctls: [...API_IOCTLS] }, CTX_RULES.open);
}

/** close of the uffd `name` refers to (model/step.ts dispatches close by what the name is). */
export function closeUffd(s: State, name: string, run: ThreadRunner): StepResult {
  const id = s.uffd.names.get(name)!;
  const ctxs = s.uffd.ctxs.map((c, i) => (i === id ? { ...c, released: true } : c));
  const released = clearRegistration({ ...s, uffd: { ...s.uffd, ctxs, names: withoutEntry(s.uffd.names, name) } }, id);
  return afterWake(result(released, { result: "ok" }, CTX_RULES.release), wakeRange(released, id, 0, undefined, run));
}
