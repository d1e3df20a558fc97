// The sequential userfaultfd suites: one per memory type, model against implementation step by step.
import type { Suite } from "../suite.js";
import { ANON, GMEM, HUGETLB, PRIVATE_FILE, SHMEM, type UffdLayout } from "./layouts.js";
import { uffdOps } from "./generators.js";
import { opSuite, type OpSuite } from "./run.js";

const suite = (l: UffdLayout, runs: number): OpSuite => opSuite(`uffd-${l.name}`, l.description, "uffd", l.config, l.setup, uffdOps(l), runs);

export const UFFD_SUITES: readonly OpSuite[] = [suite(ANON, 600), suite(SHMEM, 600), suite(PRIVATE_FILE, 400), suite(HUGETLB, 160), suite(GMEM, 500)];

export const uffdSuite = (name: string): Suite | undefined => UFFD_SUITES.find((s) => s.name === name);
