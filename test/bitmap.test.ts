import { expect, it } from "vitest";
import fc from "fast-check";
import { Bitmap } from "../impl/util/bitmap.js";
// Up to 600 bits: runs() skips eight words (256 bits) at a time, empty or full.
it("bitmap runs match a naive scan", () => {
  fc.assert(fc.property(fc.integer({min:1,max:600}), fc.array(fc.tuple(fc.nat(600), fc.nat(300), fc.boolean())), (bits, ops) => {
    const b = new Bitmap(bits); const naive = new Array(bits).fill(false);
    for (const [s, l, on] of ops) { const a = Math.min(s, bits), e = Math.min(bits, a + l); b.assign(a, e, on); for (let i=a;i<e;i++) naive[i]=on; }
    const runs: {start:number,end:number}[] = []; let st=-1;
    for (let i=0;i<bits;i++){ if(naive[i]&&st<0) st=i; if(!naive[i]&&st>=0){runs.push({start:st,end:i}); st=-1;} }
    if (st>=0) runs.push({start:st,end:bits});
    expect(b.runs()).toEqual(runs);
    for (let i=0;i<bits;i++) expect(b.test(i)).toBe(naive[i]);
  }), {numRuns: 2000});
});
