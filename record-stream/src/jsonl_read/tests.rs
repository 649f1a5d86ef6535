use std::sync::Arc;

use arrow::array::{
    Array, BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array,
    PrimitiveArray, StringArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{
    ArrowPrimitiveType, Field, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    UInt8Type,
};

use super::*;
use crate::header::DYNAMIC_FIELD;
use crate::json_text::{parse_f32, parse_f64};
use crate::jsonl::write_f32;
use crate::jsonl::{write_f64, JsonlWriter};
use crate::test_support::{field, header};
use arrow::array::{ArrayRef, ListArray};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};

fn array(name: &str, element: &str, params: &[(&str, &str)]) -> FieldSpec {
    FieldSpec {
        element_type: milvus_model::proto::schema::DataType::from_str_name(element),
        ..field(name, "Array", params)
    }
}

fn nullable(f: FieldSpec) -> FieldSpec {
    FieldSpec {
        nullable: true,
        ..f
    }
}

/// A list column with non-nullable items, as the layout has it.
fn list_from(values: ArrayRef, lens: &[Option<usize>]) -> ArrayRef {
    let mut offsets = vec![0i32];
    for len in lens {
        offsets.push(offsets[offsets.len() - 1] + len.unwrap_or(0) as i32);
    }
    let nulls = lens
        .iter()
        .any(Option::is_none)
        .then(|| NullBuffer::from(lens.iter().map(Option::is_some).collect::<Vec<_>>()));
    Arc::new(
        ListArray::try_new(
            Arc::new(Field::new("item", values.data_type().clone(), false)),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values,
            nulls,
        )
        .unwrap(),
    )
}

fn list<T: ArrowPrimitiveType>(rows: Vec<Option<Vec<T::Native>>>) -> ArrayRef {
    let lens: Vec<_> = rows.iter().map(|r| r.as_ref().map(Vec::len)).collect();
    let values: Vec<T::Native> = rows.into_iter().flatten().flatten().collect();
    list_from(
        Arc::new(PrimitiveArray::<T>::from_iter_values(values)),
        &lens,
    )
}

fn half_bytes(rows: &[&[f32]], bf16: bool) -> ArrayRef {
    let rows = rows
        .iter()
        .map(|r| {
            Some(
                r.iter()
                    .flat_map(|v| {
                        if bf16 {
                            half::bf16::from_f32(*v).to_le_bytes()
                        } else {
                            half::f16::from_f32(*v).to_le_bytes()
                        }
                    })
                    .collect(),
            )
        })
        .collect();
    list::<UInt8Type>(rows)
}

fn sparse(pairs: &[(u32, f32)]) -> String {
    let bytes: Vec<u8> = pairs
        .iter()
        .flat_map(|(i, v)| [i.to_le_bytes(), v.to_le_bytes()].concat())
        .collect();
    crate::from_milvus::sparse_json(&field("s", "SparseFloatVector", &[]), &bytes).unwrap()
}

fn all_types() -> Vec<FieldSpec> {
    let dynamic = FieldSpec {
        is_dynamic: true,
        ..field(DYNAMIC_FIELD, "JSON", &[])
    };
    vec![
        FieldSpec {
            is_primary_key: true,
            ..field("id", "Int64", &[])
        },
        field("b", "Bool", &[]),
        field("i8", "Int8", &[]),
        field("i16", "Int16", &[]),
        field("i32", "Int32", &[]),
        field("f", "Float", &[]),
        field("d", "Double", &[]),
        field("s", "VarChar", &[("max_length", "64")]),
        nullable(field("j", "JSON", &[])),
        array("a_bool", "Bool", &[("max_capacity", "4")]),
        array("a_i8", "Int8", &[("max_capacity", "4")]),
        array("a_i16", "Int16", &[("max_capacity", "4")]),
        array("a_i32", "Int32", &[("max_capacity", "4")]),
        array("a_i64", "Int64", &[("max_capacity", "4")]),
        array("a_f32", "Float", &[("max_capacity", "4")]),
        array("a_f64", "Double", &[("max_capacity", "4")]),
        array(
            "a_str",
            "VarChar",
            &[("max_capacity", "4"), ("max_length", "16")],
        ),
        field("fv", "FloatVector", &[("dim", "4")]),
        field("bv", "BinaryVector", &[("dim", "16")]),
        field("hv", "Float16Vector", &[("dim", "3")]),
        field("bfv", "BFloat16Vector", &[("dim", "3")]),
        field("i8v", "Int8Vector", &[("dim", "2")]),
        field("sv", "SparseFloatVector", &[]),
        field("g", "Geometry", &[]),
        field("t", "Timestamptz", &[]),
        nullable(field("n_i64", "Int64", &[])),
        nullable(field("n_s", "VarChar", &[("max_length", "8")])),
        nullable(field("n_fv", "FloatVector", &[("dim", "2")])),
        nullable(array("n_arr", "Int32", &[("max_capacity", "3")])),
        dynamic,
    ]
}

/// Four rows with edge values in every column of [`all_types`].
fn all_types_batch(fields: &[&FieldSpec]) -> RecordBatch {
    let nan = f32::NAN;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![i64::MIN, -1, 0, i64::MAX])),
        Arc::new(BooleanArray::from(vec![true, false, true, false])),
        Arc::new(Int8Array::from(vec![i8::MIN, -1, 0, i8::MAX])),
        Arc::new(Int16Array::from(vec![i16::MIN, -1, 0, i16::MAX])),
        Arc::new(Int32Array::from(vec![i32::MIN, -1, 0, i32::MAX])),
        Arc::new(Float32Array::from(vec![nan, f32::INFINITY, -0.0, 1e-45])),
        Arc::new(Float64Array::from(vec![
            f64::NEG_INFINITY,
            f64::NAN,
            -0.0,
            f64::MAX,
        ])),
        Arc::new(StringArray::from(vec![
            "",
            "héllo 🌍 ключ",
            "quote\" backslash\\ nl\n tab\t \u{1}",
            "x",
        ])),
        Arc::new(StringArray::from(vec![
            Some(r#"{"a":[1,2,{"b":null}],"c":"d\"e"}"#),
            Some(r#""just a string""#),
            None,
            Some("[1.5,true,\"x\"]"),
        ])),
        list_from(
            Arc::new(BooleanArray::from(vec![true, false, true])),
            &[Some(2), Some(0), Some(1), Some(0)],
        ),
        list::<Int8Type>(vec![
            Some(vec![-128, 127]),
            Some(vec![]),
            Some(vec![0]),
            Some(vec![1, 2, 3, 4]),
        ]),
        list::<Int16Type>(vec![
            Some(vec![i16::MIN]),
            Some(vec![]),
            Some(vec![0]),
            Some(vec![i16::MAX]),
        ]),
        list::<Int32Type>(vec![
            Some(vec![i32::MIN]),
            Some(vec![]),
            Some(vec![0]),
            Some(vec![i32::MAX]),
        ]),
        list::<Int64Type>(vec![
            Some(vec![i64::MIN]),
            Some(vec![]),
            Some(vec![0]),
            Some(vec![i64::MAX]),
        ]),
        list::<Float32Type>(vec![
            Some(vec![nan, -0.0]),
            Some(vec![]),
            Some(vec![f32::NEG_INFINITY]),
            Some(vec![0.1]),
        ]),
        list::<Float64Type>(vec![
            Some(vec![f64::NAN, -0.0]),
            Some(vec![]),
            Some(vec![f64::INFINITY]),
            Some(vec![0.1]),
        ]),
        list_from(
            Arc::new(StringArray::from(vec!["", "ü", "a\"b", "0123456789abcdef"])),
            &[Some(2), Some(0), Some(1), Some(1)],
        ),
        list::<Float32Type>(vec![
            Some(vec![nan, f32::INFINITY, f32::NEG_INFINITY, -0.0]),
            Some(vec![f32::MAX, f32::MIN_POSITIVE, 1e-45, -1.0]),
            Some(vec![0.1, 0.2, 0.3, 1.0 / 3.0]),
            Some(vec![0.0; 4]),
        ]),
        list::<UInt8Type>(vec![
            Some(vec![0, 255]),
            Some(vec![1, 2]),
            Some(vec![128, 64]),
            Some(vec![0, 0]),
        ]),
        half_bytes(
            &[
                &[0.5, -0.0, 65504.0],
                &[f32::INFINITY, f32::NEG_INFINITY, 1.0],
                &[5.96e-8, 0.1, -2.0],
                &[0.0, 0.0, 0.0],
            ],
            false,
        ),
        half_bytes(
            &[
                &[0.5, -0.0, 3.0e38],
                &[f32::INFINITY, f32::NEG_INFINITY, 1.0],
                &[1e-40, 0.1, -2.0],
                &[0.0, 0.0, 0.0],
            ],
            true,
        ),
        list::<Int8Type>(vec![
            Some(vec![-128, 127]),
            Some(vec![0, 0]),
            Some(vec![1, -1]),
            Some(vec![5, 6]),
        ]),
        Arc::new(StringArray::from(vec![
            sparse(&[(1, 0.5), (7, -2.25), (u32::MAX - 1, 1e-7)]),
            sparse(&[]),
            sparse(&[(0, f32::MAX)]),
            sparse(&[(3, 0.1)]),
        ])),
        Arc::new(StringArray::from(vec![
            "POINT (1 2)",
            "LINESTRING (0 0, 1 1)",
            "",
            "POLYGON ((0 0, 1 0, 1 1, 0 0))",
        ])),
        Arc::new(StringArray::from(vec![
            "2025-01-01T12:34:56.123456Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59+08:00",
            "",
        ])),
        Arc::new(Int64Array::from(vec![Some(5), None, Some(-5), None])),
        Arc::new(StringArray::from(vec![None, Some(""), Some("ok"), None])),
        list::<Float32Type>(vec![
            None,
            Some(vec![1.0, 2.0]),
            None,
            Some(vec![-0.0, nan]),
        ]),
        list::<Int32Type>(vec![Some(vec![1, 2, 3]), None, Some(vec![]), None]),
        Arc::new(StringArray::from(vec![
            r#"{"k":1,"str":"x","arr":[1,{"z":null}],"o":{"a":null},"ключ":true}"#,
            "{}",
            r#"{"nil":null,"big":1.5e300,"e":""}"#,
            r#"{"nested":{"deep":[[[]]]}}"#,
        ])),
    ];
    let schema = layout::arrow_schema(fields).unwrap();
    RecordBatch::try_new(schema, columns).unwrap()
}

fn write_stream(header: &Header, fields: &[&FieldSpec], batches: &[RecordBatch]) -> Vec<u8> {
    let owned = fields.iter().map(|f| (*f).clone()).collect();
    let mut writer = JsonlWriter::new(Vec::new(), header, owned).unwrap();
    for batch in batches {
        writer.write_batch(batch).unwrap();
    }
    writer.finish().unwrap().0
}

fn read_all(
    bytes: &[u8],
    fields: &[&FieldSpec],
    ignored: &[&str],
    max_rows: usize,
) -> Result<(Option<Header>, Vec<RecordBatch>, Option<Trailer>)> {
    let (header, start) = JsonlReader::open(bytes, "test.jsonl")?;
    let mut reader = start.with_fields(fields, ignored)?;
    let mut batches = vec![];
    while let Some(batch) = reader.next_batch(max_rows)? {
        batches.push(batch);
    }
    Ok((header, batches, reader.trailer().cloned()))
}

/// A headerless stream of `lines` read with `fields`: the error's text.
fn read_error(lines: &str, fields: &[FieldSpec]) -> String {
    let fields: Vec<&FieldSpec> = fields.iter().collect();
    match read_all(lines.as_bytes(), &fields, &[], 100) {
        Ok(_) => panic!("expected an error reading {lines}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_type_round_trips_through_the_writer() {
    let specs = all_types();
    let fields: Vec<&FieldSpec> = specs.iter().collect();
    let header = header(specs.clone());
    let batch = all_types_batch(&fields);
    let bytes = write_stream(&header, &fields, &[batch.clone(), batch.clone()]);

    let (read_header, batches, trailer) = read_all(&bytes, &fields, &[], 8192).unwrap();
    assert_eq!(read_header.as_ref(), Some(&header));
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].num_rows(), 8);
    assert_eq!(batches[0].slice(0, 4), batch);
    assert_eq!(batches[0].slice(4, 4), batch);
    assert_eq!(trailer.unwrap().rows, 8);

    // Small batches: cut at max_rows, same rows.
    let (_, batches, _) = read_all(&bytes, &fields, &[], 3).unwrap();
    let sizes: Vec<_> = batches.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(sizes, [3, 3, 2]);
    assert_eq!(batches[0], batch.slice(0, 3));
    assert_eq!(batches[1].slice(0, 1), batch.slice(3, 1));

    // The written text is stable: writing what was read gives the same bytes.
    let again = write_stream(&header, &fields, &batches);
    assert_eq!(again, bytes);

    let verified = verify_stream(bytes.as_slice(), "test.jsonl").unwrap();
    assert_eq!(verified.header, header);
    assert_eq!(verified.rows, 8);
}

#[test]
fn batches_are_cut_by_input_bytes() {
    let specs = all_types();
    let fields: Vec<&FieldSpec> = specs.iter().collect();
    let batch = all_types_batch(&fields);
    let bytes = write_stream(&header(specs.clone()), &fields, &[batch]);
    let (_, start) = JsonlReader::open(bytes.as_slice(), "t").unwrap();
    let mut reader = start.with_fields(&fields, &[]).unwrap();
    reader.batch_bytes = 1;
    let mut rows = vec![];
    while let Some(b) = reader.next_batch(1000).unwrap() {
        rows.push(b.num_rows());
    }
    assert_eq!(rows, [1, 1, 1, 1]);
    assert_eq!(reader.rows_read(), 4);
    assert_eq!(reader.line(), 6);
    assert!(reader.require_trailer().is_ok());
}

/// xorshift64*: deterministic pseudo-random bits without a dependency.
struct Bits(u64);
impl Bits {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn random_floats_read_back_bit_exact() {
    let mut bits = Bits(0x9e37_79b9_7f4a_7c15);
    let mut text = String::new();
    let mut n = 0;
    while n < 200_000 {
        let v = f32::from_bits(bits.next() as u32);
        if !v.is_finite() {
            continue;
        }
        text.clear();
        write_f32(&mut text, v);
        assert_eq!(parse_f32(&text).unwrap().to_bits(), v.to_bits(), "{text}");
        n += 1;
    }
    let mut n = 0;
    while n < 200_000 {
        let v = f64::from_bits(bits.next());
        if !v.is_finite() {
            continue;
        }
        text.clear();
        write_f64(&mut text, v);
        assert_eq!(parse_f64(&text).unwrap().to_bits(), v.to_bits(), "{text}");
        n += 1;
    }
    for v in [-0.0f32, f32::MIN_POSITIVE, 1e-45, f32::MAX, f32::MIN] {
        text.clear();
        write_f32(&mut text, v);
        assert_eq!(parse_f32(&text).unwrap().to_bits(), v.to_bits());
    }
    assert_eq!(parse_f32("\"NaN\"").unwrap().to_bits(), f32::NAN.to_bits());
    assert_eq!(parse_f64("\"-Infinity\"").unwrap(), f64::NEG_INFINITY);
    assert!(parse_f32("1e39").unwrap_err().contains("out of range"));
    assert!(parse_f32("\"nan\"").unwrap_err().contains("only \"NaN\""));
}

#[test]
fn random_float_vectors_round_trip_through_the_stream() {
    let specs = vec![
        FieldSpec {
            is_primary_key: true,
            ..field("id", "Int64", &[])
        },
        field("v", "FloatVector", &[("dim", "1000")]),
        field("d", "Double", &[]),
    ];
    let fields: Vec<&FieldSpec> = specs.iter().collect();
    let mut bits = Bits(42);
    let rows = 100;
    let mut floats = Vec::with_capacity(rows * 1000);
    while floats.len() < rows * 1000 {
        let v = f32::from_bits(bits.next() as u32);
        if v.is_finite() {
            floats.push(v);
        }
    }
    let doubles: Vec<f64> = (0..rows)
        .map(|_| f64::from_bits(bits.next()))
        .map(|v| if v.is_finite() { v } else { -0.0 })
        .collect();
    let batch = RecordBatch::try_new(
        layout::arrow_schema(&fields).unwrap(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..rows as i64)),
            list_from(
                Arc::new(Float32Array::from(floats)),
                &vec![Some(1000); rows],
            ),
            Arc::new(Float64Array::from(doubles)),
        ],
    )
    .unwrap();
    let bytes = write_stream(
        &header(specs.clone()),
        &fields,
        std::slice::from_ref(&batch),
    );
    let (_, batches, _) = read_all(&bytes, &fields, &[], 1000).unwrap();
    assert_eq!(batches, [batch]);
}

fn small_fields() -> Vec<FieldSpec> {
    vec![
        FieldSpec {
            is_primary_key: true,
            ..field("id", "Int64", &[])
        },
        field("title", "VarChar", &[("max_length", "5")]),
        field("n", "Int8", &[]),
        field("vec", "FloatVector", &[("dim", "3")]),
    ]
}

#[test]
fn headerless_rows_are_read() {
    let specs = small_fields();
    let fields: Vec<&FieldSpec> = specs.iter().collect();
    let input = "{\"id\":1,\"title\":\"a\",\"n\":1,\"vec\":[1,2,3]}\n\n\
                     {\"vec\":[\"NaN\",0.5,-1e-3],\"n\":-2,\"title\":\"b\\u00e9\",\"id\":2}";
    let (header, start) = JsonlReader::open(input.as_bytes(), "t").unwrap();
    assert!(header.is_none());
    let mut reader = start.with_fields(&fields, &[]).unwrap();
    let batch = reader.next_batch(10).unwrap().unwrap();
    assert!(reader.next_batch(10).unwrap().is_none());
    assert_eq!(reader.rows_read(), 2);
    assert_eq!(reader.line(), 3);
    assert!(reader.trailer().is_none());
    assert_eq!(
        reader.require_trailer().unwrap_err().to_string(),
        "t: line 4: truncated: no trailer after line 3"
    );
    let titles = batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(titles.value(1), "bé");
    let vec = batch
        .column(3)
        .as_any()
        .downcast_ref::<ListArray>()
        .unwrap();
    let row: Vec<f32> = vec
        .value(1)
        .as_any()
        .downcast_ref::<Float32Array>()
        .unwrap()
        .values()
        .to_vec();
    assert!(row[0].is_nan());
    assert_eq!(&row[1..], [0.5, -1e-3]);

    // Empty input: no rows, no header.
    let (header, start) = JsonlReader::open(&b""[..], "t").unwrap();
    assert!(header.is_none());
    let mut reader = start.with_fields(&fields, &[]).unwrap();
    assert!(reader.next_batch(10).unwrap().is_none());
}

#[test]
fn errors_name_the_line_and_the_field() {
    let specs = small_fields();
    let ok = r#"{"id":1,"title":"a","n":1,"vec":[1,2,3]}"#;
    let cases = [
        (
            r#"{"id":2,"title":"a","n":1,"vec":[1,2]}"#,
            r#"test.jsonl: line 2: field "vec": expected 3 numbers, got 2"#,
        ),
        (
            r#"{"id":2,"title":"a","n":300,"vec":[1,2,3]}"#,
            r#"test.jsonl: line 2: field "n": 300 is out of range for Int8"#,
        ),
        (
            r#"{"id":2,"title":"a","n":1.5,"vec":[1,2,3]}"#,
            r#"test.jsonl: line 2: field "n": expected an integer (Int8), got 1.5"#,
        ),
        (
            r#"{"id":99999999999999999999,"title":"a","n":1,"vec":[1,2,3]}"#,
            r#"test.jsonl: line 2: field "id": 99999999999999999999 is out of range for Int64"#,
        ),
        (
            r#"{"id":2,"n":1,"vec":[1,2,3]}"#,
            r#"test.jsonl: line 2: field "title": missing (the field is not nullable)"#,
        ),
        (
            r#"{"id":2,"title":null,"n":1,"vec":[1,2,3]}"#,
            r#"test.jsonl: line 2: field "title": null, but the field is not nullable"#,
        ),
        (
            r#"{"id":2,"title":"toolong","n":1,"vec":[1,2,3]}"#,
            r#"test.jsonl: line 2: field "title": string of 7 bytes is longer than max_length 5"#,
        ),
        (
            r#"{"id":2,"title":"a","n":1,"vec":[1,2,3],"zzz":0}"#,
            r#"test.jsonl: line 2: unknown field "zzz" (and the collection has no dynamic field)"#,
        ),
        (
            r#"{"id":2,"id":3,"title":"a","n":1,"vec":[1,2,3]}"#,
            r#"test.jsonl: line 2: field "id" appears twice"#,
        ),
        (
            r#"{"id":2,"title":"a","n":1,"vec":[1,"x",3]}"#,
            r#"test.jsonl: line 2: field "vec": element 1: expected a number, got the string "x" (only "NaN", "Infinity" and "-Infinity" are allowed)"#,
        ),
        (
            r#"{"id":2,"title":"a","n":1,"vec":"1,2,3"}"#,
            r#"test.jsonl: line 2: field "vec": expected an array of 3 numbers, got a string"#,
        ),
        (
            r#"{"id":2,"title":"a","n":true,"vec":[1,2,3]}"#,
            r#"test.jsonl: line 2: field "n": expected an integer (Int8), got a boolean"#,
        ),
    ];
    for (line, expected) in cases {
        let input = format!("{ok}\n{line}\n");
        let fields: Vec<&FieldSpec> = specs.iter().collect();
        let err = read_all(input.as_bytes(), &fields, &[], 100).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
    let err = read_error(&format!("{ok}\n{{\"id\":2,\"title\":\"a\""), &specs);
    assert!(
        err.starts_with("test.jsonl: line 2: invalid JSON row: EOF"),
        "{err}"
    );
    let err = read_error("[1,2]", &specs);
    assert!(
        err.contains("line 1: invalid JSON row: invalid type"),
        "{err}"
    );
}

#[test]
fn reader_errors_name_the_source() {
    let specs = small_fields();
    let fields: Vec<&FieldSpec> = specs.iter().collect();
    let input = "{\"id\":1}\n";
    let (_, start) = JsonlReader::open(input.as_bytes(), "docs/part-00001.jsonl").unwrap();
    let mut reader = start.with_fields(&fields, &[]).unwrap();
    let err = reader.next_batch(10).unwrap_err().to_string();
    assert_eq!(
        err,
        r#"docs/part-00001.jsonl: line 1: field "title": missing (the field is not nullable)"#
    );
    // The reader does not go on after an error.
    assert!(reader.next_batch(10).is_err());
}

#[test]
fn sparse_vector_errors_name_the_field_and_line() {
    // In a row: the field and line are named.
    let specs = vec![
        field("id", "Int64", &[]),
        field("sv", "SparseFloatVector", &[]),
    ];
    let err = read_error("{\"id\":1,\"sv\":{\"1\":1,\"1\":2}}", &specs);
    assert_eq!(
        err,
        r#"test.jsonl: line 1: field "sv": sparse index 1 appears twice"#
    );
}

#[test]
fn json_fields_keep_text_and_validate_strings() {
    let specs = vec![
        field("id", "Int64", &[]),
        field("j", "JSON", &[]),
        nullable(field("nj", "JSON", &[])),
    ];
    let fields: Vec<&FieldSpec> = specs.iter().collect();
    let input = concat!(
        r#"{"id":1,"j":{"b":1, "a":[1.50, 1e400000]},"nj":null}"#,
        "\n",
        r#"{"id":2,"j":"{\"a\": 1}","nj":"\"s\""}"#,
        "\n",
        r#"{"id":3,"j":null}"#,
        "\n",
    );
    let (_, batches, _) =
        read_all(input.as_bytes(), &fields, &[], 10).unwrap_or_else(|e| panic!("{e}"));
    let j = batches[0]
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    // Verbatim text: key order, number text and spacing kept.
    assert_eq!(j.value(0), r#"{"b":1, "a":[1.50, 1e400000]}"#);
    assert_eq!(j.value(1), r#"{"a": 1}"#);
    assert_eq!(j.value(2), "null");
    let nj = batches[0]
        .column(2)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert!(nj.is_null(0));
    assert_eq!(nj.value(1), r#""s""#);
    assert!(nj.is_null(2));
    let err = read_error(r#"{"id":1,"j":"not json","nj":1}"#, &specs);
    assert!(
        err.starts_with(r#"test.jsonl: line 1: field "j": a string that is not JSON text"#),
        "{err}"
    );
    let err = read_error(r#"{"id":1,"nj":1}"#, &specs);
    assert_eq!(
        err,
        r#"test.jsonl: line 1: field "j": missing (the field is not nullable)"#
    );
}

#[test]
fn dynamic_keys_merge_ignored_fields_and_defaults() {
    let specs = [
        FieldSpec {
            is_primary_key: true,
            auto_id: true,
            ..field("id", "Int64", &[])
        },
        FieldSpec {
            default_value: Some(serde_json::json!({"long_data": 7})),
            ..field("count", "Int64", &[])
        },
        FieldSpec {
            default_value: Some(serde_json::json!({"string_data": "none"})),
            ..field("tag", "VarChar", &[("max_length", "8")])
        },
        FieldSpec {
            default_value: Some(serde_json::json!({"float_data": 0.1})),
            ..nullable(field("score", "Float", &[]))
        },
        FieldSpec {
            is_dynamic: true,
            ..field(DYNAMIC_FIELD, "JSON", &[])
        },
    ];
    // The auto-id key is left out by the caller (`--new-ids`).
    let fields: Vec<&FieldSpec> = specs[1..].iter().collect();
    let input = concat!(
        r#"{"id":1,"x":1,"count":3,"$meta":{"y":[2]},"z":"é"}"#,
        "\n",
        r#"{"id":2,"count":null,"tag":"t"}"#,
        "\n",
        r#"{"$meta":"{\"q\":{}}","score":0.5}"#,
        "\n",
    );
    let (_, batches, _) =
        read_all(input.as_bytes(), &fields, &["id"], 10).unwrap_or_else(|e| panic!("{e}"));
    let b = &batches[0];
    let count = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(count.values().to_vec(), [3, 7, 7]);
    let tag = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(
        tag.iter().collect::<Vec<_>>(),
        [Some("none"), Some("t"), Some("none")]
    );
    // Nullable with a default: stays null, Milvus fills the default.
    let score = b.column(2).as_any().downcast_ref::<Float32Array>().unwrap();
    assert_eq!(score.iter().collect::<Vec<_>>(), [None, None, Some(0.5)]);
    let meta = b.column(3).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(
        meta.iter().collect::<Vec<_>>(),
        [
            Some(r#"{"x":1,"y":[2],"z":"é"}"#),
            Some("{}"),
            Some(r#"{"q":{}}"#)
        ]
    );
    let err = read_error(r#"{"count":1,"x":1,"$meta":{"x":2}}"#, &specs[1..]);
    assert_eq!(
        err,
        r#"test.jsonl: line 1: dynamic field: key "x" appears twice"#
    );
    let err = read_error(r#"{"count":1,"$meta":[1]}"#, &specs[1..]);
    assert_eq!(
        err,
        r#"test.jsonl: line 1: dynamic field: "$meta": expected an object, got an array"#
    );
    // Without the ignore list, the auto-id key is a dynamic key.
    let (_, batches, _) = read_all(b"{\"id\":5}", &fields, &[], 10).unwrap();
    let meta = batches[0]
        .column(3)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(meta.value(0), r#"{"id":5}"#);
}

#[test]
fn arrays_and_vectors_are_checked() {
    let specs = vec![
        field("id", "Int64", &[]),
        array(
            "a",
            "VarChar",
            &[("max_capacity", "2"), ("max_length", "3")],
        ),
        field("bv", "BinaryVector", &[("dim", "16")]),
        field("i8v", "Int8Vector", &[("dim", "2")]),
        field("hv", "Float16Vector", &[("dim", "2")]),
    ];
    let ok = r#"{"id":1,"a":["x"],"bv":[1,2],"i8v":[1,2],"hv":[0.5,1]}"#;
    assert!(read_all(ok.as_bytes(), &specs.iter().collect::<Vec<_>>(), &[], 10).is_ok());
    let cases = [
        (
            r#""a":["x","y","z"]"#,
            r#"field "a": array of 3 elements is longer than max_capacity 2"#,
        ),
        (
            r#""a":["xxxx"]"#,
            r#"field "a": element 0: string of 4 bytes is longer than max_length 3"#,
        ),
        (
            r#""a":[null]"#,
            r#"field "a": element 0: expected a string, got null"#,
        ),
        (
            r#""bv":[1,256]"#,
            r#"field "bv": element 1: 256 is out of range for a byte (0..=255)"#,
        ),
        (
            r#""bv":[1]"#,
            r#"field "bv": expected 2 byte values, got 1"#,
        ),
        (
            r#""i8v":[1,-129]"#,
            r#"field "i8v": element 1: -129 is out of range for Int8"#,
        ),
        (
            r#""hv":[1,2,3]"#,
            r#"field "hv": expected 2 numbers, got 3"#,
        ),
        (
            r#""hv":[1,70000]"#,
            r#"field "hv": element 1: 70000 is out of range for a half-precision float"#,
        ),
    ];
    for (member, expected) in cases {
        let key = &member[..member.find(':').unwrap()];
        let mut row: serde_json::Map<String, serde_json::Value> = serde_json::from_str(ok).unwrap();
        let (k, v) = member.split_once(':').unwrap();
        assert_eq!(key, k);
        row.insert(
            serde_json::from_str(k).unwrap(),
            serde_json::from_str(v).unwrap(),
        );
        let line = serde_json::to_string(&row).unwrap();
        let err = read_error(&line, &specs);
        assert_eq!(err, format!("test.jsonl: line 1: {expected}"), "{line}");
    }
}

#[test]
fn trailer_is_checked_while_reading() {
    let specs = small_fields();
    let fields: Vec<&FieldSpec> = specs.iter().collect();
    let batch = RecordBatch::try_new(
        layout::arrow_schema(&fields).unwrap(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2])),
            Arc::new(StringArray::from(vec!["abc", "def"])),
            Arc::new(Int8Array::from(vec![1, 2])),
            list::<Float32Type>(vec![Some(vec![1.0, 2.0, 3.0]), Some(vec![4.0, 5.0, 6.0])]),
        ],
    )
    .unwrap();
    let bytes = write_stream(&header(specs.clone()), &fields, &[batch]);
    let text = String::from_utf8(bytes).unwrap();

    let flipped = text.replace("\"def\"", "\"deg\"");
    let err = read_all(flipped.as_bytes(), &fields, &[], 10)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("test.jsonl: line 4: checksum mismatch"),
        "{err}"
    );

    let extra = format!("{text}\n{text}");
    let err = read_all(extra.as_bytes(), &fields, &[], 10)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "test.jsonl: line 6: unexpected data after the trailer");

    let trailing_blank = format!("{text}\n  \n");
    assert!(read_all(trailing_blank.as_bytes(), &fields, &[], 10).is_ok());

    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, lines[0]);
    let err = read_all(lines.join("\n").as_bytes(), &fields, &[], 10)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("test.jsonl: line 3: a header line in the middle"),
        "{err}"
    );

    let newer = text.replacen("\"format_version\":1", "\"format_version\":2", 1);
    let err = match JsonlReader::open(newer.as_bytes(), "test.jsonl") {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a newer format was accepted"),
    };
    assert_eq!(
        err,
        "test.jsonl: line 1: header: format version 2 is not supported (this build reads 1..=1)"
    );
}

#[test]
fn verify_stream_finds_damage() {
    let specs = small_fields();
    let fields: Vec<&FieldSpec> = specs.iter().collect();
    let batch = RecordBatch::try_new(
        layout::arrow_schema(&fields).unwrap(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(StringArray::from(vec!["abc", "def", ""])),
            Arc::new(Int8Array::from(vec![1, 2, 3])),
            list::<Float32Type>(vec![
                Some(vec![1.0; 3]),
                Some(vec![2.0; 3]),
                Some(vec![3.0; 3]),
            ]),
        ],
    )
    .unwrap();
    let bytes = write_stream(&header(specs.clone()), &fields, &[batch]);
    let text = String::from_utf8(bytes).unwrap();
    let ok = verify_stream(text.as_bytes(), "v.jsonl").unwrap();
    assert_eq!(ok.rows, 3);
    assert_eq!(ok.sha256.len(), 64);

    let verify = |s: &str| {
        verify_stream(s.as_bytes(), "v.jsonl")
            .unwrap_err()
            .to_string()
    };
    let lines: Vec<&str> = text.lines().collect();

    // (a) Truncated: the trailer is gone.
    let truncated = lines[..4].join("\n") + "\n";
    assert_eq!(
        verify(&truncated),
        "v.jsonl: line 5: truncated: no trailer after line 4"
    );

    // (b) One byte flipped in a row.
    let mut flipped = text.clone().into_bytes();
    let at = text.find("def").unwrap();
    flipped[at] ^= 0x01;
    let err = verify(std::str::from_utf8(&flipped).unwrap());
    assert!(
        err.starts_with("v.jsonl: line 5: checksum mismatch: the trailer says sha256 "),
        "{err}"
    );

    // (c) Wrong count.
    let wrong = text.replace("\"rows\":3", "\"rows\":4");
    assert_eq!(
        verify(&wrong),
        "v.jsonl: line 5: row count mismatch: the trailer says 4 rows, the stream has 3"
    );
    let dropped = [lines[0], lines[1], lines[3], lines[4]].join("\n");
    assert!(verify(&dropped).contains("row count mismatch"));

    // No header; data after the trailer; empty input.
    assert_eq!(
        verify(&lines[1..].join("\n")),
        "v.jsonl: line 1: no header: the first line is not a {\"$milvus_dump\":...} line"
    );
    assert_eq!(
        verify(&format!("{text}{}\n", lines[1])),
        "v.jsonl: line 6: unexpected data after the trailer"
    );
    assert_eq!(
        verify(""),
        "v.jsonl: line 1: no header: the input has no lines"
    );
}

#[test]
fn first_line_is_classified() {
    let specs = small_fields();
    let h = header(specs);
    let line = serde_json::to_vec(&serde_json::json!({ HEADER_KEY: &h })).unwrap();
    match classify_first_line(&line, "x").unwrap() {
        FirstLine::Header(read) => assert_eq!(*read, h),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        classify_first_line(br#"{"id":1}"#, "x").unwrap(),
        FirstLine::Row
    ));
    assert!(matches!(
        classify_first_line(br#"{"$milvus_dump_end":{"rows":0,"sha256":"e3"}}"#, "x").unwrap(),
        FirstLine::Trailer(_)
    ));
    assert!(classify_first_line(b"nope", "x").is_err());
}
