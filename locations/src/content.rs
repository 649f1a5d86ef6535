//! A file's format, recognised by its content (never by its name), and its
//! rows as Arrow record batches.
//!
//! - A zstd frame (by its magic) is decompressed, and what is inside
//!   recognised in turn.
//! - Parquet (by its magic) is read by random access: footer first, then the
//!   column chunks asked for (ranged GETs for an object). Parquet that can
//!   only be read once (stdin, or inside a zstd frame, as sets written before
//!   Parquet compressed itself have it) is spooled to a temporary file first.
//! - Text is JSONL: a stream with its header line, headerless rows, or
//!   Milvus's `{"rows": [...]}` import document (pretty-printed or not),
//!   recognised from its first non-blank bytes however they arrive.

use std::io::{self, BufRead, BufReader, Read};

use arrow::array::StringArray;
use arrow::datatypes::{FieldRef, Schema};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use record_stream::header::{FieldSpec, Header, HEADER_KEY};
use record_stream::jsonl_read::{JsonlReader, JsonlReaderStart};
use record_stream::layout;
use record_stream::parquet_read::{ParquetInput, ParquetRows};
use record_stream::random_access::SharedBytes;
use record_stream::{PARQUET_MAGIC, ZSTD_MAGIC};

use crate::blob::Blob;
use crate::error::{Error, Result};
use crate::rows_document::RowsDocument;
use crate::spool::Spool;

/// Bytes of buffer between a decoder and its input.
const READ_BUFFER: usize = 1 << 20;
/// Non-blank bytes read ahead to tell the kinds of text apart.
const TEXT_SNIFF: usize = 16;
/// Give up looking for them after this many bytes (all blank).
const TEXT_SNIFF_LIMIT: usize = 1 << 16;

/// How a file's rows are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A JSONL stream with its header and trailer (what milvus-dump writes).
    Stream,
    /// JSONL rows without a header (an ingestion pipeline's).
    Headerless,
    /// A `{"rows": [...]}` import document.
    RowsDocument,
    /// Parquet (with the stream header in its metadata, or a bulk-import file).
    Parquet,
}

/// A read-once input whose format is known, positioned at its start.
pub(crate) enum Sniffed {
    /// Parquet, not yet readable (it needs its footer first).
    Parquet(Box<dyn BufRead + Send>),
    /// Text (decompressed).
    Text {
        /// The text from its first byte.
        reader: Box<dyn BufRead + Send>,
        /// Its layout ([`Layout::Stream`], [`Layout::Headerless`] or [`Layout::RowsDocument`]).
        layout: Layout,
    },
}

/// Reads into `prefix` until `enough(prefix)` or the end of the input or `limit`.
fn read_ahead(
    reader: &mut dyn Read,
    prefix: &mut Vec<u8>,
    limit: usize,
    enough: impl Fn(&[u8]) -> bool,
) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    while !enough(prefix) && prefix.len() < limit {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        prefix.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// `prefix` followed by the rest of `reader`, buffered.
fn rejoin(prefix: Vec<u8>, reader: Box<dyn Read + Send>) -> Box<dyn BufRead + Send> {
    Box::new(BufReader::with_capacity(
        READ_BUFFER,
        io::Cursor::new(prefix).chain(reader),
    ))
}

fn significant(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect()
}

/// Recognises a read-once input (zstd is opened on the way).
pub(crate) fn sniff(mut reader: Box<dyn Read + Send>, source: &str) -> Result<Sniffed> {
    let unreadable = |e: io::Error| Error::reading(source, &e);
    let mut prefix = Vec::new();
    read_ahead(&mut reader, &mut prefix, 4, |p| p.len() >= 4).map_err(unreadable)?;
    if prefix.starts_with(&ZSTD_MAGIC) {
        let frame = rejoin(prefix, reader);
        let decoder = zstd::Decoder::with_buffer(frame).map_err(unreadable)?;
        reader = Box::new(decoder);
        prefix = Vec::new();
        read_ahead(&mut reader, &mut prefix, 4, |p| p.len() >= 4).map_err(unreadable)?;
    }
    if prefix.starts_with(PARQUET_MAGIC) {
        return Ok(Sniffed::Parquet(rejoin(prefix, reader)));
    }
    read_ahead(&mut reader, &mut prefix, TEXT_SNIFF_LIMIT, |p| {
        p.iter().filter(|b| !b.is_ascii_whitespace()).count() >= TEXT_SNIFF
    })
    .map_err(unreadable)?;
    let start = significant(&prefix);
    let layout = if start.starts_with(b"{\"rows\":[{") || start.starts_with(b"{\"rows\":[]") {
        Layout::RowsDocument
    } else if start.starts_with(format!("{{\"{HEADER_KEY}\"").as_bytes()) {
        Layout::Stream
    } else {
        Layout::Headerless
    };
    let reader = rejoin(prefix, reader);
    Ok(Sniffed::Text {
        reader: match layout {
            Layout::RowsDocument => Box::new(BufReader::with_capacity(
                READ_BUFFER,
                RowsDocument::new(reader),
            )),
            _ => reader,
        },
        layout,
    })
}

/// A file opened for reading rows.
pub struct Decoder {
    source: String,
    inner: Opened,
    /// A spooled copy the Parquet reader reads, removed with the decoder.
    _spooled: Option<tempfile::TempPath>,
    /// The partition of every row, when a set's manifest names it for the
    /// part instead of the part carrying a `$partition` column.
    partition: Option<String>,
}

enum Opened {
    Jsonl {
        start: JsonlReaderStart<Box<dyn BufRead + Send>>,
        header: Option<Header>,
        layout: Layout,
    },
    Parquet(ParquetInput),
}

impl Decoder {
    /// Opens a file or object by content; `source` names it in errors.
    /// Parquet is read by random access, anything else front to back.
    /// Blocking: call off the async runtime.
    pub fn open_blob(blob: &Blob, source: &str, spool: &Spool) -> Result<Decoder> {
        let mut reader = blob.reader()?;
        let mut prefix = Vec::new();
        read_ahead(&mut reader, &mut prefix, 4, |p| p.len() >= 4)
            .map_err(|e| Error::reading(source, &e))?;
        if prefix.starts_with(PARQUET_MAGIC) {
            drop(reader);
            let bytes = blob.random_access()?;
            let parquet = guarded(source, || {
                ParquetInput::from_bytes(bytes, source).map_err(|e| Error::decoding(source, e))
            })?;
            return Ok(Decoder {
                source: source.to_string(),
                inner: Opened::Parquet(parquet),
                _spooled: None,
                partition: None,
            });
        }
        Self::open_reader(
            Box::new(io::Cursor::new(prefix).chain(reader)),
            source,
            spool,
        )
    }

    /// Opens bytes already in memory by content (a part fetched whole and
    /// checked): Parquet is read from them in place. Blocking.
    pub fn open_bytes(bytes: Bytes, source: &str, spool: &Spool) -> Result<Decoder> {
        if bytes.starts_with(PARQUET_MAGIC) {
            let parquet = guarded(source, || {
                ParquetInput::from_bytes(SharedBytes::in_memory(bytes), source)
                    .map_err(|e| Error::decoding(source, e))
            })?;
            return Ok(Decoder {
                source: source.to_string(),
                inner: Opened::Parquet(parquet),
                _spooled: None,
                partition: None,
            });
        }
        Self::open_reader(Box::new(io::Cursor::new(bytes)), source, spool)
    }

    /// Opens an input that can be read only once (stdin) by content;
    /// Parquet is spooled to `spool` first. Blocking.
    pub fn open_reader(
        reader: Box<dyn Read + Send>,
        source: &str,
        spool: &Spool,
    ) -> Result<Decoder> {
        Self::from_sniffed(sniff(reader, source)?, source, spool)
    }

    pub(crate) fn from_sniffed(sniffed: Sniffed, source: &str, spool: &Spool) -> Result<Decoder> {
        match sniffed {
            Sniffed::Parquet(mut reader) => {
                let spooled = spool.copy(&mut reader, source)?;
                let parquet = guarded(source, || {
                    ParquetInput::open(&spooled, source).map_err(|e| Error::decoding(source, e))
                })?;
                Ok(Decoder {
                    source: source.to_string(),
                    inner: Opened::Parquet(parquet),
                    _spooled: Some(spooled),
                    partition: None,
                })
            }
            Sniffed::Text { reader, layout } => {
                let (header, start) =
                    JsonlReader::open(reader, source).map_err(|e| Error::decoding(source, e))?;
                Ok(Decoder {
                    source: source.to_string(),
                    inner: Opened::Jsonl {
                        start,
                        header,
                        layout,
                    },
                    _spooled: None,
                    partition: None,
                })
            }
        }
    }

    /// Says that every row is in `partition` (a set's part whose manifest
    /// entry names it): [`Decoder::batches`] then supplies the
    /// `$partition` column the file does not have.
    pub fn in_partition(mut self, partition: Option<String>) -> Self {
        self.partition = partition;
        self
    }

    /// The stream header the file carries, if any.
    pub fn header(&self) -> Option<&Header> {
        match &self.inner {
            Opened::Jsonl { header, .. } => header.as_ref(),
            Opened::Parquet(parquet) => parquet.header(),
        }
    }

    /// How its rows are laid out.
    pub fn layout(&self) -> Layout {
        match &self.inner {
            Opened::Jsonl { layout, .. } => *layout,
            Opened::Parquet(_) => Layout::Parquet,
        }
    }

    /// Rows, when known before reading them (a Parquet footer).
    pub fn known_rows(&self) -> Option<u64> {
        match &self.inner {
            Opened::Parquet(parquet) => Some(parquet.rows()),
            Opened::Jsonl { .. } => None,
        }
    }

    /// Average bytes per row, when known before reading (a Parquet footer).
    pub fn average_row_bytes(&self) -> Option<u64> {
        match &self.inner {
            Opened::Parquet(parquet) => Some(parquet.average_row_bytes()).filter(|b| *b > 0),
            Opened::Jsonl { .. } => None,
        }
    }

    /// Reads `fields` (columns in that order; JSONL keys in `ignored` are
    /// skipped) in batches of at most `batch_rows`.
    pub fn batches(
        self,
        fields: &[FieldSpec],
        ignored: &[&str],
        batch_rows: usize,
    ) -> Result<Batches> {
        let source = self.source;
        // A part of one partition: its file has every column but that one.
        let partition = match self.partition {
            Some(name) => match fields.iter().position(layout::is_partition_column) {
                Some(at) => Some(PartitionColumn::new(at, name, &source)?),
                None => None,
            },
            None => None,
        };
        let file_fields: Vec<FieldSpec> = fields
            .iter()
            .filter(|f| partition.is_none() || !layout::is_partition_column(f))
            .cloned()
            .collect();
        let fields = file_fields.as_slice();
        let inner = match self.inner {
            Opened::Jsonl { start, layout, .. } => {
                let refs: Vec<&FieldSpec> = fields.iter().collect();
                let reader = start
                    .with_fields(&refs, ignored)
                    .map_err(|e| Error::decoding(&source, e))?;
                Rows::Jsonl {
                    reader,
                    headered: layout == Layout::Stream,
                }
            }
            Opened::Parquet(parquet) => {
                let footer_rows = parquet.rows();
                let rows = guarded(&source, || {
                    parquet
                        .read(fields, batch_rows)
                        .map_err(|e| Error::decoding(&source, e))
                })?;
                Rows::Parquet {
                    rows,
                    footer_rows,
                    fields: fields.to_vec(),
                }
            }
        };
        Ok(Batches {
            source,
            inner,
            batch_rows: batch_rows.max(1),
            rows: 0,
            partition,
            _spooled: self._spooled,
        })
    }
}

/// Runs a step of the Parquet decoder. The `parquet` crate can panic on a
/// damaged file (an overflowing shift in its bit reader, found by
/// `tests/mutated_inputs.rs`): a damaged file is refused as corrupt, named,
/// rather than crashing the tool.
fn guarded<T>(source: &str, step: impl FnOnce() -> Result<T>) -> Result<T> {
    let outer = IN_GUARD.with(|flag| flag.replace(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(step));
    IN_GUARD.with(|flag| flag.set(outer));
    outcome.unwrap_or_else(|_| {
        Err(Error::corrupt(
            source,
            "not a readable Parquet file: its decoder failed on damaged data",
        ))
    })
}

thread_local! {
    static IN_GUARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Wraps the installed panic hook so that it skips the panics the Parquet
/// guard catches (the `parquet` crate panics on some damaged files; they
/// become a "corrupt" error naming the file): the tools print no stray
/// panic message for them, and the fuzz targets let them unwind to the
/// guard instead of libFuzzer's hook aborting. Every other panic reaches
/// the hook as before.
pub fn hook_skips_caught_panics() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_GUARD.with(std::cell::Cell::get) {
            hook(info);
        }
    }));
}

/// A file's rows, batch by batch. [`Batches::finish`] proves the file was
/// whole (a JSONL stream's trailer, a Parquet footer's row count).
pub struct Batches {
    source: String,
    inner: Rows,
    batch_rows: usize,
    rows: u64,
    partition: Option<PartitionColumn>,
    _spooled: Option<tempfile::TempPath>,
}

/// The `$partition` column a reader asked for, supplied from the manifest.
struct PartitionColumn {
    /// Its position among the columns asked for.
    at: usize,
    /// Every row's partition.
    name: String,
    /// Its Arrow field, as the stream layout defines it.
    field: FieldRef,
}

impl PartitionColumn {
    fn new(at: usize, name: String, source: &str) -> Result<PartitionColumn> {
        let schema = layout::arrow_schema(&[layout::partition_field()])
            .map_err(|e| Error::decoding(source, e))?;
        Ok(PartitionColumn {
            at,
            name,
            field: schema.fields()[0].clone(),
        })
    }

    fn insert_into(&self, batch: RecordBatch) -> std::result::Result<RecordBatch, String> {
        let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
        let mut columns = batch.columns().to_vec();
        fields.insert(self.at, self.field.clone());
        columns.insert(
            self.at,
            std::sync::Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                self.name.as_str(),
                batch.num_rows(),
            ))),
        );
        RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns)
            .map_err(|e| e.to_string())
    }
}

// One per file being read: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
enum Rows {
    Jsonl {
        reader: JsonlReader<Box<dyn BufRead + Send>>,
        headered: bool,
    },
    Parquet {
        rows: ParquetRows,
        footer_rows: u64,
        fields: Vec<FieldSpec>,
    },
}

impl Batches {
    /// After the last batch: a headered JSONL stream must have ended in its
    /// trailer (whose count and checksum the reader checked), a Parquet
    /// file must have held the rows its footer says. Returns the rows read.
    pub fn finish(self) -> Result<u64> {
        match &self.inner {
            Rows::Jsonl { reader, headered } => {
                if *headered {
                    reader
                        .require_trailer()
                        .map_err(|e| Error::decoding(&self.source, e))?;
                }
            }
            Rows::Parquet { footer_rows, .. } => {
                if *footer_rows != self.rows {
                    return Err(Error::corrupt(
                        &self.source,
                        format!(
                            "the footer says {footer_rows} rows, {} were read",
                            self.rows
                        ),
                    ));
                }
            }
        }
        Ok(self.rows)
    }
}

impl Iterator for Batches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = match &mut self.inner {
            Rows::Jsonl { reader, .. } => reader
                .next_batch(self.batch_rows)
                .map_err(|e| Error::decoding(&self.source, e))
                .transpose(),
            Rows::Parquet { rows, fields, .. } => guarded(&self.source, || Ok(rows.next()))
                .transpose()
                .map(|batch| {
                    let batch = batch?.map_err(|e| Error::decoding(&self.source, e))?;
                    // JSONL is checked against the header as it is decoded;
                    // Parquet's columns only know their Arrow types.
                    let refs: Vec<&FieldSpec> = fields.iter().collect();
                    record_stream::conform::check_batch(&refs, &batch).map_err(|reason| {
                        Error::corrupt(&self.source, format!("row {}: {reason}", self.rows))
                    })?;
                    Ok(batch)
                }),
        };
        if let Some(Ok(batch)) = &batch {
            self.rows += batch.num_rows() as u64;
        }
        match (&self.partition, batch) {
            (Some(partition), Some(Ok(batch))) => Some(
                partition
                    .insert_into(batch)
                    .map_err(|reason| Error::corrupt(&self.source, reason)),
            ),
            (_, batch) => batch,
        }
    }
}

/// Proves a stream whole without decoding its rows: a JSONL stream's
/// trailer (its row count, and the sha256 of everything before it), or a
/// Parquet file's footer. Returns the header and the row count. Blocking.
pub fn prove_complete(blob: &Blob, source: &str, spool: &Spool) -> Result<(Option<Header>, u64)> {
    match sniff(blob.reader()?, source)? {
        Sniffed::Parquet(reader) => {
            drop(reader);
            let decoder = Decoder::open_blob(blob, source, spool)?;
            Ok((decoder.header().cloned(), decoder.known_rows().unwrap_or(0)))
        }
        Sniffed::Text { reader, .. } => {
            let verified = record_stream::jsonl_read::verify_stream(reader, source)
                .map_err(|e| Error::decoding(source, e))?;
            Ok((Some(verified.header), verified.rows))
        }
    }
}
