//! A header (`milvus-load --schema FILE`, a stream's first line).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| milvus_pipes_fuzz::read_header(data));
