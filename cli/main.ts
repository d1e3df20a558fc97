#!/usr/bin/env node
// faultline: run the property suites, replay counterexamples, run scenario files. docs/CLI.md describes it all.
import { runCli } from "./dispatch.js";

process.exitCode = await runCli(process.argv.slice(2));
