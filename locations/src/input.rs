//! A LOCATION opened for loading: everything checked before the first row
//! is handed over.
//!
//! - A backup set: the manifest, then every part's size and sha256 (read
//!   front to back, several parts at once; nothing is copied to disk).
//! - A JSONL stream with a header must end in its trailer (row count and
//!   sha256): a file or object is checked in one pass before loading; on
//!   stdin it is spooled and checked first.
//! - Parquet needs its footer: a file or object is read in place (ranged
//!   reads); on stdin it is spooled.
//! - Headerless JSONL and `{"rows": [...]}` documents have nothing to check
//!   and are read as they arrive.

use futures::StreamExt as _;
use record_stream::header::Header;
use record_stream::jsonl_read::verify_stream;
use record_stream::manifest::Part;
use s3_pipes::StoreConfig;

use crate::blob::Blob;
use crate::content::{sniff, Decoder, Layout, Sniffed};
use crate::error::{Error, Result};
use crate::location::{resolve, Target};
use crate::set;
use crate::spool::Spool;

/// Parts hashed at once while a set is checked.
const PARTS_CHECKED_AT_ONCE: usize = 4;

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
    /// Average bytes per row, when known before reading (the footer of a
    /// Parquet stream, or of a set's first part).
    pub average_row_bytes: Option<u64>,
    /// Spooled copies (stdin), removed with the input.
    _spooled: Option<tempfile::TempPath>,
}

/// One file of the input.
pub struct Unit {
    /// The name errors use (a part's path in the set, a file, `stdin`).
    pub source: String,
    content: UnitContent,
}

enum UnitContent {
    /// Opened when its turn comes.
    File(Blob),
    /// Opened already (read once, or its footer read).
    Opened(Box<Decoder>),
}

impl Unit {
    /// Opens it for reading (blocking).
    pub fn open(self, spool: &Spool) -> Result<Decoder> {
        match self.content {
            UnitContent::File(blob) => Decoder::open_blob(&blob, &self.source, spool),
            UnitContent::Opened(decoder) => Ok(*decoder),
        }
    }
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
            let manifest = set::read_manifest(&dir).await?;
            let entry = set::pick(&manifest, pick, &dir.url(""))?.clone();
            let checks = futures::stream::iter(entry.parts.iter())
                .map(|part| {
                    let blob = dir.blob(&part.path);
                    async move {
                        let found = blob.digest().await?.ok_or_else(|| {
                            Error::incomplete(&part.path, "listed in the manifest but missing")
                        })?;
                        set::check_part(part, &found)?;
                        Ok::<_, Error>(Unit {
                            source: part.path.clone(),
                            content: UnitContent::File(blob),
                        })
                    }
                })
                .buffered(PARTS_CHECKED_AT_ONCE);
            let mut units: Vec<Unit> = checks
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_>>()?;
            // Insert batches are sized from the first part's Parquet footer,
            // read once: the part stays open for loading.
            let mut average_row_bytes = None;
            if let Some(first) = units.first_mut() {
                if let UnitContent::File(blob) = &first.content {
                    let (blob, source, spool) = (blob.clone(), first.source.clone(), spool.clone());
                    let opened = tokio::task::spawn_blocking(move || {
                        Decoder::open_blob(&blob, &source, &spool)
                    })
                    .await;
                    if let Ok(Ok(decoder)) = opened {
                        if decoder.layout() == Layout::Parquet {
                            average_row_bytes = decoder.average_row_bytes();
                            first.content = UnitContent::Opened(Box::new(decoder));
                        }
                    }
                }
            }
            Ok(Input {
                header: Some(entry.header),
                rows: Some(entry.rows),
                units,
                parts: entry.parts,
                average_row_bytes,
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
