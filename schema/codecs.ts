// Small io-ts building blocks shared by every file format faultline reads.
import * as t from "io-ts";
import { firstUnprintable } from "./report.js";

/** An object codec that refuses keys it does not know (io-ts `exact` would drop them silently). */
export function strict<R extends t.Props, O extends t.Props>(
  name: string,
  required: R,
  optional: O,
): t.Type<t.TypeOf<t.TypeC<R>> & t.TypeOf<t.PartialC<O>>, unknown, unknown> {
  const inner = t.intersection([t.type(required), t.partial(optional)]);
  const known = new Set([...Object.keys(required), ...Object.keys(optional)]);
  return new t.Type(
    name,
    (u): u is t.TypeOf<t.TypeC<R>> & t.TypeOf<t.PartialC<O>> => inner.is(u),
    (u, c) => {
      if (typeof u !== "object" || u === null || Array.isArray(u)) return t.failure(u, c, `expected an object (${name})`);
      for (const [k, v] of Object.entries(u)) {
        if (!known.has(k)) {
          const near = nearest(k, [...known]);
          const hint = near === undefined ? "" : `did you mean "${near}"? `;
          return t.failure(v, t.appendContext(c, k, t.never, v), `unknown key "${k}"; ${hint}${name} takes ${[...known].join(", ")}`);
        }
      }
      return inner.validate(u, c);
    },
    t.identity,
  );
}

/** A tagged union decoded by its tag first, so an unknown tag gets a precise message. */
export function tagged<C extends t.Mixed>(name: string, tag: string, members: Record<string, C>): t.Type<t.TypeOf<C>, unknown, unknown> {
  const names = Object.keys(members);
  return new t.Type(
    name,
    (u): u is t.TypeOf<C> => typeof u === "object" && u !== null && Object.values(members).some((m) => m.is(u)),
    (u, c) => {
      if (typeof u !== "object" || u === null || Array.isArray(u)) return t.failure(u, c, `expected an object (${name})`);
      const value = (u as Record<string, unknown>)[tag];
      const member = typeof value === "string" && Object.hasOwn(members, value) ? members[value] : undefined;
      if (member === undefined) {
        const near = typeof value === "string" ? nearest(value, names) : undefined;
        const what = value === undefined ? `missing ${tag}` : `unknown ${tag} ${JSON.stringify(value)}`;
        const help = near === undefined ? `expected one of ${names.join(", ")}` : `did you mean "${near}"?`;
        return t.failure(value, t.appendContext(c, tag, t.never, value), `${what}; ${help}`);
      }
      return member.validate(u, c);
    },
    t.identity,
  );
}

/** The candidate within two edits of a misspelt name, if exactly one is that close. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const close = candidates.filter((c) => editDistance(word, c) <= 2);
  return close.length === 1 ? close[0] : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

export const literals = <L extends string>(...values: readonly [L, ...L[]]): t.Type<L, L, unknown> =>
  new t.Type<L, L, unknown>(
    values.join(" | "),
    (u): u is L => typeof u === "string" && (values as readonly string[]).includes(u),
    (u, c) =>
      typeof u === "string" && (values as readonly string[]).includes(u)
        ? t.success(u as L)
        : t.failure(u, c, `expected one of ${values.map((v) => JSON.stringify(v)).join(", ")}`),
    t.identity,
  );

/** A non-empty identifier naming an object of the scenario ("v0", "g1"...). */
export const Id = new t.Type<string, string, unknown>(
  "id",
  (u): u is string => typeof u === "string" && /^[A-Za-z_][\w.-]{0,31}$/.test(u),
  (u, c) =>
    typeof u === "string" && /^[A-Za-z_][\w.-]{0,31}$/.test(u) ? t.success(u) : t.failure(u, c, "expected an id (a letter, then up to 31 letters, digits, '_', '-' or '.')"),
  t.identity,
);

/** A mapping id: "m<N>" with N < 64 names the N-th fixed 1 TiB window of the host address space (docs/VOCABULARY.md). */
export const MapId = new t.Type<string, string, unknown>(
  "map id",
  (u): u is string => typeof u === "string" && isMapId(u),
  (u, c) => (typeof u === "string" && isMapId(u) ? t.success(u) : t.failure(u, c, 'expected a map id "m0" .. "m63"')),
  t.identity,
);

function isMapId(u: string): boolean {
  const m = /^m(\d{1,2})$/.exec(u);
  return m !== null && Number(m[1]) < 64;
}

const TWO_53 = 2n ** 53n;
const TWO_64 = 2n ** 64n;
const U64_TEXT = /^(?:0|[1-9]\d{0,19}|0[xX][0-9a-fA-F]{1,16})$/;
const U64_EXPECTED =
  "expected an unsigned 64-bit integer held exactly (at most 2^53-1, or a multiple of 4096 below 2^64), " +
  'as a number or a string ("4096", "0x1000")';

/**
 * An unsigned 64-bit value as JavaScript holds it exactly: any safe integer, or a multiple of 4096 below 2^64
 * (page-aligned values are exact in a double, which is what the overflow rules need). Written as a JSON number
 * or, so that any u64 can be written whatever a JSON tool does to large numbers, as a decimal or 0x string.
 */
export const U64 = new t.Type<number, number, unknown>(
  "u64",
  (u): u is number => typeof u === "number" && Number.isInteger(u) && u64Held(BigInt(u)),
  (u, c) => {
    const n = typeof u === "number" && Number.isInteger(u) ? BigInt(u) : typeof u === "string" && U64_TEXT.test(u) ? BigInt(u) : undefined;
    return n !== undefined && u64Held(n) ? t.success(Number(n)) : t.failure(u, c, U64_EXPECTED);
  },
  t.identity,
);

function u64Held(n: bigint): boolean {
  return n >= 0n && n < TWO_64 && (n < TWO_53 || n % 4096n === 0n);
}

export const intIn = (name: string, lo: number, hi: number): t.Type<number, number, unknown> =>
  new t.Type<number, number, unknown>(
    name,
    (u): u is number => typeof u === "number" && Number.isInteger(u) && u >= lo && u <= hi,
    (u, c) =>
      typeof u === "number" && Number.isInteger(u) && u >= lo && u <= hi ? t.success(u) : t.failure(u, c, `expected an integer from ${lo} to ${hi}`),
    t.identity,
  );

/** Free text (a name, a description): anything printable. Control characters would reach a terminal or an SVG raw. */
export const Text = new t.Type<string, string, unknown>(
  "text",
  (u): u is string => typeof u === "string" && firstUnprintable(u) === undefined,
  (u, c) => {
    if (typeof u !== "string") return t.failure(u, c, "expected a string");
    const bad = firstUnprintable(u);
    const code = `U+${bad?.code.toString(16).toUpperCase().padStart(4, "0")}`;
    if (bad === undefined) return t.success(u);
    return t.failure(u, c, `expected printable text, without control characters (${code} at index ${bad.index})`);
  },
  t.identity,
);

export const U32 = intIn("u32", 0, 2 ** 32 - 1);
export const Byte = intIn("byte", 0, 255);
export const Count = intIn("count", 0, Number.MAX_SAFE_INTEGER);
