// The mutation score tool: per-folder tallies, what the score sets aside, and a one-line error for a bad report.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeReport, folderOf, score, scoreOf } from "../tools/mutation-score.js";

const dir = mkdtempSync(join(tmpdir(), "faultline-mutation-score-"));
const at = { start: { line: 3, column: 5 } };
const mutant = (status: string, extra: object = {}): object => ({ mutatorName: "EqualityOperator", replacement: "a <= b", status, location: at, ...extra });

function report(name: string, files: object): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ schemaVersion: "2", files }));
  return path;
}

describe("mutation score", () => {
  it("folders: an area folder, or model/ and impl/ for their top-level files", () => {
    expect(folderOf("model/kvm/fault.ts")).toBe("model/kvm");
    expect(folderOf("impl/system.ts")).toBe("impl");
  });

  it("counts killed and timed-out over those plus survived and uncovered; sets aside compile errors, static and ignored", () => {
    const file = report("a.json", {
      "model/kvm/fault.ts": { mutants: [mutant("Killed"), mutant("Timeout"), mutant("Survived"), mutant("NoCoverage"), mutant("CompileError"), mutant("Survived", { static: true }), mutant("Ignored")] },
      "impl/kvm/fault.ts": { mutants: [mutant("Killed")] },
    });
    const { folders, totals, survivors } = score([file]);
    const kvm = folders.find((f) => f.folder === "model/kvm")!;
    expect(kvm).toMatchObject({ mutants: 7, killed: 1, timeout: 1, survived: 1, noCoverage: 1, compileError: 1, static: 1, ignored: 1 });
    expect(scoreOf(kvm)).toBe(50);
    expect(totals.map((t) => [t.folder, scoreOf(t)])).toEqual([["impl/ (all)", 100], ["model/ (all)", 50]]);
    expect(survivors.map((s) => `${s.file}:${s.line}:${s.column} ${s.status}`)).toEqual(["model/kvm/fault.ts:3:5 Survived", "model/kvm/fault.ts:3:5 NoCoverage"]);
  });

  it("a report with an unknown status names the file, the field and what was expected", () => {
    const file = report("bad.json", { "model/x.ts": { mutants: [mutant("Weird")] } });
    expect(() => decodeReport(file)).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: files\\["model/x.ts"\\]\\.mutants\\[0\\]\\.status: expected "Killed"`));
  });

  it("a file that is not JSON says so", () => {
    const path = join(dir, "not.json");
    writeFileSync(path, "{");
    expect(() => decodeReport(path)).toThrow(`${path}: not a JSON mutation report`);
  });
});
