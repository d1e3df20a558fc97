// The progress display: a bar redrawn in place on a terminal, only finished-suite lines otherwise.
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { bar, createProgress, progressLine } from "../cli/progress.js";

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

describe("progress", () => {
  it("the bar fills with the runs done", () => {
    expect(bar(0, 10, 10)).toBe("[----------]");
    expect(bar(5, 10, 10)).toBe("[#####-----]");
    expect(bar(10, 10, 10)).toBe("[##########]");
    expect(bar(0, 0, 4)).toBe("[####]");
    expect(progressLine("kvm-anon-x86", 3, 12, 1500)).toMatch(/^kvm-anon-x86 \[#+-+\] 3\/12 runs 1\.5s$/);
  });

  it("on a terminal: redrawn in place, then replaced by the suite's line", () => {
    const out = sink();
    const p = createProgress(out.stream, true);
    p.update("s", 1, 2, 10);
    p.update("s", 2, 2, 20);
    p.finish("s: done");
    expect(out.text()).toBe(`\r\x1b[K${progressLine("s", 1, 2, 10)}\r\x1b[K${progressLine("s", 2, 2, 20)}\r\x1b[Ks: done\n`);
  });

  it("elsewhere: plain lines only, no control characters", () => {
    const out = sink();
    const p = createProgress(out.stream, false);
    p.update("s", 1, 2, 10);
    p.finish("s: done");
    p.finish("t: done");
    expect(out.text()).toBe("s: done\nt: done\n");
  });
});
