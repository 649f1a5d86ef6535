//! Readers against damaged input: every kind the tools read (a headered
//! JSONL stream, the same in a zstd frame, Parquet plain and with zstd
//! inside, a `{"rows": [...]}` document), with bits flipped, bytes changed,
//! inserted or cut off, thousands of times from a fixed seed. No input may
//! make a reader panic; a damaged headered stream is always refused (its
//! trailer's sha256 covers every byte); errors name the input.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Int64Array, ListArray, RecordBatch, StringArray};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use bytes::Bytes;
use locations::{Decoder, Spool};
use record_stream::header::FieldSpec;
use record_stream::jsonl::JsonlWriter;
use record_stream::layout::arrow_schema;
use record_stream::parquet::ParquetWriter;
use record_stream::test_support::{field, header};

/// Damaged copies read per input kind.
const ROUNDS: usize = 1500;

/// A small deterministic generator (xorshift): the same damage every run.
struct Damage(u64);

impl Damage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `input` with one kind of damage: a bit flipped, a byte changed,
    /// inserted, the rest cut off, or a run of bytes inverted.
    fn apply(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        let at = self.below(out.len());
        match self.below(5) {
            0 => out[at] ^= 1 << self.below(8),
            1 => out[at] = out[at].wrapping_add(1 + self.below(255) as u8),
            2 => out.insert(at, self.next() as u8),
            3 => out.truncate(at),
            _ => {
                let end = (at + 1 + self.below(64)).min(out.len());
                for byte in &mut out[at..end] {
                    *byte = !*byte;
                }
            }
        }
        out
    }
}

fn fields() -> Vec<FieldSpec> {
    let mut id = field("id", "Int64", &[]);
    id.is_primary_key = true;
    vec![
        id,
        field("v", "FloatVector", &[("dim", "4")]),
        field("t", "VarChar", &[("max_length", "32")]),
    ]
}

fn rows(fields: &[FieldSpec]) -> RecordBatch {
    let refs: Vec<&FieldSpec> = fields.iter().collect();
    let schema = arrow_schema(&refs).unwrap();
    let n = 40;
    let floats = Float32Array::from_iter_values((0..n * 4).map(|i| i as f32 * 0.5));
    let item = Arc::new(arrow::datatypes::Field::new(
        "item",
        arrow::datatypes::DataType::Float32,
        false,
    ));
    let offsets: Vec<i32> = (0..=n).map(|r| r * 4).collect();
    let vectors: ArrayRef = Arc::new(
        ListArray::try_new(
            item,
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Arc::new(floats),
            None,
        )
        .unwrap(),
    );
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..n as i64)),
            vectors,
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("row {i}")),
            )),
        ],
    )
    .unwrap()
}

fn jsonl_stream(fields: &[FieldSpec]) -> Vec<u8> {
    let mut writer =
        JsonlWriter::new(Vec::new(), &header(fields.to_vec()), fields.to_vec()).unwrap();
    writer.write_batch(&rows(fields)).unwrap();
    writer.finish().unwrap().0
}

fn parquet_file(fields: &[FieldSpec], zstd_level: Option<i32>) -> Vec<u8> {
    let batch = rows(fields);
    let mut writer = ParquetWriter::new(
        Vec::new(),
        &header(fields.to_vec()),
        fields,
        batch.schema(),
        zstd_level,
    )
    .unwrap();
    writer.write_batch(&batch).unwrap();
    writer.finish().unwrap()
}

fn rows_document() -> Vec<u8> {
    let rows: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"id": {i}, "v": [0.5, 1.0, 1.5, {i}.0], "t": "row {i}"}}"#))
        .collect();
    format!("{{\n  \"rows\": [\n    {}\n  ]\n}}\n", rows.join(",\n    ")).into_bytes()
}

/// Whether `damaged` still says what `input` says: only its final newline
/// lost, or only the case of the trailer's hex sha256 changed.
fn same_stream(input: &[u8], damaged: &[u8]) -> bool {
    let trim = |b: &[u8]| b.strip_suffix(b"\n").unwrap_or(b).to_vec();
    let (input, damaged) = (trim(input), trim(damaged));
    let last_line = input.iter().rposition(|b| *b == b'\n').unwrap_or(0);
    input.len() == damaged.len()
        && input[..last_line] == damaged[..last_line]
        && input[last_line..].eq_ignore_ascii_case(&damaged[last_line..])
}

/// Reads `input` to its end as the tools do: `Err` at the first problem.
fn read_all(input: Vec<u8>, fields: &[FieldSpec], spool: &Spool) -> Result<u64, String> {
    let decoder =
        Decoder::open_bytes(Bytes::from(input), "damaged", spool).map_err(|e| e.to_string())?;
    let mut batches = decoder.batches(fields, &[], 7).map_err(|e| e.to_string())?;
    for batch in batches.by_ref() {
        batch.map_err(|e| e.to_string())?;
    }
    batches.finish().map_err(|e| e.to_string())
}

/// Damages `input` ROUNDS times; returns how many damaged copies were read
/// without an error. Fails the test if a reader panics, or an error does
/// not name the input.
fn survive(kind: &str, input: &[u8], fields: &[FieldSpec], seed: u64) -> usize {
    let spool = Spool::default();
    let rows = read_all(input.to_vec(), fields, &spool)
        .unwrap_or_else(|e| panic!("{kind}: the undamaged input fails: {e}"));
    assert!(rows > 0, "{kind}: no rows");
    let mut damage = Damage(seed);
    let mut accepted = 0;
    for round in 0..ROUNDS {
        let damaged = damage.apply(input);
        let same = same_stream(input, &damaged);
        let (fields, spool) = (fields.to_vec(), spool.clone());
        match std::panic::catch_unwind(move || read_all(damaged, &fields, &spool)) {
            Err(_) => panic!("{kind}: a reader panicked on damaged copy {round} (seed {seed:#x})"),
            Ok(Ok(_)) if same => {}
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(message)) => assert!(
                message.contains("damaged"),
                "{kind}: the error does not name the input: {message}"
            ),
        }
    }
    accepted
}

#[test]
fn a_damaged_headered_stream_is_always_refused() {
    let fields = fields();
    let stream = jsonl_stream(&fields);
    assert_eq!(
        survive("JSONL stream", &stream, &fields, 0x9e37_79b9_7f4a_7c15),
        0
    );
    let framed = zstd::encode_all(&stream[..], 3).unwrap();
    assert_eq!(
        survive("zstd JSONL stream", &framed, &fields, 0x2545_f491_4f6c_dd1d),
        0
    );
}

#[test]
fn damaged_parquet_and_rows_documents_never_panic_a_reader() {
    let fields = fields();
    // Parquet without page checksums can decode a flipped value bit: in a
    // set the part's sha256 catches that; here the rule is no panic.
    survive(
        "Parquet",
        &parquet_file(&fields, None),
        &fields,
        0x1234_5678_9abc_def1,
    );
    survive(
        "Parquet, zstd inside",
        &parquet_file(&fields, Some(3)),
        &fields,
        0x0f0f_1234_5555_aaaa,
    );
    survive(
        "rows document",
        &rows_document(),
        &fields,
        0x7777_3333_1111_9999,
    );
}
