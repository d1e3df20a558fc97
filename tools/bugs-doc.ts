// docs/BUGS.md, generated from the seeded-bug catalog (impl/bugs.ts): `npm run docs:bugs` rewrites it, and
// test/strength-catalog.test.ts fails when the file and the catalog disagree.
import { pathToFileURL } from "node:url";
import { BUGS, BUG_IDS, type BugArea } from "../impl/bugs.js";
import { replaceAtomically } from "../cli/files.js";

export const DOC = "docs/BUGS.md";

const AREAS: Readonly<Record<BugArea, string>> = {
  memslots: "Memslots (KVM_SET_USER_MEMORY_REGION2, SRCU publication)",
  "userfault-bitmap": "KVM Userfault: the memslot flag and the bitmap",
  exits: "KVM_RUN exits",
  "attributes-mmu": "Memory attributes and the KVM MMU (mmu_invalidate, zaps)",
  "host-mm": "Host memory (mmu notifiers, COW, alias writes)",
  "gmem-conversion": "guest_memfd conversion and punch-hole",
  "gmem-locks": "guest_memfd locking",
  "gmem-file": "guest_memfd files: creation, binding, fallocate",
  "huge-folios": "Huge folios and huge mappings",
  uffd: "userfaultfd",
  postcopy: "The post-copy flow (the reference VMM's mistakes)",
  "dirty-log": "Dirty logging (KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG) and where it meets KVM Userfault",
};

const cell = (s: string): string => s.replaceAll("|", "\\|");

export function bugsMarkdown(): string {
  const all = BUG_IDS.map((id) => ({ id, ...BUGS[id] }));
  const races = all.filter((b) => b.kind === "race").length;
  const counts = (Object.keys(AREAS) as BugArea[]).map((a) => {
    const inArea = all.filter((b) => b.area === a);
    return `| ${a} | ${inArea.length} | ${inArea.filter((b) => b.kind === "race").length} |`;
  });
  const sections = (Object.keys(AREAS) as BugArea[]).flatMap((a) => {
    const inArea = all.filter((b) => b.area === a);
    return [
      `## ${AREAS[a]}`,
      "",
      "| bug | kind | the mistake | switch | found by suite | source |",
      "|---|---|---|---|---|---|",
      ...inArea.map((b) => `| \`${b.id}\` | ${b.kind} | ${cell(b.description)} | \`${b.file}\` | \`${b.suite}\` | ${cell(b.source)} |`),
      "",
    ];
  });
  return [
    "# Seeded bugs",
    "",
    "<!-- Generated from impl/bugs.ts by `npm run docs:bugs`; test/strength-catalog.test.ts keeps it in step. -->",
    "",
    "Deliberate mistakes in the implementation (and in the post-copy reference VMM), each switched on by",
    "configuration (`config.bugs`, `faultline check --bugs ID`), never by editing code: the code tests",
    "`bugs.has(id)` at the mistake's place. A passing suite is worth something only if it fails on a wrong",
    "implementation; `faultline mutants` switches on each bug in turn and runs the suite named here until the",
    "first failure (docs/MUTATION.md has the figures). A *race* is found only by an interleaving of two threads:",
    "at the kernel's yield points (the race harness) or, in the post-copy flow, of the VMM's actors and the guest.",
    "",
    "```sh",
    "npx faultline mutants                      # every bug: found or missed, runs and seconds to the first failure",
    "npx faultline mutants --bug gmem-merge-mapped --seed 1",
    "npx faultline check --suite gmem-v8-2m --bugs gmem-merge-mapped --seed 1   # the same failure, stored and replayable",
    "```",
    "",
    `${all.length} bugs, ${races} of them races.`,
    "",
    "| area | bugs | races |",
    "|---|---:|---:|",
    ...counts,
    "",
    ...sections,
  ].join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  replaceAtomically(DOC, bugsMarkdown());
  console.log(`wrote ${DOC}`);
}
