// Every rule the model applies has an id, a one-line statement and its source, so a replay can say why.
import type { Errno } from "../schema/outcome.js";

export interface Rule {
  readonly id: string;
  /** Kernel file + function, or patch series / Message-ID. */
  readonly cite: string;
  readonly text: string;
  /** The errno the rule produces, when it is a refusal. */
  readonly errno?: Errno;
}

export const rule = (id: string, cite: string, text: string, errno?: Errno): Rule =>
  errno === undefined ? { id, cite, text } : { id, cite, text, errno };

/** A validation in kernel check order: the first failing check wins. */
export interface Check {
  readonly fails: () => boolean;
  readonly rule: Rule;
}
export const check = (r: Rule, fails: () => boolean): Check => ({ rule: r, fails });

export function firstFailure(checks: readonly Check[]): Rule | undefined {
  return validate(checks).failure;
}

/** A validation's verdict: the refusing rule, if any, and the rules whose checks ran and passed before it. */
export interface Validation {
  readonly failure?: Rule;
  readonly passed: readonly Rule[];
}

export function validate(checks: readonly Check[]): Validation {
  const passed: Rule[] = [];
  for (const c of checks) {
    if (c.fails()) return { failure: c.rule, passed };
    passed.push(c.rule);
  }
  return { passed };
}
