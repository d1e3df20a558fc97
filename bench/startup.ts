// Start-up, item 6: the wall time of `node -e 0`, of `faultline --help`, and of a one-suite check up to its first
// line (the header naming the suites and the seed), interleaved; each target is a ratio to node -e 0 within one
// repetition.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { interleaved, ratios, show, spread, type Spread } from "./ratio.js";
import type { Row } from "./scale.js";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "cli", "main.js");

/** ms from spawning node with args until its first complete line on stdout or stderr (or its exit), then killed. */
function firstLineMs(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve(performance.now() - t0);
      p.kill();
    };
    const onData = (d: Buffer): void => {
      if (d.includes(10)) finish();
    };
    p.stdout.on("data", onData);
    p.stderr.on("data", onData);
    p.on("exit", finish);
    p.on("error", reject);
  });
}

export async function startupBench(reps: number): Promise<{ rows: Row[]; help: Spread; checkHeader: Spread }> {
  const cases = {
    node: () => firstLineMs(["-e", "console.log(0)"]),
    help: () => firstLineMs([CLI, "--help"]),
    check: () => firstLineMs([CLI, "check", "--suite", "kvm-anon-x86", "--seed", "1", "--workers", "1"]),
  };
  await interleaved(1, cases);
  const m = await interleaved(reps, cases);
  const help = ratios(m.help, m.node);
  const checkHeader = ratios(m.check, m.node);
  return {
    help,
    checkHeader,
    rows: [
      { bench: "start-up", size: "node -e 'console.log(0)'", ms: show(spread(m.node), 0) },
      { bench: "start-up", size: "faultline --help", ms: show(spread(m.help), 0), overNode: show(help) },
      { bench: "start-up", size: "faultline check --suite kvm-anon-x86: header line", ms: show(spread(m.check), 0), overNode: show(checkHeader) },
    ],
  };
}
