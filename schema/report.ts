// Turns io-ts errors into the one line a user reads: file, JSON path of the field, expected, found.
import type * as t from "io-ts";

const BRANCH_TAGS = new Set(["IntersectionType", "UnionType", "RefinementType", "ReadonlyType", "ExactType"]);

/** Appends an object key or array index to a JSON path, e.g. `steps` + 3 -> `steps[3]`. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === "number" || /^\d+$/.test(key)) return `${path}[${key}]`;
  if (!/^[A-Za-z_$][\w$]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === "" ? key : `${path}.${key}`;
}

/** JSON path of the failing value, e.g. `steps[3].guest_phys_addr`. */
export function errorPath(error: t.ValidationError): string {
  let path = "";
  const ctx = error.context;
  for (let i = 1; i < ctx.length; i++) {
    const parent = ctx[i - 1]!;
    const entry = ctx[i]!;
    // The members of an intersection or union see the same value: their index is not part of the path.
    const member = BRANCH_TAGS.has((parent.type as { _tag?: string })._tag ?? "") || (/^\d+$/.test(entry.key) && !Array.isArray(parent.actual));
    if (!member) path = joinPath(path, entry.key);
  }
  return path;
}

/** The value as the file wrote it, cut to 60 characters: integers past 2^53 exactly, not as JSON.stringify rounds them. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) return BigInt(value).toString();
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** What a codec without its own message expected, in words: `Array<u64>` -> "an array of u64". */
function expectedOf(e: t.ValidationError): string {
  if (e.message !== undefined) return e.message;
  const name = e.context[e.context.length - 1]?.type.name ?? "a value";
  const array = /^Array<(.*)>$/.exec(name);
  if (array !== null) return `expected an array of ${array[1]}`;
  const words: Record<string, string> = { string: "a string", number: "a number", boolean: "true or false", null: "null", UnknownRecord: "an object" };
  return `expected ${words[name] ?? name}`;
}

/**
 * The single most useful error: the deepest path wins, as it names the field the user got wrong. The
 * alternatives of a union fail at the same path; their expectations are joined ("a map id or null").
 */
export function describeErrors(errors: t.Errors): { path: string; message: string; others: number } {
  let deepest = errors[0]!;
  for (const e of errors) if (e.context.length > deepest.context.length) deepest = e;
  const path = errorPath(deepest);
  const here = errors.filter((e) => errorPath(e) === path);
  const expectations = [...new Set(here.map(expectedOf))];
  const message = expectations.every((m) => m.startsWith("expected "))
    ? `expected ${expectations.map((m) => m.slice("expected ".length)).join(" or ")}, found ${describeValue(deepest.value)}`
    : expectations.find((m) => !m.startsWith("expected "))!;
  const others = new Set(errors.map(errorPath)).size - 1;
  return { path, message, others };
}

/** C0 and C1 controls, DEL, line separators, noncharacters and lone surrogates: what a terminal or XML must not see raw. */
const UNPRINTABLE = new RegExp(
  ["[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\ufffe\\uffff]", "[\\ud800-\\udbff](?![\\udc00-\\udfff])", "(?<![\\ud800-\\udbff])[\\udc00-\\udfff]"].join("|"),
  "g",
);

/** Text from outside (a file name, a quoted value) made safe for a terminal line: each control character as `\xNN`. */
export const printable = (text: string): string =>
  text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });

/** The first character `printable` would escape, if any. */
export function firstUnprintable(text: string): { index: number; code: number } | undefined {
  UNPRINTABLE.lastIndex = 0;
  const m = UNPRINTABLE.exec(text);
  UNPRINTABLE.lastIndex = 0;
  return m === null ? undefined : { index: m.index, code: m[0].charCodeAt(0) };
}

/** `file: path: message`, the shape of every file error faultline prints (one line); an empty path is the whole file. */
export const fileErrorLine = (file: string, path: string, message: string): string =>
  printable(`${file}: ${path === "" ? "" : `${path}: `}${message}`);

export function formatErrors(file: string, errors: t.Errors): string {
  const d = describeErrors(errors);
  return `${fileErrorLine(file, d.path, d.message)}${d.others > 0 ? ` (+${d.others} more)` : ""}`;
}

/** A file that cannot be used, as one line: the file, the JSON path of the bad field, what was wrong. */
export class FileError extends Error {
  constructor(
    readonly file: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(fileErrorLine(file, path, problem));
  }
}
