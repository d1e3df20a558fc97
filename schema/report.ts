// Turns io-ts errors into the one line a user reads: file, JSON path of the field, expected, found.
import type * as t from "io-ts";

const BRANCH_TAGS = new Set(["IntersectionType", "UnionType", "RefinementType", "ReadonlyType", "ExactType"]);

/** JSON path of the failing value, e.g. `steps[3].guest_phys_addr`. */
export function errorPath(error: t.ValidationError): string {
  let path = "";
  const ctx = error.context;
  for (let i = 1; i < ctx.length; i++) {
    const parent = ctx[i - 1]!;
    const entry = ctx[i]!;
    if (BRANCH_TAGS.has((parent.type as { _tag?: string })._tag ?? "")) continue;
    path += /^\d+$/.test(entry.key) ? `[${entry.key}]` : path === "" ? entry.key : `.${entry.key}`;
  }
  return path === "" ? "(top level)" : path;
}

export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The single most useful error: the deepest path wins, as it names the field the user got wrong. */
export function firstError(errors: t.Errors): t.ValidationError {
  let best = errors[0]!;
  for (const e of errors) if (e.context.length > best.context.length) best = e;
  return best;
}

export function formatErrors(file: string, errors: t.Errors): string {
  const e = firstError(errors);
  const expected = e.message ?? `expected ${e.context[e.context.length - 1]?.type.name ?? "a value"}`;
  const more = errors.length > 1 ? ` (+${errors.length - 1} more)` : "";
  return `${file}: ${errorPath(e)}: ${expected}, found ${describeValue(e.value)}${more}`;
}
