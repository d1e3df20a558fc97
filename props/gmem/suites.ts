// The guest_memfd suites: each design (v8, its v7 variant, the 2024 RFC, the running kernel) through model and impl
// side by side.
import { PRESETS, type Config } from "../../schema/config.js";
import { setupOf } from "../layouts.js";
import { runSequentialSuite } from "../run.js";
import type { SequentialSuite } from "../suites.js";
import { gmemOpArbitrary } from "./generators.js";
import { GMEM_CURRENT, GMEM_RFC, GMEM_V7, type GmemLayout } from "./layouts.js";

function suite(name: string, description: string, config: Config, layout: GmemLayout, runs: number): SequentialSuite {
  const s: SequentialSuite = {
    name,
    description,
    kind: "sequential",
    area: "gmem",
    config,
    layout,
    setup: setupOf(layout, layout.vmType),
    runs,
    maxCommands: 50,
    arbitrary: (_l, c) => gmemOpArbitrary(layout, c),
    run: (opts) => runSequentialSuite(s, opts),
  };
  return s;
}

const V8 = PRESETS["gmem-v8"];

export const GMEM_SEQUENTIAL_SUITES: readonly SequentialSuite[] = [
  suite("gmem-v8", "in-place conversion v8 on 4 KiB folios: conversions, pins, punch-holes, host and guest accesses", V8, GMEM_V7, 250),
  suite("gmem-v8-2m", "v8 over 2 MiB folios: split before sharing, merge once private, huge stage-2 mappings", { ...V8, gmemFolio: "2M" }, GMEM_V7, 200),
  suite(
    "gmem-v8-vm-attrs",
    "v8 with per-VM attributes built in and gmem_in_place_conversion=1: KVM_SET_MEMORY_ATTRIBUTES beside the guest_memfd ioctl",
    PRESETS["gmem-v8-vm-attrs"],
    GMEM_V7,
    80,
  ),
  suite("gmem-v7", "the v7 variant on 4 KiB folios: vm_memory_attributes=0, conversions, pins, punch-holes, accesses", PRESETS["gmem-v7"], GMEM_V7, 120),
  suite(
    "gmem-rfc-2024",
    "the 2024 RFC: conversion inside KVM_SET_MEMORY_ATTRIBUTES with faultability and rollback, 2 MiB folios, fault path locked",
    { ...PRESETS.default, gmemDesign: "rfc-2024", gmemFaultLock: true, gmemFolio: "2M" },
    GMEM_RFC,
    200,
  ),
  suite("gmem-kernel-6.18", "the running kernel's guest_memfd: host faults, punch-holes, pins, no conversion", PRESETS["kernel-6.18"], GMEM_CURRENT, 100),
];
