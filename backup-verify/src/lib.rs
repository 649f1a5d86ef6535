//! `backup-verify`: proves a milvus-dump backup is complete, intact and
//! restorable.
//!
//! - [`problem`]: what can be wrong, and the exit code each kind maps to.
//! - Where the backup is and how its files are read (a directory, a file,
//!   stdin, an object-store prefix or object): the `locations` crate, the
//!   same layer milvus-load reads through.
//! - [`part`]: one file decoded completely against the header's schema, with
//!   primary keys checked for order and uniqueness.
//! - [`verify`]: a backup set or a stream, checked end to end.
//! - [`live`]: the comparison with a live collection (`--against`).
//! - [`sets`]: dated sets under a root (`--list`, `--max-age`).
//! - [`report`] and [`metrics`]: what the operator and the alerting see.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod live;
pub mod metrics;
pub mod part;
pub mod problem;
pub mod report;
pub mod sets;
pub mod verify;
