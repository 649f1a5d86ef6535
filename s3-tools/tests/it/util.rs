//! The s3-* binaries, pointed at an endpoint; the rest of what these tests
//! use (running binaries, generated data, the S3 server and direct store
//! access) is the shared test harness's.

use std::process::Command;

pub use test_harness::process::*;
pub use test_harness::{s3_endpoint, s3_exists, s3_fetch, s3_plant, s3_prefix};

/// A command for one of our binaries, pointed at `endpoint`.
pub fn tool(name: &str, endpoint: &str) -> Command {
    let exe = match name {
        "s3-put" => env!("CARGO_BIN_EXE_s3-put"),
        "s3-get" => env!("CARGO_BIN_EXE_s3-get"),
        "s3-ls" => env!("CARGO_BIN_EXE_s3-ls"),
        "s3-rm" => env!("CARGO_BIN_EXE_s3-rm"),
        other => panic!("unknown tool {other}"),
    };
    let mut c = Command::new(exe);
    c.env("AWS_ENDPOINT_URL", endpoint)
        .env_remove("AWS_PROFILE")
        .env_remove("S3_PIPES_PART_SIZE")
        .env_remove("S3_PIPES_CONCURRENCY");
    c
}
