//! One file of a backup (a set's part, or a whole stream) decoded completely:
//! every row through the same readers milvus-load uses, checked against the
//! header's schema, primary keys checked for ascending order (milvus-dump
//! writes them ascending, which makes uniqueness provable in constant
//! memory), and a random sample of rows kept for `--against`.

use arrow::array::Array;
use arrow::record_batch::RecordBatch;
use locations::{Blob, Decoder, Spool};
use milvus_model::pk::{pk_at, Pk};
use rand::Rng as _;
use record_stream::header::{FieldSpec, Header};
use record_stream::layout::stream_fields;

use crate::problem::{Kind, Problem};

/// Rows per decoded batch.
const BATCH_ROWS: usize = 2048;

/// Primary keys across the files of one collection: each must be greater
/// than the one before.
#[derive(Default)]
pub struct KeyOrder {
    last: Option<Pk>,
}

impl KeyOrder {
    /// Continues after a file that could not be read, from its recorded last key.
    pub fn skip_to(&mut self, last_pk: &serde_json::Value) {
        if let Some(key) = Pk::from_json(last_pk) {
            self.last = Some(key);
        }
    }

    /// Checks one batch's key column; `first_row` numbers its rows in errors.
    fn observe(&mut self, column: &dyn Array, first_row: u64) -> Result<(), String> {
        for row in 0..column.len() {
            let key =
                pk_at(column, row).ok_or("the primary key column is neither INT64 nor VARCHAR")?;
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
    /// The partition the manifest says all its rows are in (the file then
    /// has no `$partition` column).
    pub partition: Option<&'a str>,
}

/// What decoding found.
pub struct Decoded {
    /// The file's own header (JSONL first line, Parquet metadata).
    pub header: Option<Header>,
    /// Rows decoded.
    pub rows: u64,
}

/// Decodes the file or object `blob` completely (its format recognised by
/// content: Parquet read in place, zstd-wrapped Parquet spooled to `spool`).
pub fn decode_blob(
    blob: &Blob,
    expect: &Expect,
    keys: &mut KeyOrder,
    sample: &mut Sample,
    spool: &Spool,
) -> Result<Decoded, Problem> {
    let decoder = Decoder::open_blob(blob, expect.source, spool)?
        .in_partition(expect.partition.map(str::to_string));
    decode(decoder, expect, keys, sample)
}

/// Decodes a stream read once (stdin): Parquet is spooled to `spool`.
pub fn decode_reader(
    reader: Box<dyn std::io::Read + Send>,
    expect: &Expect,
    keys: &mut KeyOrder,
    sample: &mut Sample,
    spool: &Spool,
) -> Result<Decoded, Problem> {
    let decoder = Decoder::open_reader(reader, expect.source, spool)?;
    decode(decoder, expect, keys, sample)
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

/// Every row of an opened file, through the readers milvus-load uses: the
/// schema checks they make as they decode, then key order, the recorded key
/// range and row count, and the trailer or footer.
fn decode(
    decoder: Decoder,
    expect: &Expect,
    keys: &mut KeyOrder,
    sample: &mut Sample,
) -> Result<Decoded, Problem> {
    let own = decoder.header().cloned();
    let header = effective_header(expect, own.as_ref())?.clone();
    let fields: Vec<FieldSpec> = stream_fields(&header.collection, &header.scope)
        .into_iter()
        .cloned()
        .collect();
    let pk = fields
        .iter()
        .position(|f| f.is_primary_key)
        .ok_or_else(|| corrupt(expect, "the header has no primary key field"))?;
    let mut batches = decoder.batches(&fields, &[], BATCH_ROWS)?;
    let mut count = 0u64;
    for batch in batches.by_ref() {
        let batch = batch?;
        check_batch(&batch, pk, count, expect, keys, sample)?;
        count += batch.num_rows() as u64;
    }
    let rows = batches.finish()?;
    finish(own, rows, expect)
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
    let range = |bound: Option<&serde_json::Value>| bound.and_then(Pk::from_json);
    let (first, last) = (pk_at(column, 0), pk_at(column, batch.num_rows() - 1));
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
