// Every rule the model can fire, by id, so a trace can print why a step came out as it did and cite the source.
// A module that declares new rules adds its *_RULES object here; test/cli-rules.test.ts checks none is missing.
import { ALTERNATIVE_RULES } from "./alternatives.js";
import { FD_RULES } from "./fd.js";
import { ALLOC_FAIL_RULES } from "./gmem/alloc-fail.js";
import { CONVERT_RULES } from "./gmem/convert.js";
import { DIRECT_MAP_RULES } from "./gmem/direct-map.js";
import { FALLOCATE_RULES } from "./gmem/fallocate.js";
import { GMEM_RULES } from "./gmem/file.js";
import { FOLIO_RULES } from "./gmem/folio.js";
import { PIN_RULES } from "./gmem/pin.js";
import { STATE_QUERY_RULES } from "./gmem/state-query.js";
import { WRITE_RULES } from "./gmem/write.js";
import { PKVM_RULES } from "./gmem/pkvm.js";
import { ATTRIBUTE_RULES } from "./kvm/attributes.js";
import { DIRTY_LOG_RULES } from "./kvm/dirty-log.js";
import { FAULT_PATH_RULES } from "./kvm/fault.js";
import { HYPERCALL_RULES } from "./kvm/hypercall.js";
import { MEMSLOT_RULES } from "./kvm/memslot.js";
import { MMU_RULES } from "./kvm/mmu.js";
import { UACCESS_RULES } from "./kvm/uaccess.js";
import { RESCAN_RULES } from "./kvm/rescan.js";
import { USERFAULT_RULES } from "./kvm/userfault.js";
import { VARIANT_RULES } from "./kvm/variants.js";
import { VM_RULES } from "./kvm/vm.js";
import { FAULT_RULES } from "./mm/fault.js";
import { FALLOC_MODE_RULES } from "./mm/falloc.js";
import { MINCORE_RULES } from "./mm/mincore.js";
import { MM_RULES } from "./mm/ops.js";
import type { Rule } from "./rules.js";
import { STEP_RULES } from "./step.js";
import { API_RULES } from "./uffd/api.js";
import { CTX_RULES } from "./uffd/ctx.js";
import { UFFD_EVENT_RULES } from "./uffd/events.js";
import { UFFD_FAULT_RULES } from "./uffd/fault.js";
import { IOCTL_RULES } from "./uffd/ioctl.js";
import { UFFD_DESIGN_RULES } from "./uffd/gmem-designs.js";
import { MOVE_RULES } from "./uffd/move.js";
import { REGISTER_RULES } from "./uffd/register.js";
import { THREAD_RULES } from "./uffd/thread.js";
import { WP_RULES } from "./uffd/wp.js";

/** The rule groups, named as exported by their modules. */
export const RULE_GROUPS: Readonly<Record<string, Readonly<Record<string, Rule>>>> = {
  STEP_RULES,
  FD_RULES,
  VM_RULES,
  MEMSLOT_RULES,
  MMU_RULES,
  FAULT_PATH_RULES,
  ATTRIBUTE_RULES,
  USERFAULT_RULES,
  RESCAN_RULES,
  UACCESS_RULES,
  VARIANT_RULES,
  DIRTY_LOG_RULES,
  GMEM_RULES,
  CONVERT_RULES,
  ALTERNATIVE_RULES,
  FALLOCATE_RULES,
  FOLIO_RULES,
  PIN_RULES,
  STATE_QUERY_RULES,
  DIRECT_MAP_RULES,
  WRITE_RULES,
  HYPERCALL_RULES,
  PKVM_RULES,
  ALLOC_FAIL_RULES,
  MM_RULES,
  FALLOC_MODE_RULES,
  MINCORE_RULES,
  FAULT_RULES,
  API_RULES,
  CTX_RULES,
  REGISTER_RULES,
  UFFD_FAULT_RULES,
  IOCTL_RULES,
  UFFD_DESIGN_RULES,
  MOVE_RULES,
  WP_RULES,
  THREAD_RULES,
  UFFD_EVENT_RULES,
};

/** Every rule of the groups by id; two different rules under one id are refused. */
export function indexRules(groups: Readonly<Record<string, Readonly<Record<string, Rule>>>>): ReadonlyMap<string, Rule> {
  const byId = new Map<string, Rule>();
  for (const group of Object.values(groups)) {
    for (const r of Object.values(group)) {
      const seen = byId.get(r.id);
      // One id, one rule: two different rules under an id would make a trace cite the wrong source.
      if (seen !== undefined && seen !== r) throw new Error(`rule id "${r.id}" is declared twice`);
      byId.set(r.id, r);
    }
  }
  return byId;
}

export const RULES: ReadonlyMap<string, Rule> = indexRules(RULE_GROUPS);

export const ruleById = (id: string): Rule | undefined => RULES.get(id);
