// The rule index the CLI cites from must hold every rule of the model, or traces would print bare ids.
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RULE_GROUPS, RULES } from "../model/rules-index.js";
import { SUITES } from "../props/registry.js";

const MODEL = fileURLToPath(new URL("../model/", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

describe("model/rules-index.ts", () => {
  it("collects every exported *_RULES group of model/", async () => {
    for (const file of sources(MODEL)) {
      for (const [, name] of readFileSync(file, "utf8").matchAll(/export const (\w+_RULES)\b/g)) {
        const mod = (await import(file)) as Record<string, object>;
        expect(RULE_GROUPS[name!], `${name} of model/${relative(MODEL, file)} is not in model/rules-index.ts`).toBe(mod[name!]);
      }
    }
  });

  // One case per suite: all of them together take minutes on a busy machine, past one case's timeout.
  for (const suite of SUITES) {
    it(`resolves every rule ${suite.name} fires`, async () => {
      const r = await suite.run({ seed: 3, runs: 10 });
      for (const id of r.stats.rules.keys()) expect(RULES.has(id), `${suite.name} fired ${id}, which is not in the index`).toBe(true);
    });
  }
});
