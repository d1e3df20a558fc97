// JSON text to values and back, keeping what JSON.parse and JSON.stringify lose. A number literal a double
// cannot hold exactly (2^53+1, 2^64-1, 0.1) is refused and quoted as written, never rounded; a key given twice
// is refused, never dropped; nesting is capped (a value nested 100,000 deep overflows any recursive reader
// after it); every syntax error names its line and column. Node 20's JSON.parse reviver has no source text.
import { joinPath } from "./report.js";

/** A problem at a place in the text: `where` is "line L, column C", `path` the JSON path of the value, if any. */
export class JsonError extends Error {
  constructor(
    readonly where: string,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** Arrays and objects nested deeper than this are refused: a scenario needs six levels. */
export const MAX_DEPTH = 32;
/** Longer number literals are refused: no double needs more than 25 characters to be written exactly enough. */
const MAX_NUMBER_CHARS = 800;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** `line 3, column 7` for an offset into text. */
export function lineColumn(text: string, offset: number): string {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return `line ${line}, column ${offset - start + 1}`;
}

/** How a character reads in a message: `'x'`, or `U+0007` for one that does not print. */
const shown = (c: string): string =>
  /^[\x21-\x7e]$/.test(c) ? `'${c}'` : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

/** Parses a whole JSON text. A leading byte order mark is skipped. */
export function parseJson(text: string, maxDepth = MAX_DEPTH): unknown {
  return new Parser(text, maxDepth).document();
}

class Parser {
  private at = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {
    if (text.charCodeAt(0) === 0xfeff) this.at = 1;
  }

  document(): unknown {
    this.space();
    if (this.at >= this.text.length) throw this.error("not JSON: the file is empty");
    const v = this.value("", 0);
    this.space();
    if (this.at < this.text.length)
      throw this.error(`not JSON: expected the end of the file after the value, found ${shown(this.text[this.at]!)}`);
    return v;
  }

  private error(message: string, at = this.at, path = ""): JsonError {
    return new JsonError(lineColumn(this.text, at), path, message);
  }

  private space(): void {
    WHITESPACE.lastIndex = this.at;
    WHITESPACE.test(this.text);
    this.at = WHITESPACE.lastIndex;
  }

  private value(path: string, depth: number): unknown {
    const c = this.text[this.at];
    if (c === undefined) throw this.error("not JSON: the file ends where a value should be");
    if (c === "{" || c === "[") {
      if (depth >= this.maxDepth) {
        const top = /^[^.[]*/.exec(path)![0];
        throw this.error(`nested deeper than ${this.maxDepth} levels of arrays and objects${top === "" ? "" : ` (inside ${top})`}`);
      }
      return c === "{" ? this.object(path, depth + 1) : this.array(path, depth + 1);
    }
    if (c === '"') return this.string();
    const bare = /^(NaN|-?Infinity|undefined)/.exec(this.text.slice(this.at, this.at + 10));
    if (bare !== null) throw this.error(`not JSON: ${bare[1]} is not a JSON value (JSON numbers are finite)`);
    if (c === "-" || (c >= "0" && c <= "9")) return this.number(path);
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return v;
      }
    }
    throw this.error(`not JSON: expected a value, found ${shown(String.fromCodePoint(this.text.codePointAt(this.at)!))}`);
  }

  private object(path: string, depth: number): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    this.at++;
    this.space();
    if (this.text[this.at] === "}") {
      this.at++;
      return o;
    }
    for (;;) {
      if (this.text[this.at] !== '"') throw this.error(`not JSON: expected a double-quoted key, found ${this.found()}`);
      const keyAt = this.at;
      const key = this.string();
      const here = joinPath(path, key);
      if (Object.hasOwn(o, key)) throw this.error(`duplicate key ${JSON.stringify(key)}`, keyAt, here);
      this.space();
      if (this.text[this.at] !== ":") throw this.error(`not JSON: expected ':' after the key, found ${this.found()}`);
      this.at++;
      this.space();
      // Defined, not assigned: a "__proto__" key is data, not the object's prototype.
      Object.defineProperty(o, key, { value: this.value(here, depth), enumerable: true, writable: true, configurable: true });
      this.space();
      if (this.text[this.at] === "}") {
        this.at++;
        return o;
      }
      if (this.text[this.at] !== ",") throw this.error(`not JSON: expected ',' or '}' in an object, found ${this.found()}`);
      this.at++;
      this.space();
    }
  }

  private array(path: string, depth: number): unknown[] {
    const a: unknown[] = [];
    this.at++;
    this.space();
    if (this.text[this.at] === "]") {
      this.at++;
      return a;
    }
    for (;;) {
      a.push(this.value(joinPath(path, a.length), depth));
      this.space();
      if (this.text[this.at] === "]") {
        this.at++;
        return a;
      }
      if (this.text[this.at] !== ",") throw this.error(`not JSON: expected ',' or ']' in an array, found ${this.found()}`);
      this.at++;
      this.space();
    }
  }

  private found(): string {
    return this.at >= this.text.length ? "the end of the file" : shown(String.fromCodePoint(this.text.codePointAt(this.at)!));
  }

  private string(): string {
    const start = this.at;
    let out = "";
    let from = ++this.at;
    for (;;) {
      const code = this.text.charCodeAt(this.at);
      if (Number.isNaN(code)) throw this.error("not JSON: the file ends inside a string", start);
      if (code === 0x22) {
        out += this.text.slice(from, this.at++);
        return out;
      }
      if (code < 0x20)
        throw this.error(`not JSON: control character ${shown(this.text[this.at]!)} inside a string (write it as an escape)`);
      if (code !== 0x5c) {
        this.at++;
        continue;
      }
      out += this.text.slice(from, this.at);
      const e = this.text[this.at + 1];
      if (e === "u") {
        const hex = this.text.slice(this.at + 2, this.at + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.error("not JSON: expected four hex digits after \\u");
        out += String.fromCharCode(parseInt(hex, 16));
        this.at += 6;
      } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
        out += ESCAPES[e];
        this.at += 2;
      } else {
        throw this.error(`not JSON: unknown escape \\${e ?? ""} inside a string`);
      }
      from = this.at;
    }
  }

  private number(path: string): number {
    NUMBER.lastIndex = this.at;
    const m = NUMBER.exec(this.text);
    if (m === null) throw this.error(`not JSON: expected a number, found ${this.found()}`);
    const literal = m[0];
    if (/^[.eE]/.test(this.text[this.at + literal.length] ?? ""))
      throw this.error("not JSON: a malformed number", this.at + literal.length);
    const start = this.at;
    this.at += literal.length;
    const v = Number(literal);
    if (literal.length > MAX_NUMBER_CHARS || !heldExactly(literal, v)) {
      const quoted = literal.length > 40 ? `${literal.slice(0, 37)}...` : literal;
      const reads = Number.isFinite(v) ? ` (a double reads it as ${exactText(v)})` : "";
      throw this.error(`${quoted} cannot be held exactly${reads}; faultline refuses to round a number`, start, path);
    }
    return v;
  }
}

/** The exact decimal value of an integer-valued double (JSON.stringify writes 2^64 as 18446744073709552000). */
export const exactText = (v: number): string => (Number.isInteger(v) && !Number.isSafeInteger(v) ? BigInt(v).toString() : String(v));

/** Is the decimal literal exactly the double v? Compares literal = digits * 10^exp with v = mantissa * 2^exp2 in integers. */
function heldExactly(literal: string, v: number): boolean {
  if (!Number.isFinite(v)) return false;
  const m = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal)!;
  let digits = `${m[1]}${m[2] ?? ""}`.replace(/^0+/, "");
  if (digits === "") return true;
  if (v === 0) return false;
  // A double's exact decimal expansion has at most 767 significant digits.
  const trimmed = digits.replace(/0+$/, "");
  if (trimmed.length > 770) return false;
  let exp10 = Number(m[3] ?? "0") - (m[2]?.length ?? 0) + (digits.length - trimmed.length);
  digits = trimmed;
  if (!Number.isSafeInteger(exp10) || Math.abs(exp10) > 1200) return false;
  const { mantissa, exp2 } = binary(Math.abs(v));
  const lhs = BigInt(digits) * 10n ** BigInt(Math.max(exp10, 0)) * 2n ** BigInt(Math.max(-exp2, 0));
  const rhs = mantissa * 2n ** BigInt(Math.max(exp2, 0)) * 10n ** BigInt(Math.max(-exp10, 0));
  return lhs === rhs;
}

/** A positive finite double as mantissa * 2^exp2, both exact. */
function binary(v: number): { mantissa: bigint; exp2: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  return exponent === 0 ? { mantissa: fraction, exp2: -1074 } : { mantissa: fraction | (1n << 52n), exp2: exponent - 1075 };
}

/**
 * JSON text as JSON.stringify(value, null, indent) writes it, except that integers past 2^53 are written exactly
 * (2^64 - 4096 as 18446744073709547520, not 18446744073709548000, which parseJson would refuse).
 */
export function stringifyExact(value: unknown, indent = 2): string {
  const pad = " ".repeat(indent);
  const write = (v: unknown, key: string, inner: string): string | undefined => {
    const j =
      v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function"
        ? (v as { toJSON(k: string): unknown }).toJSON(key)
        : v;
    if (typeof j === "number") return Number.isFinite(j) ? exactText(j) : "null";
    if (j === null || typeof j !== "object") return JSON.stringify(j);
    const deeper = inner + pad;
    if (Array.isArray(j)) {
      if (j.length === 0) return "[]";
      const items = j.map((x, i) => write(x, String(i), deeper) ?? "null");
      return `[\n${items.map((x) => deeper + x).join(",\n")}\n${inner}]`;
    }
    const entries = Object.entries(j).flatMap(([k, x]) => {
      const text = write(x, k, deeper);
      return text === undefined ? [] : [`${deeper}${JSON.stringify(k)}: ${text}`];
    });
    return entries.length === 0 ? "{}" : `{\n${entries.join(",\n")}\n${inner}}`;
  };
  return write(value, "", "") ?? "null";
}
