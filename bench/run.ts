// npm run bench: every benchmark, one table, bench/results.json.
import { writeFileSync, renameSync } from "node:fs";
import { cpus } from "node:os";
import { harnessBench } from "./harness.js";
import { bitmapBench, memslotLookupBench, userfaultEnableBench, type Row } from "./scale.js";

function print(rows: readonly Row[]): void {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const width = (k: string): number => Math.max(k.length, ...rows.map((r) => String(r[k] ?? "").length));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(width(keys[i]!))).join("  ");
  console.log(line(keys));
  for (const r of rows) console.log(line(keys.map((k) => String(r[k] ?? ""))));
  console.log();
}

async function main(): Promise<void> {
  const sections: [string, () => Promise<Row[]> | Row[]][] = [
    ["harness", harnessBench],
    ["bitmap", bitmapBench],
    ["userfault-enable", userfaultEnableBench],
    ["memslot-lookup", memslotLookupBench],
  ];
  const results: Record<string, Row[]> = {};
  for (const [name, f] of sections) {
    results[name] = await f();
    print(results[name]);
  }
  const doc = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, results };
  writeFileSync("bench/results.json.tmp", `${JSON.stringify(doc, null, 2)}\n`);
  renameSync("bench/results.json.tmp", "bench/results.json");
  console.log("wrote bench/results.json");
}

await main();
