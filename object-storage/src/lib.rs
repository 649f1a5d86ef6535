//! Stream data between Unix pipes and object storage.
//!
//! The library behind `s3-put`, `s3-get`, `s3-ls` and `s3-rm`, and behind
//! every tool's object-storage locations: one URL syntax
//! (`s3://`, `gs://`, `az://`, `file://`, or a plain local path) resolved to an
//! [`object_store`] backend, a bounded-memory multipart [`upload`] that hashes
//! while it streams, a ranged parallel [`download`] that reassembles in order
//! and verifies, and the [`listing`] / [`remove`] helpers retention scripts need.
//!
//! Nothing here parses command lines: the flags live in `pipes-cli`.

// Unit tests may unwrap: a panic there is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod checksum;
pub mod conditional;
pub mod download;
pub mod error;
pub mod listing;
pub mod local;
pub mod location;
pub mod profile;
pub mod progress;
pub mod remove;
pub mod signals;
pub mod size;
pub mod store;
pub mod upload;

pub use error::{Error, Result};
pub use location::Location;
pub use store::{Store, StoreConfig};
