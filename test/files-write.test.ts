// Files faultline writes: atomic, never over a different file, one file per failure.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { failureIdentity, writeCounterexample } from "../cli/counterexample.js";
import { writeNew } from "../cli/files.js";
import { FileError } from "../schema/report.js";
import type { Scenario } from "../schema/scenario.js";

const scratch = (): string => mkdtempSync(join(tmpdir(), "faultline-write-"));

const found = (gpa: number): Scenario => ({
  version: 1,
  name: "kvm-anon-x86: writes-stick",
  config: { arch: "x86", vcpus: 2, bugs: [] },
  steps: [
    { op: "create_vm", vm: "v0" },
    { op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "read" },
  ],
  failure: { property: "writes-stick", step: 1, expected: "holds", actual: "violated", detail: "lost" },
  provenance: { suite: "kvm-anon-x86", seed: 42, checkSeed: 1, run: 3 },
});

describe("writeNew", () => {
  it("writes a new file, leaves an identical one alone and refuses to replace a different one", () => {
    const dir = scratch();
    const path = join(dir, "sub", "out.svg");
    expect(writeNew(path, "one")).toBe("written");
    expect(writeNew(path, "one")).toBe("unchanged");
    expect(() => writeNew(path, "two")).toThrow(FileError);
    expect(() => writeNew(path, "two")).toThrow(`${path}: exists with different contents; not overwritten`);
    expect(readFileSync(path, "utf8")).toBe("one");
    expect(readdirSync(join(dir, "sub"))).toEqual(["out.svg"]);
  });
});

describe("writeCounterexample", () => {
  it("names the file by suite, property and the failure's hash", () => {
    const dir = scratch();
    const w = writeCounterexample("kvm-anon-x86", found(0), dir);
    expect(w).toEqual({ path: join(dir, `kvm-anon-x86--writes-stick--${failureIdentity(found(0))}.json`), isNew: true });
    expect(JSON.parse(readFileSync(w.path, "utf8"))).toEqual(found(0));
  });

  it("the same failure found again, with other provenance, is the same file, untouched", () => {
    const dir = scratch();
    const first = writeCounterexample("kvm-anon-x86", found(0), dir);
    const again = writeCounterexample("kvm-anon-x86", { ...found(0), provenance: { suite: "kvm-anon-x86", seed: 7, checkSeed: 9, run: 0 } }, dir);
    expect(again).toEqual({ path: first.path, isNew: false });
    expect(JSON.parse(readFileSync(first.path, "utf8"))).toEqual(found(0));
  });

  it("a stored file a user annotated still counts as the same failure", () => {
    const dir = scratch();
    const first = writeCounterexample("kvm-anon-x86", found(0), dir);
    const annotated = { ...found(0), name: "renamed", description: "why", expectedToFail: "a flaw of the proposal" };
    writeFileSync(first.path, JSON.stringify(annotated));
    expect(writeCounterexample("kvm-anon-x86", found(0), dir)).toEqual({ path: first.path, isNew: false });
    expect(JSON.parse(readFileSync(first.path, "utf8"))).toEqual(annotated);
  });

  it("another failure is another file; a foreign file under the name is kept and the new one gets a suffix", () => {
    const dir = scratch();
    const a = writeCounterexample("kvm-anon-x86", found(0), dir);
    const b = writeCounterexample("kvm-anon-x86", found(4096), dir);
    expect(b.path).not.toBe(a.path);
    const name = join(dir, `kvm-anon-x86--writes-stick--${failureIdentity(found(8192))}.json`);
    writeFileSync(name, "not a counterexample");
    const c = writeCounterexample("kvm-anon-x86", found(8192), dir);
    expect(c).toEqual({ path: name.replace(/\.json$/, "-2.json"), isNew: true });
    expect(readFileSync(name, "utf8")).toBe("not a counterexample");
    expect(readdirSync(dir)).toHaveLength(4);
  });

  it("never stores a file this build could not read back", () => {
    const dir = scratch();
    const bad = { ...found(0), config: { bugs: ["no-such-bug"] } };
    expect(() => writeCounterexample("kvm-anon-x86", bad, dir)).toThrow(/config\.bugs\[0\]: unknown seeded bug "no-such-bug"/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
