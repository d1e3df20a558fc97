// Page contents in the impl: a page written back to all zeros reads as a never-written page, through the
// abstraction the refinement checks compare (impl/util/pagedata.ts toRuns).
import { describe, expect, it } from "vitest";
import { fillPage, newPage, readPage, toRuns } from "../impl/util/pagedata.js";
import { Checker } from "../props/checker.js";
import { PRESETS } from "../schema/config.js";

describe("page data", () => {
  it("zero-filling a fresh page stores nothing; a written page keeps its runs; zeroing it again reads as never written", () => {
    const p = newPage();
    fillPage(p, 0, 4096, 0);
    expect(p.data).toBeNull();
    fillPage(p, 10, 12, 7);
    expect(toRuns(p)).toEqual([{ from: 10, to: 12, byte: 7 }]);
    expect(readPage(p, 11)).toBe(7);
    fillPage(p, 0, 4096, 0);
    expect(toRuns(p)).toBeUndefined();
  });

  it("a byte written and then cleared through a mapping refines the model", async () => {
    const checker = new Checker(PRESETS.default);
    await checker.applyAll([
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4096 },
      { op: "access", map: "m0", offset: 5, kind: "write", byte: 7 },
      { op: "access", map: "m0", offset: 5, kind: "write", byte: 0 },
      { op: "access", map: "m0", offset: 5, kind: "read" },
    ]);
    expect(checker.trace.at(-1)!.model).toEqual({ result: "ok", value: 0 });
  });
});
