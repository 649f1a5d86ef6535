//! One file of a backup (a set's part, or a whole stream) decoded completely:
//! every row through the same readers milvus-load uses, checked against the
//! header's schema, primary keys checked for ascending order (milvus-dump
//! writes them ascending, which makes uniqueness provable in constant
//! memory), and a random sample of rows kept for `--against`.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use rand::Rng as _;
use record_stream::header::{FieldSpec, Header};
use record_stream::jsonl_read::JsonlReader;
use record_stream::layout::stream_fields;
use record_stream::parquet_read::ParquetInput;
use record_stream::{PARQUET_MAGIC, ZSTD_MAGIC};

use crate::problem::{Kind, Problem};

/// Rows per decoded batch.
const BATCH_ROWS: usize = 2048;

/// A primary key value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// INT64 key.
    Int(i64),
    /// VARCHAR key (byte order, as Milvus compares them).
    Str(String),
}

impl Key {
    /// The key as the manifest records it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Key::Int(i) => (*i).into(),
            Key::Str(s) => s.clone().into(),
        }
    }

    fn from_json(value: &serde_json::Value) -> Option<Key> {
        match value {
            serde_json::Value::Number(n) => n.as_i64().map(Key::Int),
            serde_json::Value::String(s) => Some(Key::Str(s.clone())),
            _ => None,
        }
    }

    fn at(column: &dyn Array, row: usize) -> Option<Key> {
        if let Some(ints) = column.as_primitive_opt::<Int64Type>() {
            return Some(Key::Int(ints.value(row)));
        }
        column
            .as_string_opt::<i32>()
            .map(|s| Key::Str(s.value(row).to_string()))
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// Primary keys across the files of one collection: each must be greater
/// than the one before.
#[derive(Default)]
pub struct KeyOrder {
    last: Option<Key>,
}

impl KeyOrder {
    /// Continues after a file that could not be read, from its recorded last key.
    pub fn skip_to(&mut self, last_pk: &serde_json::Value) {
        if let Some(key) = Key::from_json(last_pk) {
            self.last = Some(key);
        }
    }

    /// Checks one batch's key column; `first_row` numbers its rows in errors.
    fn observe(&mut self, column: &dyn Array, first_row: u64) -> Result<(), String> {
        for row in 0..column.len() {
            let key = Key::at(column, row)
                .ok_or("the primary key column is neither INT64 nor VARCHAR")?;
            if let Some(last) = &self.last {
                if key == *last {
                    return Err(format!(
                        "row {}: duplicate primary key {key}",
                        first_row + row as u64
                    ));
                }
                if key < *last {
                    return Err(format!(
                        "row {}: primary key {key} after {last}: keys are out of order \
                         (milvus-dump writes them ascending; duplicates cannot be ruled out)",
                        first_row + row as u64
                    ));
                }
            }
            self.last = Some(key);
        }
        Ok(())
    }
}

/// A uniform random sample of rows (reservoir sampling), one-row batches.
pub struct Sample {
    capacity: usize,
    seen: u64,
    /// The rows kept.
    pub rows: Vec<RecordBatch>,
}

impl Sample {
    /// Keeps at most `capacity` rows.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            seen: 0,
            rows: Vec::with_capacity(capacity),
        }
    }

    fn offer(&mut self, batch: &RecordBatch) {
        if self.capacity == 0 {
            return;
        }
        let mut rng = rand::rng();
        for row in 0..batch.num_rows() {
            self.seen += 1;
            if self.rows.len() < self.capacity {
                self.rows.push(batch.slice(row, 1));
            } else {
                let slot = rng.random_range(0..self.seen);
                if (slot as usize) < self.capacity {
                    self.rows[slot as usize] = batch.slice(row, 1);
                }
            }
        }
    }
}

/// What to expect of a file.
pub struct Expect<'a> {
    /// The name problems carry (a part path, a file, `stdin`).
    pub source: &'a str,
    /// The header (the manifest's, for a part); `None`: take the file's own.
    pub header: Option<&'a Header>,
    /// Rows the manifest records.
    pub rows: Option<u64>,
    /// First and last primary key the manifest records.
    pub first_pk: Option<&'a serde_json::Value>,
    /// See `first_pk`.
    pub last_pk: Option<&'a serde_json::Value>,
}

/// What decoding found.
pub struct Decoded {
    /// The file's own header (JSONL first line, Parquet metadata).
    pub header: Option<Header>,
    /// Rows decoded.
    pub rows: u64,
}

/// An I/O error while reading `source` (at `path`, when it is a file) as an
/// Unreachable problem.
fn unreadable<'a>(
    source: &'a str,
    path: Option<&'a Path>,
) -> impl Fn(io::Error) -> Problem + Copy + 'a {
    move |e| {
        let message = match path {
            Some(path) => format!("cannot read {}: {e}", path.display()),
            None => format!("cannot read: {e}"),
        };
        Problem::new(Kind::Unreachable, source, message)
    }
}

/// Decodes the file at `path` completely (zstd detected by magic; Parquet
/// inside zstd is spooled to `spool_dir` first).
pub fn decode_file(
    path: &Path,
    expect: &Expect,
    keys: &mut KeyOrder,
    sample: &mut Sample,
    spool_dir: &Path,
) -> Result<Decoded, Problem> {
    let unreadable = unreadable(expect.source, Some(path));
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(unreadable)?);
    if peek(&mut reader).map_err(unreadable)? == PARQUET_MAGIC {
        return decode_parquet(path, expect, keys, sample);
    }
    decode_reader(Box::new(reader), expect, keys, sample, spool_dir)
}

/// Decodes a stream read once (stdin, or a file that is not plain
/// Parquet): zstd is detected by magic, Parquet spooled to `spool_dir`.
pub fn decode_reader(
    mut reader: Box<dyn BufRead + Send>,
    expect: &Expect,
    keys: &mut KeyOrder,
    sample: &mut Sample,
    spool_dir: &Path,
) -> Result<Decoded, Problem> {
    let unreadable = unreadable(expect.source, None);
    if peek(&mut reader).map_err(unreadable)? == ZSTD_MAGIC {
        reader = Box::new(BufReader::with_capacity(
            1 << 20,
            zstd::Decoder::with_buffer(reader).map_err(unreadable)?,
        ));
    }
    if peek(&mut reader).map_err(|e| corrupt(expect, format!("zstd: {e}")))? == PARQUET_MAGIC {
        // Parquet needs its footer first.
        let mut spooled = tempfile::Builder::new()
            .prefix(".backup-verify-")
            .tempfile_in(spool_dir)
            .map_err(unreadable)?;
        io::copy(&mut reader, spooled.as_file_mut()).map_err(unreadable)?;
        return decode_parquet(spooled.path(), expect, keys, sample);
    }
    decode_jsonl(reader, expect, keys, sample)
}

fn peek(reader: &mut dyn BufRead) -> io::Result<Vec<u8>> {
    Ok(reader.fill_buf()?.iter().take(4).copied().collect())
}

fn corrupt(expect: &Expect, message: impl Into<String>) -> Problem {
    Problem::new(Kind::Corrupt, expect.source, message)
}

/// The header rows are checked against: the expected one, which the file's
/// own must agree with (same collection and fields).
fn effective_header<'a>(
    expect: &'a Expect,
    own: Option<&'a Header>,
) -> Result<&'a Header, Problem> {
    match (expect.header, own) {
        (Some(expected), Some(own)) => {
            if own.collection.name != expected.collection.name
                || own.collection.fields != expected.collection.fields
                || own.scope != expected.scope
            {
                return Err(corrupt(
                    expect,
                    format!(
                        "its header describes collection {:?} differently from the manifest",
                        own.collection.name
                    ),
                ));
            }
            Ok(expected)
        }
        (Some(h), None) | (None, Some(h)) => Ok(h),
        (None, None) => Err(Problem::new(
            Kind::Incomplete,
            expect.source,
            "no header: a headerless file cannot be verified (milvus-dump writes one on every stream)",
        )),
    }
}

fn decode_jsonl<R: BufRead>(
    reader: R,
    expect: &Expect,
    keys: &mut KeyOrder,
    sample: &mut Sample,
) -> Result<Decoded, Problem> {
    let classify = |e: record_stream::Error| stream_problem(expect.source, e);
    let (own, start) = JsonlReader::open(reader, expect.source).map_err(classify)?;
    let header = effective_header(expect, own.as_ref())?.clone();
    let fields = stream_fields(&header.collection, &header.scope);
    let pk = pk_column(&fields, expect)?;
    let mut rows = start.with_fields(&fields, &[]).map_err(classify)?;
    let mut count = 0u64;
    while let Some(batch) = rows.next_batch(BATCH_ROWS).map_err(classify)? {
        // Lengths, capacities and dims are checked by the decoder as it reads.
        check_batch(&batch, pk, count, expect, keys, sample)?;
        count += batch.num_rows() as u64;
    }
    rows.require_trailer().map_err(classify)?;
    finish(own, count, expect)
}

/// A JSONL reading error as a problem: a stream cut short (no trailer, or a
/// last line that ends mid-row) is incomplete; anything else is corrupt.
pub fn stream_problem(source: &str, error: record_stream::Error) -> Problem {
    let message = match &error {
        // The place names the input already.
        record_stream::Error::Line { line, reason, .. } => format!("line {line}: {reason}"),
        other => other.to_string(),
    };
    let cut = ["truncated", "no header", "EOF while parsing"]
        .iter()
        .any(|s| message.contains(s));
    let kind = if cut { Kind::Incomplete } else { Kind::Corrupt };
    Problem::new(kind, source, message)
}

fn decode_parquet(
    path: &Path,
    expect: &Expect,
    keys: &mut KeyOrder,
    sample: &mut Sample,
) -> Result<Decoded, Problem> {
    let input = ParquetInput::open(path, expect.source).map_err(|e| {
        // A file cut short has lost its footer (and its closing magic).
        let cut = std::fs::read(path)
            .map(|b| !b.ends_with(PARQUET_MAGIC))
            .unwrap_or(false);
        let kind = if cut { Kind::Incomplete } else { Kind::Corrupt };
        Problem::new(kind, expect.source, e.to_string())
    })?;
    let own = input.header().cloned();
    let header = effective_header(expect, own.as_ref())?.clone();
    let fields = stream_fields(&header.collection, &header.scope);
    let pk = pk_column(&fields, expect)?;
    let owned: Vec<FieldSpec> = fields.iter().map(|f| (*f).clone()).collect();
    let footer_rows = input.rows();
    let batches = input
        .read(&owned, BATCH_ROWS)
        .map_err(|e| corrupt(expect, e.to_string()))?;
    let mut count = 0u64;
    for batch in batches {
        let batch = batch.map_err(|e| corrupt(expect, e.to_string()))?;
        record_stream::conform::check_batch(&fields, &batch)
            .map_err(|reason| corrupt(expect, format!("row {}: {reason}", count)))?;
        check_batch(&batch, pk, count, expect, keys, sample)?;
        count += batch.num_rows() as u64;
    }
    if count != footer_rows {
        return Err(corrupt(
            expect,
            format!("the footer says {footer_rows} rows, {count} were read"),
        ));
    }
    finish(own, count, expect)
}

fn pk_column(fields: &[&FieldSpec], expect: &Expect) -> Result<usize, Problem> {
    fields
        .iter()
        .position(|f| f.is_primary_key)
        .ok_or_else(|| corrupt(expect, "the header has no primary key field"))
}

/// Per batch: key order, the manifest's key range, the sample.
fn check_batch(
    batch: &RecordBatch,
    pk: usize,
    first_row: u64,
    expect: &Expect,
    keys: &mut KeyOrder,
    sample: &mut Sample,
) -> Result<(), Problem> {
    if batch.num_rows() == 0 {
        return Ok(());
    }
    let column = batch.column(pk).as_ref();
    keys.observe(column, first_row)
        .map_err(|reason| corrupt(expect, reason))?;
    let range = |bound: Option<&serde_json::Value>| bound.and_then(Key::from_json);
    let (first, last) = (Key::at(column, 0), Key::at(column, batch.num_rows() - 1));
    if let (Some(low), Some(first)) = (range(expect.first_pk), &first) {
        if *first < low {
            return Err(corrupt(
                expect,
                format!("primary key {first} is below the part's recorded first key {low}"),
            ));
        }
    }
    if let (Some(high), Some(last)) = (range(expect.last_pk), &last) {
        if *last > high {
            return Err(corrupt(
                expect,
                format!("primary key {last} is above the part's recorded last key {high}"),
            ));
        }
    }
    sample.offer(batch);
    Ok(())
}

fn finish(own: Option<Header>, rows: u64, expect: &Expect) -> Result<Decoded, Problem> {
    if let Some(recorded) = expect.rows {
        if recorded != rows {
            return Err(corrupt(
                expect,
                format!("the manifest records {recorded} rows, the part has {rows}"),
            ));
        }
    }
    Ok(Decoded { header: own, rows })
}
