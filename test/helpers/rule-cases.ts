// One operation after a setup, run through model and implementation (the Checker compares them), with the outcome the
// model must give and the rule that must fire: the shape of the rule-by-rule tests.
import { expect, it } from "vitest";
import { Checker } from "../../props/checker.js";
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";

export interface RuleCase {
  readonly name: string;
  readonly config?: Config;
  readonly setup: readonly Op[];
  readonly op: Op;
  readonly outcome: Partial<Outcome> & Record<string, unknown>;
  readonly rule: string;
}

/** A test per case, on its own configuration or the given one. */
export function ruleCaseTests(cases: readonly RuleCase[], config: Config): void {
  for (const c of cases) {
    it(c.name, async () => {
      const checker = new Checker(c.config ?? config);
      await checker.applyAll([...c.setup, c.op]);
      const last = checker.trace[checker.trace.length - 1]!;
      expect(last.model).toMatchObject(c.outcome);
      expect(last.fired).toContain(c.rule);
    });
  }
}
