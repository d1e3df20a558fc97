import fc from "fast-check";

// Every property in the tests draws from one seed, so a failure in CI replays on any machine (FAULTLINE_TEST_SEED
// explores another); a property with its own seed keeps it.
fc.configureGlobal({ seed: Number(process.env.FAULTLINE_TEST_SEED ?? 20261207) });
