// Non-cooperative events (UFFD_EVENT_REMOVE / UNMAP) need a monitor that read()s them; the vocabulary has no read,
// so an operation that would raise one is refused as not modeled instead of blocking its caller forever.
import { rule } from "../rules.js";
import type { State } from "../state.js";
import type { Mapping } from "../mm/types.js";
import { spans } from "../ranges.js";
import { regsOf } from "./vma.js";

export const UFFD_EVENT_RULES = {
  notModeled: rule(
    "faultline.uffd-event",
    "docs/VOCABULARY.md (userfaultfd); fs/userfaultfd.c (userfaultfd_remove, userfaultfd_unmap_prep)",
    "the range is registered with a ctx that asked for EVENT_REMOVE or EVENT_UNMAP: the event would wait for a read() the vocabulary lacks",
    "ENOTTY",
  ),
};

/** Whether madvise (EVENT_REMOVE) or munmap (EVENT_UNMAP) of pages [start, end) would queue an event. */
export function raisesEvent(s: State, m: Mapping, start: number, end: number, feature: "EVENT_REMOVE" | "EVENT_UNMAP"): boolean {
  return spans(regsOf(m), start, end).some((r) => s.uffd.ctxs[r.value.ctx]!.features.includes(feature));
}
