// A bitmap in 32-bit words, read word by word as KVM reads the userfault bitmap with __get_user, with a summary of
// two bits per group of words (any bit set, every bit set) kept in step with every write, so that a scan skips an
// empty or full group in one test: a sparse 1 TiB bitmap is 8 Mi words but 1 Mi groups of 8 words (a 32-byte read
// where a group has something to find; 32-word groups spent most of a sparse scan walking empty words).
import { nextVersion } from "./versioned.js";

/** Index of the lowest set bit of a non-zero 32-bit word. */
const lowestSet = (x: number): number => 31 - Math.clz32(x & -x);

/**
 * Sets or clears bits [start, end) of words: partial words by mask, whole words with one fill. firstMaskShort is a
 * seeded slip (impl/bugs.ts): the first word's mask of a write spanning words starts one bit late.
 */
function assignBits(words: Uint32Array, start: number, end: number, on: boolean, firstMaskShort = false): void {
  if (start >= end) return;
  const w0 = start >>> 5;
  const w1 = (end - 1) >>> 5;
  const headMask = (0xffffffff << (start & 31)) >>> 0;
  const tailMask = 0xffffffff >>> (31 - ((end - 1) & 31));
  const apply = (w: number, mask: number): void => {
    words[w] = on ? words[w]! | mask : words[w]! & ~mask;
  };
  if (w0 === w1) return apply(w0, headMask & tailMask);
  apply(w0, firstMaskShort && start % 32 !== 0 ? (headMask << 1) >>> 0 : headMask);
  words.fill(on ? 0xffffffff : 0, w0 + 1, w1);
  apply(w1, tailMask);
}

export class Bitmap {
  readonly words: Uint32Array;
  /** Bit g: group g has a set bit. */
  private readonly any: Uint32Array;
  /** Bit g: every bit of group g's words is set. */
  private readonly full: Uint32Array;
  private readonly groups: number;
  /** Changes with every write (impl/util/versioned.ts). */
  version = nextVersion();

  constructor(
    readonly bits: number,
    /** A seeded slip (impl/bugs.ts): the first word's mask of a write spanning words starts one bit late. */
    private readonly firstMaskShort = false,
    /** log2 of the words per group; tests shrink it so that a few hundred bits span many summary words. */
    private readonly groupShift = 3,
  ) {
    this.words = new Uint32Array(Math.ceil(bits / 32));
    this.groups = Math.ceil(this.words.length / 2 ** groupShift);
    this.any = new Uint32Array(Math.ceil(this.groups / 32));
    this.full = new Uint32Array(Math.ceil(this.groups / 32));
  }

  /** The word holding bit i (what one __get_user returns). */
  word(i: number): number {
    return this.words[i >>> 5]!;
  }

  test(i: number): boolean {
    return ((this.words[Math.floor(i / 32)]! >>> i % 32) & 1) === 1;
  }

  /** Sets or clears [start, end), then the summary: groups inside the range whole, the one or two at its ends by reading them. */
  assign(start: number, end: number, on: boolean): void {
    if (start >= end) return;
    this.version = nextVersion();
    assignBits(this.words, start, end, on, this.firstMaskShort);
    const shift = this.groupShift + 5;
    const g0 = start >>> shift;
    const g1 = (end - 1) >>> shift;
    // Groups wholly inside [start, end): every bit now equals on.
    const inner0 = start === g0 << shift ? g0 : g0 + 1;
    const inner1 = end === (g1 + 1) << shift ? g1 + 1 : g1;
    assignBits(this.any, inner0, inner1, on);
    assignBits(this.full, inner0, inner1, on);
    this.summarise(g0);
    if (g1 !== g0) this.summarise(g1);
  }

  /** Recomputes group g's two summary bits from its words. */
  private summarise(g: number): void {
    const w0 = g << this.groupShift;
    const w1 = Math.min(this.words.length, w0 + 2 ** this.groupShift);
    let or = 0;
    let and = -1;
    for (let w = w0; w < w1; w++) {
      or |= this.words[w]!;
      and &= this.words[w]!;
    }
    assignBits(this.any, g, g + 1, or !== 0);
    assignBits(this.full, g, g + 1, and === -1);
  }

  /** The first group at or after g that has a set bit (inRun false) or a clear bit (inRun true); groups if none. */
  private nextGroup(g: number, inRun: boolean): number {
    const summary = inRun ? this.full : this.any;
    const flip = inRun ? -1 : 0;
    let s = g >>> 5;
    let m = ((summary[s]! ^ flip) & (0xffffffff << (g & 31))) >>> 0;
    while (m === 0) {
      if (++s >= summary.length) return this.groups;
      m = (summary[s]! ^ flip) >>> 0;
    }
    return Math.min(this.groups, s * 32 + lowestSet(m));
  }

  /**
   * Maximal runs of set bits: groups with nothing to find (empty outside a run, full inside one) skipped through the
   * summary; in the others, empty and full words skipped whole and the rest walked transition by transition.
   */
  runs(): { start: number; end: number }[] {
    const out: { start: number; end: number }[] = [];
    const words = this.words;
    const n = words.length;
    const per = 2 ** this.groupShift;
    let start = -1;
    for (let g = this.nextGroup(0, false); g < this.groups; g = this.nextGroup(g + 1, start >= 0)) {
      const end = Math.min(n, (g + 1) * per);
      for (let w = g * per; w < end; w++) {
        const v = words[w]!;
        // Stryker disable next-line ConditionalExpression: skipping an empty or full word only saves a walk that stops at once
        if (start < 0 ? v === 0 : v === 0xffffffff) continue;
        // Stryker disable next-line EqualityOperator: every step stays below 32 or breaks
        for (let pos = 0; pos < 32; ) {
          const rest = v >>> pos;
          if (start < 0) {
            if (rest === 0) break;
            const b = lowestSet(rest);
            start = w * 32 + pos + b;
            pos += b;
          } else {
            const zeros = ~rest >>> 0;
            if (zeros === 0) break;
            const b = lowestSet(zeros);
            if (pos + b >= 32) break;
            out.push({ start, end: w * 32 + pos + b });
            start = -1;
            pos += b;
          }
        }
      }
    }
    if (start >= 0) out.push({ start, end: this.bits });
    return out;
  }
}
