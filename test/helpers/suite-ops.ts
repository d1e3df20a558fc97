// A sequential suite of the default check as data: its configuration, its setup and the arbitrary of its operations.
import type fc from "fast-check";
import { opArbitrary } from "../../props/generators.js";
import { suiteNamed } from "../../props/registry.js";
import type { SequentialSuite } from "../../props/suites.js";
import type { OpSuite } from "../../props/uffd/run.js";
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";

export function suiteOps(name: string): { config: Config; setup: readonly Op[]; ops: fc.Arbitrary<Op> } {
  const s = suiteNamed(name) as SequentialSuite | OpSuite | undefined;
  if (s === undefined || s.kind !== "sequential") throw new Error(`no sequential suite ${name}`);
  if ("ops" in s) return { config: s.config, setup: s.setup, ops: s.ops };
  return { config: s.config, setup: s.setup, ops: (s.arbitrary ?? opArbitrary)(s.layout, s.config) };
}
