//! Integration tests for s3-put, s3-get, s3-ls and s3-rm: the built binaries
//! against a real S3 server (SeaweedFS, started by scripts/test.sh), the
//! local file system, and a fault-injecting loopback proxy.

// A panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

mod creds;
mod faults;
mod local;
mod ls_rm;
mod proxy;
mod put_get;
mod readme;
mod util;
