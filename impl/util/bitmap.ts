// A bitmap in 32-bit words, read word by word as KVM reads the userfault bitmap with __get_user.

export class Bitmap {
  readonly words: Uint32Array;

  constructor(readonly bits: number) {
    this.words = new Uint32Array(Math.ceil(bits / 32));
  }

  /** The word holding bit i (what one __get_user returns). */
  word(i: number): number {
    return this.words[i >>> 5]!;
  }

  test(i: number): boolean {
    return ((this.words[Math.floor(i / 32)]! >>> i % 32) & 1) === 1;
  }

  /** Sets or clears [start, end), whole words at a time in the middle. */
  assign(start: number, end: number, on: boolean): void {
    let i = start;
    while (i < end) {
      const w = Math.floor(i / 32);
      const lo = i % 32;
      const hi = Math.min(32, lo + (end - i));
      const mask = hi - lo === 32 ? 0xffffffff : ((1 << (hi - lo)) - 1) << lo;
      this.words[w] = on ? this.words[w]! | mask : this.words[w]! & ~mask;
      i += hi - lo;
    }
  }

  /** Maximal runs of set bits, scanning word by word and skipping empty words. */
  *runs(): Generator<{ start: number; end: number }> {
    let start = -1;
    for (let w = 0; w < this.words.length; w++) {
      const word = this.words[w]!;
      if (word === 0 && start < 0) continue;
      if (word === 0xffffffff && start >= 0) continue;
      for (let b = 0; b < 32; b++) {
        const i = w * 32 + b;
        if (i >= this.bits) break;
        const on = ((word >>> b) & 1) === 1;
        if (on && start < 0) start = i;
        else if (!on && start >= 0) {
          yield { start, end: i };
          start = -1;
        }
      }
    }
    if (start >= 0) yield { start, end: this.bits };
  }
}
