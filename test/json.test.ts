// schema/json.ts: the reader that keeps integers exact, refuses duplicate keys and deep nesting, and the writer
// that puts integers past 2^53 back exactly. Checked against JSON.parse and BigInt on generated values.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonError, MAX_DEPTH, parseJson, stringifyExact } from "../schema/json.js";

/** JSON values whose numbers are safe integers: JSON.parse reads those exactly too. */
const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", maxDepth: 5 },
    fc.maxSafeInteger(),
    fc.maxSafeNat(),
    fc.string({ unit: "binary" }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: "binary", maxLength: 6 }), tie("value"), { maxKeys: 5 }),
  ),
})).value;

function errorOf(text: string): JsonError {
  try {
    parseJson(text);
  } catch (e) {
    if (e instanceof JsonError) return e;
    throw e;
  }
  throw new Error(`parsed: ${text}`);
}

describe("parseJson", () => {
  it("reads what JSON.parse reads, when every number is a safe integer", () => {
    fc.assert(
      fc.property(plain, fc.constantFrom(undefined, 0, 2, "\t"), (v, indent) => {
        const text = JSON.stringify(v, null, indent);
        expect(parseJson(text)).toEqual(JSON.parse(text));
      }),
    );
  });

  it("an integer literal is read if and only if a double holds it exactly", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.integer({ min: 0, max: 12 }), (b, shift) => {
        const n = b << BigInt(shift);
        const exact = BigInt(Number(n)) === n;
        if (exact) expect(parseJson(n.toString())).toBe(Number(n));
        else
          expect(errorOf(n.toString()).message).toBe(
            `${n} cannot be held exactly (a double reads it as ${BigInt(Number(n))}); faultline refuses to round a number`,
          );
      }),
    );
  });

  it("exponent and fraction forms: exact ones are read, others refused", () => {
    expect(parseJson("1e21")).toBe(1e21);
    expect(parseJson("4.5e3")).toBe(4500);
    expect(parseJson("0.5")).toBe(0.5);
    expect(parseJson("-0")).toBe(-0);
    expect(parseJson("0e999999999")).toBe(0);
    for (const text of ["0.1", "1e400", "1e-400", "9007199254740993e0", `1${"0".repeat(900)}`])
      expect(errorOf(text).message).toMatch(/cannot be held exactly/);
  });

  it("errors name the line and column, and the path of a bad value", () => {
    expect(errorOf('{\n  "a": [1, 2,]\n}')).toMatchObject({ where: "line 2, column 14", message: "not JSON: expected a value, found ']'" });
    expect(errorOf('{"a": {"b": 9007199254740993}}')).toMatchObject({ path: "a.b" });
    expect(errorOf('{"a": 1}x')).toMatchObject({ where: "line 1, column 9" });
    expect(errorOf('"abc')).toMatchObject({ message: "not JSON: the file ends inside a string" });
    expect(errorOf('"\\x"')).toMatchObject({ message: "not JSON: unknown escape \\x inside a string" });
    expect(errorOf("01")).toMatchObject({ where: "line 1, column 2" });
    expect(errorOf("1.")).toMatchObject({ message: "not JSON: a malformed number" });
  });

  it(`nesting stops at ${MAX_DEPTH} levels, however deep the input`, () => {
    expect(parseJson(`${"[".repeat(MAX_DEPTH)}${"]".repeat(MAX_DEPTH)}`)).toBeDefined();
    expect(errorOf(`${"[".repeat(MAX_DEPTH + 1)}${"]".repeat(MAX_DEPTH + 1)}`).message).toMatch(/^nested deeper than 32 levels/);
    expect(errorOf(`{"x": ${'{"y":'.repeat(1_000_000)}`).message).toBe("nested deeper than 32 levels of arrays and objects (inside x)");
  });

  it("a byte order mark is skipped; keys are data, never prototypes", () => {
    expect(parseJson('\ufeff{"a": 1}')).toEqual({ a: 1 });
    const o = parseJson('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    expect(Object.keys(o)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
  });
});

describe("stringifyExact", () => {
  it("writes what JSON.stringify(v, null, 2) writes, when every number is a safe integer", () => {
    fc.assert(
      fc.property(plain, (v) => {
        expect(stringifyExact(v)).toBe(JSON.stringify(v, null, 2));
      }),
    );
  });

  it("writes integers past 2^53 exactly, so that parseJson reads them back", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 52n - 1n }), (pages) => {
        const v = Number(pages * 4096n);
        expect(parseJson(stringifyExact({ v, list: [v] }))).toEqual({ v, list: [v] });
      }),
    );
    expect(stringifyExact(2 ** 64 - 4096)).toBe("18446744073709547520");
  });

  it("calls toJSON and drops what JSON drops", () => {
    expect(stringifyExact({ a: undefined, b: { toJSON: () => 7 }, c: [undefined] }, 0)).toBe('{\n"b": 7,\n"c": [\nnull\n]\n}');
  });
});
