// faultline conform from the command line: --probe (text and JSON), the override's usage errors, and a run that
// prints what it ran and skipped with the capability named.
import { describe, expect, it } from "vitest";
import { CAPABILITIES } from "../schema/capabilities.js";
import { expectOneLineError, faultline, lines, scratch } from "./cli-child.js";

describe("faultline conform --probe", () => {
  it("prints the kernel line, the configuration and every capability, present or absent with its reason", () => {
    const r = faultline(["conform", "--probe"], scratch());
    expect(r.status, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toMatch(/^kernel: /);
    expect(out[1]).toMatch(/^model configuration: /);
    const present = out[2]!.replace(/^capabilities \(\d+\): /, "").split(" ").filter((c) => c !== "");
    const absent = out.slice(3).map((l) => /^ {2}without (\S+): ./.exec(l)?.[1]);
    expect([...present, ...absent].sort()).toEqual([...CAPABILITIES].sort());
  });

  it("--json is one document naming every capability, and --caps narrows it", () => {
    const r = faultline(["conform", "--probe", "--json", "--caps", "-USERFAULTFD"], scratch());
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { capabilities: Record<string, { present: boolean; why: string }>; excluded: string[]; config: unknown };
    expect(Object.keys(doc.capabilities).sort()).toEqual([...CAPABILITIES].sort());
    expect(doc.capabilities.USERFAULTFD).toEqual({ present: false, why: 'taken out by the override "-USERFAULTFD"' });
    expect(doc.excluded).toEqual(["USERFAULTFD"]);
  });
});

describe("faultline conform usage errors", () => {
  it("an unknown capability in --caps or FAULTLINE_CAPS", () => {
    expectOneLineError(faultline(["conform", "--probe", "--caps", "-GMEM"], scratch()), /^faultline conform: --caps: capability override "-GMEM": expected -NAME or \+NAME/);
  });

  it("--probe takes no files, --json needs --probe", () => {
    expectOneLineError(faultline(["conform", "--probe", "x.json"], scratch()), /^faultline conform: --probe takes only --caps and --json/);
    expectOneLineError(faultline(["conform", "--json"], scratch()), /^faultline conform: --json goes with --probe/);
  });
});

describe("faultline conform with the capabilities taken out", () => {
  it("without /dev/kvm (the override), it runs the host-memory and userfaultfd scenarios and names what it skipped", () => {
    const r = faultline(["conform", "--runs", "0", "--caps", "-KVM"], scratch());
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^skip \S*memslots\/create-read-write\.json: skipped: needs KVM \(taken out by the override\)$/m);
    expect(r.stdout).toMatch(/^ok {3}\S*host_memory\/memfd-basics\.json: /m);
    expect(r.stdout).toMatch(/^ {2}memslots +0 ran \(0 steps\), +\d+ skipped, 0 failed$/m);
    expect(r.stdout).toMatch(/^ {2}skipped \d+: needs KVM \(taken out by the override\)/m);
  });
});
