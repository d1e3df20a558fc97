// The poison suites of the default check: generated scenarios (strategy, backing, which page, a live USERFAULT slot
// or not, accesses before and after) run by props/poison/vmm.ts, each strategy held to what it claims (CLAIMS); and
// the run of every strategy against every property that tools/poison-doc.ts makes into docs/POISON.md.
import fc from "fast-check";
import { PRESETS, configToInput, type Config } from "../../schema/config.js";
import { ALL_CHECKS } from "../checker.js";
import { checkSuite } from "../run.js";
import { Stats } from "../stats.js";
import { runConfig, type Suite, type SuiteResult, type SuiteRunOptions } from "../suite.js";
import { BACKINGS, HOT, POISONABLE, PoisonVmm, STRATEGIES, type PoisonAccess, type PoisonScenario, type Strategy } from "./vmm.js";

/** The rich x86 kernel with the proposed re-scan ioctl (the rescan strategy needs it; the others never call it). */
export const POISON_CONFIG: Config = { ...PRESETS.default, kernel: { ...PRESETS.default.kernel, userfaultRescan: true } };
export const POISON_CONFIG_ARM64: Config = { ...PRESETS.arm64, kernel: { ...PRESETS.arm64.kernel, userfaultRescan: true } };

/** An access; page -1 stands for the poisoned page, drawn often enough that most runs touch it before and after. */
const accessArb = (pages: number): fc.Arbitrary<PoisonAccess> =>
  fc.record({
    who: fc.constantFrom("guest" as const, "guest" as const, "kvm" as const),
    write: fc.boolean(),
    page: fc.oneof({ weight: 2, arbitrary: fc.constant(-1) }, { weight: 5, arbitrary: fc.nat({ max: pages - 1 }) }),
    byte: fc.integer({ min: 0x80, max: 0xff }),
  });

export function scenarioArbitrary(strategies: readonly Strategy[] = STRATEGIES): fc.Arbitrary<PoisonScenario> {
  const at = (poison: number) => (a: PoisonAccess): PoisonAccess => (a.page < 0 ? { ...a, page: poison } : a);
  return fc
    .record({
      strategy: fc.constantFrom(...strategies),
      backing: fc.constantFrom(...BACKINGS),
      poison: fc.constantFrom(...POISONABLE),
      live: fc.boolean(),
      before: fc.array(accessArb(HOT.length), { maxLength: 5 }),
      after: fc.array(accessArb(HOT.length), { minLength: 1, maxLength: 8 }),
    })
    .map((sc) => ({ ...sc, before: sc.before.map(at(sc.poison)), after: sc.after.map(at(sc.poison)) }));
}

export interface PoisonSuite extends Suite {
  readonly config: Config;
}

async function runPoisonSuite(suite: PoisonSuite, opts: SuiteRunOptions): Promise<SuiteResult> {
  const config = runConfig(suite.config, opts);
  const stats = new Stats();
  const checks = opts.checks ?? ALL_CHECKS;
  const { base, failed } = await checkSuite(suite.name, scenarioArbitrary(), opts, stats, async (sc) => {
    await new PoisonVmm(config, sc, undefined, checks, stats).run();
  });
  if (failed === undefined) return base;
  const { err, details } = failed;
  const f = err.failure;
  const sc = details.counterexample![0];
  return {
    ...base,
    failure: f,
    runsToFailure: failed.runsToFailure,
    shrunkLength: err.ops.length,
    counterexample: {
      version: 1,
      name: `${suite.name}: ${f.property}`,
      description: `${f.detail} (the steps are what the poison VMM did; replay runs it on the poison scenario and judges it again)`,
      config: configToInput(config),
      steps: [...err.ops],
      poison: { ...sc, before: [...sc.before], after: [...sc.after] },
      failure: { property: f.property, step: f.step, expected: f.expected, actual: f.actual, detail: f.detail },
      provenance: { suite: suite.name, seed: details.seed, bugs: [...config.bugs], ...(details.counterexamplePath === null ? {} : { path: details.counterexamplePath }), fastCheck: fc.__version },
    },
  };
}

function poisonSuite(name: string, description: string, config: Config, runs: number): PoisonSuite {
  const s: PoisonSuite = { name, description, kind: "sequential", area: "kvm", config, runs, run: (opts) => runPoisonSuite(s, opts) };
  return s;
}

export const POISON_SUITES: readonly PoisonSuite[] = [
  poisonSuite(
    "poison",
    "poison emulation after migration, every strategy (memslot hole, USERFAULT bit + toggle, the bit alone, UFFDIO_POISON, the proposed re-scan ioctl) on anonymous and 2 MiB hugetlbfs memory, each held to what it claims",
    POISON_CONFIG,
    150,
  ),
  poisonSuite("poison-arm64", "the poison strategies on arm64 (kvm_send_hwpoison_signal from user_mem_abort, no instruction emulator)", POISON_CONFIG_ARM64, 60),
];
