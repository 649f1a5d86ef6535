//! A LOCATION opened for loading: no row is handed over before what it
//! came from is proven.
//!
//! - A backup set: the manifest, and every part present with the size the
//!   manifest records (one listing). Each part's sha256 is checked as it is
//!   read, before any of its rows is handed over: a part in object storage
//!   is fetched whole into memory (one read; see [`IN_MEMORY_PART_LIMIT`]),
//!   hashed, then decoded from there, while the part before it loads
//!   ([`read_ahead`]). [`Input::check_all_parts`] proves the whole set first
//!   instead, for a load that must not touch its target until then.
//! - A JSONL stream with a header must end in its trailer (row count and
//!   sha256): a file or object is checked in one pass before loading; on
//!   stdin it is spooled and checked first.
//! - Parquet needs its footer: a file or object is read in place (ranged
//!   reads); on stdin it is spooled.
//! - Headerless JSONL and `{"rows": [...]}` documents have nothing to check
//!   and are read as they arrive.

use std::collections::HashMap;
use std::io::{self, Read as _};
use std::sync::mpsc;

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use object_storage::StoreConfig;
use record_stream::hashing::HashingWriter;
use record_stream::header::Header;
use record_stream::jsonl_read::verify_stream;
use record_stream::manifest::Part;

use crate::blob::{Blob, Digest};
use crate::content::{sniff, Decoder, Layout, Sniffed};
use crate::error::{Error, Kind, Result};
use crate::location::{resolve, Target};
use crate::set;
use crate::spool::Spool;

/// Parts hashed at once by [`Input::check_all_parts`].
const PARTS_CHECKED_AT_ONCE: usize = 4;

/// The largest part of a set in object storage fetched whole into memory,
/// checked, and decoded from there (read once). Two can be in memory at a
/// time: the one loading and the next. milvus-dump's parts are 32 MiB
/// before compression by default; a larger part is hashed as it streams
/// by, then read again (Parquet by ranges) once it is proven.
pub const IN_MEMORY_PART_LIMIT: u64 = 96 << 20;

/// A location opened for loading.
pub struct Input {
    /// The header (`None`: headerless rows; the schema comes from elsewhere).
    pub header: Option<Header>,
    /// Rows, when known before reading (trailer, footer, manifest).
    pub rows: Option<u64>,
    /// What to read, in load order.
    pub units: Vec<Unit>,
    /// A set's parts, parallel to `units` (empty for a stream).
    pub parts: Vec<Part>,
    /// Average bytes per row, when known before reading (a Parquet
    /// stream's footer; a set's parts tell theirs as each is opened).
    pub average_row_bytes: Option<u64>,
    /// Spooled copies (stdin), removed with the input.
    _spooled: Option<tempfile::TempPath>,
}

/// One file of the input.
pub struct Unit {
    /// The name errors use (a part's path in the set, a file, `stdin`).
    pub source: String,
    /// The partition of all its rows, when the manifest names it.
    partition: Option<String>,
    content: UnitContent,
}

enum UnitContent {
    /// Opened when its turn comes (proven already, or nothing to prove).
    File(Blob),
    /// A set's part, held to the manifest's size and sha256 when its turn
    /// comes, before any of its rows is handed over.
    Part { blob: Blob, part: Part },
    /// Opened already (read once, or its footer read).
    Opened(Box<Decoder>),
}

impl Unit {
    /// Opens it for reading (blocking).
    pub fn open(self, spool: &Spool) -> Result<Decoder> {
        let decoder = match self.content {
            UnitContent::File(blob) => Decoder::open_blob(&blob, &self.source, spool)?,
            UnitContent::Part { blob, part } => open_part(&blob, &part, spool)?,
            UnitContent::Opened(decoder) => *decoder,
        };
        Ok(decoder.in_partition(self.partition))
    }
}

impl Input {
    /// Proves every part of a set against the manifest (sha256, several at
    /// once, streamed: nothing kept) before a row is handed over: for a
    /// load into a collection it did not create, which must not be touched
    /// by a set that turns out corrupt half-way.
    pub async fn check_all_parts(&mut self) -> Result<()> {
        let units = std::mem::take(&mut self.units);
        self.units = futures::stream::iter(units)
            .map(|unit| async move {
                let UnitContent::Part { blob, part } = unit.content else {
                    return Ok(unit);
                };
                let found = blob.digest().await?.ok_or_else(|| {
                    Error::incomplete(&part.path, "listed in the manifest but missing")
                })?;
                set::check_part(&part, &found)?;
                Ok::<_, Error>(Unit {
                    source: unit.source,
                    partition: unit.partition,
                    content: UnitContent::File(blob),
                })
            })
            .buffered(PARTS_CHECKED_AT_ONCE)
            .try_collect()
            .await?;
        Ok(())
    }
}

/// A set's part, read once when it is in object storage and small enough:
/// fetched whole (hashed on the way), checked, decoded from memory.
/// Otherwise hashed as it streams by, checked, then opened again.
fn open_part(blob: &Blob, part: &Part, spool: &Spool) -> Result<Decoder> {
    let source = &part.path;
    let reading = |e: io::Error| Error::reading(source, &e);
    let digest = |(bytes, sha256): (u64, String)| Digest { bytes, sha256 };
    if matches!(blob, Blob::Remote(_)) && part.bytes <= IN_MEMORY_PART_LIMIT {
        // One byte more than the manifest's size is enough to tell it differs.
        let mut hashing = HashingWriter::new(Vec::with_capacity(part.bytes as usize));
        io::copy(&mut blob.reader()?.take(part.bytes + 1), &mut hashing).map_err(reading)?;
        let (bytes, size, sha256) = hashing.finish();
        set::check_part(part, &digest((size, sha256)))?;
        return Decoder::open_bytes(Bytes::from(bytes), source, spool);
    }
    let mut hashing = HashingWriter::new(io::sink());
    io::copy(&mut blob.reader()?, &mut hashing).map_err(reading)?;
    let (_, size, sha256) = hashing.finish();
    set::check_part(part, &digest((size, sha256)))?;
    Decoder::open_blob(blob, source, spool)
}

/// Units opened in order on a thread of their own, one ahead of the reader:
/// while one loads, the next is fetched and proven. Stops after the first
/// unit that fails to open.
pub struct ReadAhead {
    opened: mpsc::Receiver<Result<(String, Decoder)>>,
}

impl Iterator for ReadAhead {
    /// A unit's source and its decoder.
    type Item = Result<(String, Decoder)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.opened.recv().ok()
    }
}

/// Opens `units` in order, each while the one before it is being read.
pub fn read_ahead(units: Vec<Unit>, spool: Spool) -> ReadAhead {
    // A rendezvous channel: the next unit waits, opened, until the reader
    // takes it; so at most two are open (and in memory) at a time.
    let (tx, opened) = mpsc::sync_channel(0);
    std::thread::spawn(move || {
        for unit in units {
            let source = unit.source.clone();
            let result = unit.open(&spool).map(|decoder| (source, decoder));
            let failed = result.is_err();
            if tx.send(result).is_err() || failed {
                break;
            }
        }
    });
    ReadAhead { opened }
}

/// Opens `location` for loading; `pick` chooses a collection of a set
/// holding several.
pub async fn open(
    location: &str,
    pick: Option<&str>,
    spool: &Spool,
    config: &StoreConfig,
) -> Result<Input> {
    match resolve(location, config).await? {
        Target::Stdin => {
            let spool = spool.clone();
            tokio::task::spawn_blocking(move || open_stdin(&spool))
                .await
                .map_err(|e| Error::unreachable("stdin", e))?
        }
        Target::Stream(blob) => {
            let spool = spool.clone();
            let source = location.to_string();
            tokio::task::spawn_blocking(move || open_stream(blob, source, &spool))
                .await
                .map_err(|e| Error::unreachable(location, e))?
        }
        Target::Dir(dir) => {
            let manifest = match set::read_manifest(&dir).await {
                // An empty prefix is a mistyped URL, not a set that did not finish.
                Err(e) if e.kind == Kind::Incomplete && dir.files().await?.is_empty() => {
                    return Err(Error::new(
                        Kind::NotFound,
                        location,
                        "no such object, and no backup set under this prefix",
                    ))
                }
                manifest => manifest?,
            };
            let entry = set::pick(&manifest, pick, &dir.url(""))?.clone();
            // A part missing or of the wrong size is found before anything
            // is loaded; its checksum when it is read.
            let present: HashMap<String, u64> = dir.files().await?.into_iter().collect();
            let units = entry
                .parts
                .iter()
                .map(|part| match present.get(&part.path) {
                    None => Err(Error::incomplete(
                        &part.path,
                        "listed in the manifest but missing",
                    )),
                    Some(&bytes) if bytes != part.bytes => Err(Error::corrupt(
                        &part.path,
                        format!(
                            "{bytes} bytes, but the manifest records {}: the set is corrupt",
                            part.bytes
                        ),
                    )),
                    Some(_) => Ok(Unit {
                        source: part.path.clone(),
                        partition: part.partition.clone(),
                        content: UnitContent::Part {
                            blob: dir.blob(&part.path),
                            part: part.clone(),
                        },
                    }),
                })
                .collect::<Result<_>>()?;
            Ok(Input {
                header: Some(entry.header),
                rows: Some(entry.rows),
                units,
                parts: entry.parts,
                average_row_bytes: None,
                _spooled: None,
            })
        }
    }
}

/// An input of one file, read through `decoder` (opened once: its footer or
/// first line already read).
fn one_unit(decoder: Decoder, source: &str) -> Input {
    Input {
        header: decoder.header().cloned(),
        rows: decoder.known_rows(),
        average_row_bytes: decoder.average_row_bytes(),
        units: vec![Unit {
            source: source.to_string(),
            partition: None,
            content: UnitContent::Opened(Box::new(decoder)),
        }],
        parts: Vec::new(),
        _spooled: None,
    }
}

/// A file or object: a headered JSONL stream is proven complete in a first
/// pass (as [`crate::content::prove_complete`] does) and read again when
/// loaded; Parquet is opened once (its footer read) and read in place;
/// other rows are read as they arrive.
fn open_stream(blob: Blob, source: String, spool: &Spool) -> Result<Input> {
    match sniff(blob.reader()?, &source)? {
        Sniffed::Parquet(reader) => {
            // Read in place (or, inside a zstd frame, spooled), not from here.
            drop(reader);
            Ok(one_unit(
                Decoder::open_blob(&blob, &source, spool)?,
                &source,
            ))
        }
        Sniffed::Text {
            reader,
            layout: Layout::Stream,
        } => {
            let verified =
                verify_stream(reader, &source).map_err(|e| Error::decoding(&source, e))?;
            Ok(Input {
                header: Some(verified.header),
                rows: Some(verified.rows),
                average_row_bytes: None,
                units: vec![Unit {
                    source,
                    partition: None,
                    content: UnitContent::File(blob),
                }],
                parts: Vec::new(),
                _spooled: None,
            })
        }
        sniffed => Ok(one_unit(
            Decoder::from_sniffed(sniffed, &source, spool)?,
            &source,
        )),
    }
}

/// Stdin: a headered stream is spooled and proven complete (trailer,
/// checksum) before the first row is handed over; Parquet is spooled (it
/// needs its footer); other rows are read as they arrive.
fn open_stdin(spool: &Spool) -> Result<Input> {
    let source = "stdin";
    let stdin: Box<dyn std::io::Read + Send> = Box::new(std::io::stdin());
    match sniff(stdin, source)? {
        Sniffed::Text {
            mut reader,
            layout: Layout::Stream,
        } => {
            let spooled = spool.copy(&mut reader, source)?;
            let blob = Blob::Local(spooled.to_path_buf());
            let mut input = open_stream(blob, source.to_string(), spool)?;
            input._spooled = Some(spooled);
            Ok(input)
        }
        sniffed => Ok(one_unit(
            Decoder::from_sniffed(sniffed, source, spool)?,
            source,
        )),
    }
}
