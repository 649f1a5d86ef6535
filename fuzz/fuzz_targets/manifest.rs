//! A set's manifest.json, as every tool opens a set.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| milvus_pipes_fuzz::read_manifest(data));
