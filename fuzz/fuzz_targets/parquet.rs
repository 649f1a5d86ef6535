//! The parquet reader (see src/lib.rs: every input read as the tools read it).
#![no_main]
libfuzzer_sys::fuzz_target!(
    init: milvus_pipes_fuzz::tolerate_caught_panics(),
    |data: &[u8]| milvus_pipes_fuzz::read_input(data)
);
