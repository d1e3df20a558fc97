// docs/SOURCES.md, generated from the ledger of patch series (model/sources.ts): `npm run docs:sources` rewrites it,
// and test/sources.test.ts fails when the file and the ledger disagree.
import { pathToFileURL } from "node:url";
import { replaceAtomically } from "../cli/files.js";
import { SERIES, modelled, type Use } from "../model/sources.js";

export const DOC = "docs/SOURCES.md";

const USE: Readonly<Record<Use, string>> = {
  default: "**modelled: default**",
  variant: "**modelled: variant**",
  modelled: "**modelled**",
  merged: "**modelled as merged**",
  "not modelled": "not modelled",
};

const cell = (s: string): string => s.replaceAll("|", "\\|");

export function sourcesMarkdown(): string {
  const sections = SERIES.flatMap((s) => [
    `## ${s.title}`,
    "",
    `Newest known: **${s.newest.version}** (${s.newest.posted}, \`${s.newest.cover}\`), from ${s.newest.where}. Checked ${s.checked}.`,
    "",
    "| version | posted | cover letter (Message-ID) | use | what it is in faultline |",
    "|---|---|---|---|---|",
    ...s.versions.map((v) => `| ${v.version} | ${v.posted} | \`${v.cover}\` | ${USE[v.use]} | ${cell(v.note ?? "")} |`),
    "",
    "Searches (the search tool's `find_string`, in the stored mailing-list archives):",
    "",
    ...s.searches.map((q) => `- ${q}`),
    "",
  ]);
  const count = SERIES.reduce((n, s) => n + s.versions.filter(modelled).length, 0);
  return [
    "# Sources: the patch series faultline models",
    "",
    "<!-- Generated from model/sources.ts by `npm run docs:sources`; test/sources.test.ts keeps it in step. -->",
    "",
    "Merged behaviour follows the kernel tree (Linux 6.18 is the judge, with the conformance corpus on the running",
    "kernel); proposals follow the posted patches. This ledger lists every posted version found of each proposal,",
    "which one the model follows (the default design, or a variant kept as configuration), the newest version known",
    "and the date the archives were last searched. A rule may cite a Message-ID or a patch tag (`[PATCH v8 13/46]`)",
    "only of a version listed here as modelled: test/sources.test.ts fails otherwise, so citing a new version means",
    "adding it here first. Every rule's citation is checked against its source in docs/AUDIT.md.",
    "",
    `${SERIES.length} series, ${count} versions modelled.`,
    "",
    ...sections,
  ].join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  replaceAtomically(DOC, sourcesMarkdown());
  console.log(`wrote ${DOC}`);
}
