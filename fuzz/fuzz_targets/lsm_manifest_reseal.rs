#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::lsm_manifest_reseal(data));
