// userfaultfd on a private guest_memfd page: the two series as posted let CONTINUE map a private page into the host
// (a stored, documented flaw); under faultline's assumption (uffdGmemPrivate "absent", the default) CONTINUE stops there.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BUG_IDS } from "../impl/bugs.js";
import { replay } from "../props/replay.js";
import { UFFD_GMEM_AS_POSTED } from "../props/uffd/suites.js";
import { decodeScenario, type Scenario } from "../schema/scenario.js";

const DIR = "counterexamples";
function stored(): Scenario {
  const file = readdirSync(DIR).find((f) => f.startsWith(`${UFFD_GMEM_AS_POSTED.name}--`));
  expect(file, "counterexamples/ keeps the as-posted CONTINUE onto a private page").toBeDefined();
  return decodeScenario(`${DIR}/${file}`, readFileSync(`${DIR}/${file}`, "utf8"), { bugs: BUG_IDS });
}

describe("userfaultfd on guest_memfd as posted, with in-place conversion", () => {
  it("is found by uffd-gmem-as-posted: the host maps a private page", async () => {
    const r = await UFFD_GMEM_AS_POSTED.run({ seed: 1, runs: UFFD_GMEM_AS_POSTED.runs });
    expect(r.failure?.property).toBe("gmem-private-not-host-mapped");
    expect(r.shrunkLength).toBeLessThanOrEqual(4);
  });

  it("keeps its counterexample: a CONTINUE over a page converted to private replays as a documented flaw", async () => {
    const s = stored();
    expect(s.config.uffdGmemPrivate).toBe("as-posted");
    expect(s.expectedToFail).toMatch(/PATCH v2 13\/15/);
    expect(s.steps?.at(-1)?.op).toBe("uffdio_continue");
    const r = await replay(s);
    expect(r.failure).toMatchObject({ property: s.failure!.property, step: s.failure!.step });
  });

  it("under faultline's assumption the same steps hold: CONTINUE stops at the private page (EAGAIN after one page)", async () => {
    const s = stored();
    const r = await replay({ ...s, config: { ...s.config, uffdGmemPrivate: "absent" }, expectedToFail: undefined, failure: undefined });
    expect(r.failure).toBeUndefined();
    const last = r.trace.at(-1)!;
    expect(last.model).toEqual({ errno: "EAGAIN", mapped: 4096 });
    expect(last.fired).toContain("faultline.uffd-gmem-private-continue");
  });
});
