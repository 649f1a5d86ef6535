//! JSONL: a header line, one line per row (Milvus's JSON-import row shape),
//! and a trailer line with the row count and a checksum.
//!
//! ```text
//! {"$milvus_dump":{...header...}}
//! {"id":1,"vec":[0.5,-1.25],"title":"...","dyn_key":"top-level dynamic field"}
//! {"$milvus_dump_end":{"rows":1,"sha256":"<sha256 of every byte above this line>"}}
//! ```
//!
//! Floats are written in shortest round-trip form, so they read back bit-exact;
//! JSON has no NaN or infinities, so those are the strings `"NaN"`,
//! `"Infinity"` and `"-Infinity"`. FLOAT16/BFLOAT16 vectors are written as
//! numbers (exact: every half value is an f32); binary vectors as byte values;
//! JSON, sparse vectors (`{"index": value}`) and dynamic keys as JSON. A JSON
//! field whose value is a JSON *string* is written as the text of that string
//! (`"\"abc\""`), because Milvus's JSON import parses string values as JSON text.

use std::io::Write;

use arrow::array::{
    Array, AsArray, BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
    Int8Array, ListArray, RecordBatch, StringArray,
};
use arrow::datatypes::{
    DataType as ArrowType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    UInt8Type,
};
use milvus_model::proto::schema::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hashing::HashingWriter;
use crate::header::{FieldSpec, Header, HEADER_KEY};

/// The key of the trailer line.
pub const TRAILER_KEY: &str = "$milvus_dump_end";

/// The trailer: proof that the stream is complete.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Trailer {
    /// Rows in the stream.
    pub rows: u64,
    /// sha256 (hex) of every byte before the trailer line.
    pub sha256: String,
}

/// Appends the shortest round-trip text of an f32 (non-finite as a JSON string).
pub fn write_f32(out: &mut String, v: f32) {
    if v.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(v));
    } else {
        out.push_str(non_finite(f64::from(v)));
    }
}

/// Appends the shortest round-trip text of an f64 (non-finite as a JSON string).
pub fn write_f64(out: &mut String, v: f64) {
    if v.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(v));
    } else {
        out.push_str(non_finite(v));
    }
}

fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "\"NaN\""
    } else if v > 0.0 {
        "\"Infinity\""
    } else {
        "\"-Infinity\""
    }
}

/// An f32 as a JSON value, with the same non-finite convention.
pub fn f32_json(v: f32) -> serde_json::Value {
    let mut s = String::new();
    write_f32(&mut s, v);
    serde_json::from_str(&s).unwrap_or(serde_json::Value::Null)
}

/// An f64 as a JSON value, with the same non-finite convention.
pub fn f64_json(v: f64) -> serde_json::Value {
    let mut s = String::new();
    write_f64(&mut s, v);
    serde_json::from_str(&s).unwrap_or(serde_json::Value::Null)
}

/// Appends `s` as a JSON string literal.
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// How one column is written.
enum Column<'a> {
    Bool(&'a BooleanArray),
    I8(&'a Int8Array),
    I16(&'a Int16Array),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    F32(&'a Float32Array),
    F64(&'a Float64Array),
    Text(&'a StringArray),
    /// Already JSON text (JSON fields, sparse vectors).
    Json(&'a StringArray),
    /// The dynamic field: its keys go to the top level of the row.
    Dynamic(&'a StringArray),
    /// Vectors and ARRAY fields.
    List(&'a ListArray, ListItems),
}

#[derive(Clone, Copy)]
enum ListItems {
    Plain,
    Float16,
    BFloat16,
}

impl<'a> Column<'a> {
    fn new(field: &FieldSpec, array: &'a dyn Array) -> Result<Self> {
        let data_type = field.data_type;
        let wrong = || {
            Error::field(
                &field.name,
                format!("unexpected Arrow type {}", array.data_type()),
            )
        };
        Ok(match array.data_type() {
            ArrowType::Boolean => Column::Bool(array.as_boolean()),
            ArrowType::Int8 => Column::I8(array.as_primitive::<Int8Type>()),
            ArrowType::Int16 => Column::I16(array.as_primitive::<Int16Type>()),
            ArrowType::Int32 => Column::I32(array.as_primitive::<Int32Type>()),
            ArrowType::Int64 => Column::I64(array.as_primitive::<Int64Type>()),
            ArrowType::Float32 => Column::F32(array.as_primitive::<Float32Type>()),
            ArrowType::Float64 => Column::F64(array.as_primitive::<Float64Type>()),
            ArrowType::Utf8 if field.is_dynamic => Column::Dynamic(array.as_string::<i32>()),
            ArrowType::Utf8
                if matches!(data_type, DataType::Json | DataType::SparseFloatVector) =>
            {
                Column::Json(array.as_string::<i32>())
            }
            ArrowType::Utf8 => Column::Text(array.as_string::<i32>()),
            ArrowType::List(_) => Column::List(
                array.as_list::<i32>(),
                match data_type {
                    DataType::Float16Vector => ListItems::Float16,
                    DataType::BFloat16Vector => ListItems::BFloat16,
                    _ => ListItems::Plain,
                },
            ),
            _ => return Err(wrong()),
        })
    }

    /// Appends the value at `row` (the dynamic column is handled by the caller).
    fn write(&self, out: &mut String, row: usize) {
        let is_null = match self {
            Column::Bool(a) => a.is_null(row),
            Column::I8(a) => a.is_null(row),
            Column::I16(a) => a.is_null(row),
            Column::I32(a) => a.is_null(row),
            Column::I64(a) => a.is_null(row),
            Column::F32(a) => a.is_null(row),
            Column::F64(a) => a.is_null(row),
            Column::Text(a) | Column::Json(a) | Column::Dynamic(a) => a.is_null(row),
            Column::List(a, _) => a.is_null(row),
        };
        if is_null {
            out.push_str("null");
            return;
        }
        let mut int = itoa::Buffer::new();
        match self {
            Column::Bool(a) => out.push_str(if a.value(row) { "true" } else { "false" }),
            Column::I8(a) => out.push_str(int.format(a.value(row))),
            Column::I16(a) => out.push_str(int.format(a.value(row))),
            Column::I32(a) => out.push_str(int.format(a.value(row))),
            Column::I64(a) => out.push_str(int.format(a.value(row))),
            Column::F32(a) => write_f32(out, a.value(row)),
            Column::F64(a) => write_f64(out, a.value(row)),
            Column::Text(a) => write_json_string(out, a.value(row)),
            Column::Json(a) | Column::Dynamic(a) => {
                let json = a.value(row);
                if json.trim_start().starts_with('"') {
                    // Milvus's JSON import reads a string as JSON text: a JSON
                    // string value goes as the text of it, so it reads back the same.
                    write_json_string(out, json);
                } else {
                    out.push_str(json);
                }
            }
            Column::List(a, items) => {
                let offsets = a.value_offsets();
                let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                write_list(out, a.values().as_ref(), start, end, *items);
            }
        }
    }
}

fn write_list(out: &mut String, values: &dyn Array, start: usize, end: usize, items: ListItems) {
    out.push('[');
    let mut int = itoa::Buffer::new();
    macro_rules! each {
        ($arr:expr, |$v:ident| $body:expr) => {
            for i in start..end {
                if i > start {
                    out.push(',');
                }
                let $v = $arr.value(i);
                $body;
            }
        };
    }
    match (values.data_type(), items) {
        (ArrowType::UInt8, ListItems::Float16 | ListItems::BFloat16) => {
            let bytes = values.as_primitive::<UInt8Type>().values();
            for (k, pair) in bytes[start..end].chunks_exact(2).enumerate() {
                if k > 0 {
                    out.push(',');
                }
                let bits = u16::from_le_bytes([pair[0], pair[1]]);
                let v = match items {
                    ListItems::Float16 => half::f16::from_bits(bits).to_f32(),
                    _ => half::bf16::from_bits(bits).to_f32(),
                };
                write_f32(out, v);
            }
        }
        (ArrowType::Float32, _) => {
            each!(values.as_primitive::<Float32Type>(), |v| write_f32(out, v))
        }
        (ArrowType::Float64, _) => {
            each!(values.as_primitive::<Float64Type>(), |v| write_f64(out, v))
        }
        (ArrowType::UInt8, _) => each!(values.as_primitive::<UInt8Type>(), |v| out
            .push_str(int.format(v))),
        (ArrowType::Int8, _) => each!(values.as_primitive::<Int8Type>(), |v| out
            .push_str(int.format(v))),
        (ArrowType::Int16, _) => each!(values.as_primitive::<Int16Type>(), |v| out
            .push_str(int.format(v))),
        (ArrowType::Int32, _) => each!(values.as_primitive::<Int32Type>(), |v| out
            .push_str(int.format(v))),
        (ArrowType::Int64, _) => each!(values.as_primitive::<Int64Type>(), |v| out
            .push_str(int.format(v))),
        (ArrowType::Boolean, _) => {
            each!(values.as_boolean(), |v| out.push_str(if v {
                "true"
            } else {
                "false"
            }))
        }
        (ArrowType::Utf8, _) => each!(values.as_string::<i32>(), |v| write_json_string(out, v)),
        _ => {}
    }
    out.push(']');
}

/// Writes a JSONL stream: [`JsonlWriter::new`] writes the header,
/// [`JsonlWriter::write_batch`] the rows, [`JsonlWriter::finish`] the trailer.
pub struct JsonlWriter<W: Write> {
    out: HashingWriter<W>,
    fields: Vec<FieldSpec>,
    rows: u64,
    line: String,
}

impl<W: Write> JsonlWriter<W> {
    /// Starts a stream of `fields` (the exported fields, in column order).
    pub fn new(out: W, header: &Header, fields: Vec<FieldSpec>) -> Result<Self> {
        let mut out = HashingWriter::new(out);
        let line = serde_json::json!({ HEADER_KEY: header });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
        Ok(Self {
            out,
            fields,
            rows: 0,
            line: String::with_capacity(1 << 16),
        })
    }

    /// Bytes written so far (uncompressed).
    pub fn bytes(&self) -> u64 {
        self.out.bytes()
    }

    /// Writes every row of `batch` (whose columns follow the writer's fields).
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let columns = self
            .fields
            .iter()
            .zip(batch.columns())
            .map(|(field, array)| Column::new(field, array.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let mut names = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            let mut name = String::new();
            write_json_string(&mut name, &field.name);
            name.push(':');
            names.push(name);
        }
        for row in 0..batch.num_rows() {
            let line = &mut self.line;
            line.clear();
            line.push('{');
            let mut first = true;
            for (column, name) in columns.iter().zip(&names) {
                if let Column::Dynamic(a) = column {
                    // Splice the object's members into the row.
                    let inner = a.value(row).trim();
                    let inner = inner
                        .strip_prefix('{')
                        .and_then(|s| s.strip_suffix('}'))
                        .unwrap_or("")
                        .trim();
                    if !inner.is_empty() {
                        if !first {
                            line.push(',');
                        }
                        line.push_str(inner);
                        first = false;
                    }
                    continue;
                }
                if !first {
                    line.push(',');
                }
                first = false;
                line.push_str(name);
                column.write(line, row);
            }
            line.push_str("}\n");
            self.out.write_all(line.as_bytes())?;
            // Keep the line buffer from growing without bound after one huge row.
            if line.capacity() > 16 << 20 {
                *line = String::with_capacity(1 << 16);
            }
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Writes the trailer and returns the inner writer and the trailer.
    pub fn finish(self) -> Result<(W, Trailer)> {
        let (mut out, _bytes, sha256) = self.out.finish();
        let trailer = Trailer {
            rows: self.rows,
            sha256,
        };
        serde_json::to_writer(&mut out, &serde_json::json!({ TRAILER_KEY: &trailer }))?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok((out, trailer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_and_non_finite_are_strings() {
        for v in [0.1f32, -0.0, 1e-45, f32::MAX, 3.4028235e38, 1.0 / 3.0] {
            let mut s = String::new();
            write_f32(&mut s, v);
            assert_eq!(s.parse::<f32>().unwrap().to_bits(), v.to_bits(), "{s}");
        }
        let mut s = String::new();
        write_f64(&mut s, f64::NAN);
        s.push(' ');
        write_f64(&mut s, f64::INFINITY);
        s.push(' ');
        write_f32(&mut s, f32::NEG_INFINITY);
        assert_eq!(s, r#""NaN" "Infinity" "-Infinity""#);
    }

    #[test]
    fn strings_are_escaped_as_json() {
        let mut s = String::new();
        write_json_string(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(
            serde_json::from_str::<String>(&s).unwrap(),
            "a\"b\\c\nd\u{1}é"
        );
    }
}
