//! Insert and upsert requests with vectors as raw bytes.
//!
//! The generated `FloatArray` encodes a packed float vector one element at a
//! time; a 768-dim batch of 5,000 rows is 3.8 million calls. `InsertBatch`
//! mirrors the fields of `InsertRequest` (and `UpsertRequest`, which uses the
//! same tags for them) with columns as [`PageField`], whose vectors are
//! little-endian byte blobs: one copy from an Arrow buffer, one write to the wire.

use bytes::Bytes;

use crate::proto::schema;
use milvus_model::query_page::{PageField, PageVectors, RawFloats};

/// The common part of `InsertRequest` and `UpsertRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InsertBatch {
    /// Database (empty: the connection's).
    #[prost(string, tag = "2")]
    pub db_name: String,
    /// Target collection.
    #[prost(string, tag = "3")]
    pub collection_name: String,
    /// Target partition (empty: `_default`, or by partition key).
    #[prost(string, tag = "4")]
    pub partition_name: String,
    /// One column per field.
    #[prost(message, repeated, tag = "5")]
    pub fields_data: Vec<PageField>,
    /// Rows in the batch.
    #[prost(uint32, tag = "7")]
    pub num_rows: u32,
}

impl InsertBatch {
    /// The batch as two of half the rows each, for a server that refused it
    /// as too large; `Err(self)` when it cannot be cut (one row, or a column
    /// of a kind this does not know).
    pub fn halves(mut self) -> Result<(InsertBatch, InsertBatch), InsertBatch> {
        let rows = self.num_rows as usize;
        if rows < 2 {
            return Err(self);
        }
        let at = rows / 2;
        let mut firsts = Vec::with_capacity(self.fields_data.len());
        let mut seconds = Vec::with_capacity(self.fields_data.len());
        let columns = std::mem::take(&mut self.fields_data);
        for column in &columns {
            match split_column(column, at) {
                Some((first, second)) => {
                    firsts.push(first);
                    seconds.push(second);
                }
                None => {
                    self.fields_data = columns;
                    return Err(self);
                }
            }
        }
        let second = InsertBatch {
            db_name: self.db_name.clone(),
            collection_name: self.collection_name.clone(),
            partition_name: self.partition_name.clone(),
            fields_data: seconds,
            num_rows: (rows - at) as u32,
        };
        let first = InsertBatch {
            fields_data: firsts,
            num_rows: at as u32,
            ..self
        };
        Ok((first, second))
    }
}

/// A column cut before row `at`. Only valid rows carry a value (nullable
/// fields), so the values are cut where the valid rows before `at` end.
fn split_column(column: &PageField, at: usize) -> Option<(PageField, PageField)> {
    let values_before = |valid: &[bool]| {
        if valid.is_empty() {
            at
        } else {
            valid[..at.min(valid.len())].iter().filter(|v| **v).count()
        }
    };
    let cut_valid = |valid: &[bool]| {
        let at = at.min(valid.len());
        (valid[..at].to_vec(), valid[at..].to_vec())
    };
    let values = values_before(&column.valid_data);
    let (valid_first, valid_second) = cut_valid(&column.valid_data);
    let shell = |valid_data: Vec<bool>| PageField {
        r#type: column.r#type,
        field_name: column.field_name.clone(),
        scalars: None,
        vectors: None,
        field_id: column.field_id,
        is_dynamic: column.is_dynamic,
        valid_data,
    };
    let (mut first, mut second) = (shell(valid_first), shell(valid_second));
    if let Some(scalars) = &column.scalars {
        let (a, b) = split_scalars(scalars, values)?;
        first.scalars = Some(a);
        second.scalars = Some(b);
    }
    if let Some(vectors) = &column.vectors {
        let values = if vectors.valid_data.is_empty() {
            values
        } else {
            values_before(&vectors.valid_data)
        };
        let (a, b) = split_vectors(vectors, values, cut_valid(&vectors.valid_data))?;
        first.vectors = Some(a);
        second.vectors = Some(b);
    }
    Some((first, second))
}

fn split_scalars(
    scalars: &schema::ScalarField,
    at: usize,
) -> Option<(schema::ScalarField, schema::ScalarField)> {
    use schema::scalar_field::Data as D;
    /// Each variant's `data` cut at `at` (the other fields copied).
    macro_rules! cut {
        ($data:expr, $variant:ident, $array:ident { $($other:ident),* }) => {{
            let values = &$data.data;
            if at > values.len() {
                return None;
            }
            (
                D::$variant(schema::$array { data: values[..at].to_vec(), $($other: $data.$other),* }),
                D::$variant(schema::$array { data: values[at..].to_vec(), $($other: $data.$other),* }),
            )
        }};
    }
    let (first, second) = match scalars.data.as_ref()? {
        D::BoolData(d) => cut!(d, BoolData, BoolArray {}),
        D::IntData(d) => cut!(d, IntData, IntArray {}),
        D::LongData(d) => cut!(d, LongData, LongArray {}),
        D::FloatData(d) => cut!(d, FloatData, FloatArray {}),
        D::DoubleData(d) => cut!(d, DoubleData, DoubleArray {}),
        D::StringData(d) => cut!(d, StringData, StringArray {}),
        D::BytesData(d) => cut!(d, BytesData, BytesArray {}),
        D::ArrayData(d) => cut!(d, ArrayData, ArrayArray { element_type }),
        D::JsonData(d) => cut!(d, JsonData, JsonArray {}),
        D::GeometryData(d) => cut!(d, GeometryData, GeometryArray {}),
        D::TimestamptzData(d) => cut!(d, TimestamptzData, TimestamptzArray {}),
        D::GeometryWktData(d) => cut!(d, GeometryWktData, GeometryWktArray {}),
        _ => return None,
    };
    let (valid_first, valid_second) = if scalars.valid_data.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let at = at.min(scalars.valid_data.len());
        (
            scalars.valid_data[..at].to_vec(),
            scalars.valid_data[at..].to_vec(),
        )
    };
    Some((
        schema::ScalarField {
            data: Some(first),
            valid_data: valid_first,
        },
        schema::ScalarField {
            data: Some(second),
            valid_data: valid_second,
        },
    ))
}

fn split_vectors(
    vectors: &PageVectors,
    at: usize,
    (valid_first, valid_second): (Vec<bool>, Vec<bool>),
) -> Option<(PageVectors, PageVectors)> {
    let shell = |valid_data| PageVectors {
        dim: vectors.dim,
        valid_data,
        ..Default::default()
    };
    let (mut first, mut second) = (shell(valid_first), shell(valid_second));
    // Dense vectors are fixed-size values packed back to back.
    let cut_bytes = |bytes: &Bytes, values: usize| -> Option<(Bytes, Bytes)> {
        let width = bytes.len().checked_div(values)?;
        let at = at.checked_mul(width).filter(|at| *at <= bytes.len())?;
        Some((bytes.slice(..at), bytes.slice(at..)))
    };
    let total = {
        let valid = vectors.valid_data.iter().filter(|v| **v).count();
        if vectors.valid_data.is_empty() {
            None
        } else {
            Some(valid)
        }
    };
    let dense_values =
        |bytes: &Bytes, value_bytes: usize| total.unwrap_or(bytes.len() / value_bytes.max(1));
    let dim = usize::try_from(vectors.dim).ok()?;
    if let Some(floats) = &vectors.float_vector {
        let (a, b) = cut_bytes(&floats.data, dense_values(&floats.data, dim * 4))?;
        first.float_vector = Some(RawFloats { data: a });
        second.float_vector = Some(RawFloats { data: b });
    }
    for (from, into_first, into_second, value_bytes) in [
        (
            &vectors.binary_vector,
            &mut first.binary_vector,
            &mut second.binary_vector,
            dim.div_ceil(8),
        ),
        (
            &vectors.float16_vector,
            &mut first.float16_vector,
            &mut second.float16_vector,
            dim * 2,
        ),
        (
            &vectors.bfloat16_vector,
            &mut first.bfloat16_vector,
            &mut second.bfloat16_vector,
            dim * 2,
        ),
        (
            &vectors.int8_vector,
            &mut first.int8_vector,
            &mut second.int8_vector,
            dim,
        ),
    ] {
        if let Some(bytes) = from {
            let (a, b) = cut_bytes(bytes, dense_values(bytes, value_bytes))?;
            *into_first = Some(a);
            *into_second = Some(b);
        }
    }
    if let Some(sparse) = &vectors.sparse_float_vector {
        if at > sparse.contents.len() {
            return None;
        }
        first.sparse_float_vector = Some(schema::SparseFloatArray {
            contents: sparse.contents[..at].to_vec(),
            dim: sparse.dim,
        });
        second.sparse_float_vector = Some(schema::SparseFloatArray {
            contents: sparse.contents[at..].to_vec(),
            dim: sparse.dim,
        });
    }
    Some((first, second))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::milvus::InsertRequest;
    use crate::proto::schema::{field_data::Field, vector_field::Data, FieldData, VectorField};
    use milvus_model::query_page::{PageVectors, RawFloats};
    use prost::Message as _;

    #[test]
    fn encodes_as_the_generated_insert_request() {
        let floats = [1.5f32, -0.0, f32::NAN, 3.25];
        let raw: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        let batch = InsertBatch {
            db_name: "d".into(),
            collection_name: "c".into(),
            partition_name: "p".into(),
            fields_data: vec![PageField {
                r#type: 101,
                field_name: "v".into(),
                vectors: Some(PageVectors {
                    dim: 2,
                    float_vector: Some(RawFloats { data: raw.into() }),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            num_rows: 2,
        };
        let decoded = InsertRequest::decode(batch.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded.collection_name, "c");
        assert_eq!(decoded.partition_name, "p");
        assert_eq!(decoded.num_rows, 2);
        let FieldData {
            field:
                Some(Field::Vectors(VectorField {
                    dim,
                    data: Some(Data::FloatVector(v)),
                    ..
                })),
            ..
        } = &decoded.fields_data[0]
        else {
            panic!("not a float vector: {decoded:?}");
        };
        assert_eq!(*dim, 2);
        let bits: Vec<u32> = v.data.iter().map(|f| f.to_bits()).collect();
        assert_eq!(bits, floats.iter().map(|f| f.to_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn halves_cut_every_column_where_its_rows_split() {
        use crate::proto::schema::{
            scalar_field, LongArray, ScalarField, SparseFloatArray, StringArray,
        };
        let floats: Vec<u8> = (0..10u8).flat_map(|i| f32::from(i).to_le_bytes()).collect();
        let batch = InsertBatch {
            collection_name: "c".into(),
            num_rows: 5,
            fields_data: vec![
                PageField {
                    field_name: "id".into(),
                    scalars: Some(ScalarField {
                        data: Some(scalar_field::Data::LongData(LongArray {
                            data: vec![1, 2, 3, 4, 5],
                        })),
                        valid_data: Vec::new(),
                    }),
                    ..Default::default()
                },
                // Nullable: rows 1 and 3 are null, only valid rows carry values.
                PageField {
                    field_name: "note".into(),
                    valid_data: vec![true, false, true, false, true],
                    scalars: Some(ScalarField {
                        data: Some(scalar_field::Data::StringData(StringArray {
                            data: vec!["a".into(), "c".into(), "e".into()],
                        })),
                        valid_data: Vec::new(),
                    }),
                    ..Default::default()
                },
                PageField {
                    field_name: "v".into(),
                    vectors: Some(PageVectors {
                        dim: 2,
                        float_vector: Some(RawFloats {
                            data: floats.into(),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                PageField {
                    field_name: "s".into(),
                    vectors: Some(PageVectors {
                        sparse_float_vector: Some(SparseFloatArray {
                            contents: (0..5u8).map(|i| vec![i; 8]).collect(),
                            dim: 9,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let (first, second) = batch.clone().halves().unwrap();
        assert_eq!((first.num_rows, second.num_rows), (2, 3));
        let longs = |b: &InsertBatch| match &b.fields_data[0].scalars.as_ref().unwrap().data {
            Some(scalar_field::Data::LongData(d)) => d.data.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!((longs(&first), longs(&second)), (vec![1, 2], vec![3, 4, 5]));
        let notes = |b: &InsertBatch| match &b.fields_data[1].scalars.as_ref().unwrap().data {
            Some(scalar_field::Data::StringData(d)) => {
                (d.data.clone(), b.fields_data[1].valid_data.clone())
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(notes(&first), (vec!["a".to_string()], vec![true, false]));
        assert_eq!(
            notes(&second),
            (
                vec!["c".to_string(), "e".to_string()],
                vec![true, false, true]
            )
        );
        let vectors = |b: &InsertBatch| {
            b.fields_data[2]
                .vectors
                .as_ref()
                .unwrap()
                .float_vector
                .as_ref()
                .unwrap()
                .data
                .len()
        };
        assert_eq!((vectors(&first), vectors(&second)), (2 * 8, 3 * 8));
        let sparse = |b: &InsertBatch| {
            b.fields_data[3]
                .vectors
                .as_ref()
                .unwrap()
                .sparse_float_vector
                .as_ref()
                .unwrap()
                .contents
                .clone()
        };
        assert_eq!(sparse(&first), vec![vec![0; 8], vec![1; 8]]);
        assert_eq!(sparse(&second).len(), 3);
        // Cut again down to single rows, which cannot be cut.
        let (one, _) = first.halves().unwrap();
        assert!(one.halves().is_err());
    }
}
