//! Where backups live and how every tool reads them.
//!
//! A LOCATION — a path, a backup-set directory, `-` for stdin, or a URL
//! (`s3://`, `gs://`, `az://`, `file://`) — is [`location::resolve`]d to a
//! stream or a set ([`dir::Dir`]); a set's parts are held to its manifest
//! ([`set`]); each file ([`blob::Blob`]) is recognised by its content and
//! read as Arrow record batches ([`content`]). Sets are written in place
//! the same way ([`dir::Dir::create_streamed`], [`write`]). milvus-load ([`input`]) and
//! backup-verify read through this one layer, so what one accepts the other
//! does too: a format or a location added here works for both.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod blob;
pub mod content;
pub mod dir;
pub mod error;
pub mod input;
pub mod location;
pub mod progress;
pub mod rows_document;
pub mod set;
pub mod spool;
pub mod write;

pub use blob::Blob;
pub use content::{Batches, Decoder, Layout};
pub use dir::Dir;
pub use error::{Error, Kind, Result};
pub use location::Target;
pub use spool::Spool;
