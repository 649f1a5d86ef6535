//! Arrow builders, one per field, fed values from their raw JSON text.

use arrow::array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    Int8Builder, NullBufferBuilder, StringBuilder, UInt8Builder,
};
use arrow::array::{ArrayRef, ListArray};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType as ArrowType, FieldRef};
use milvus_model::proto::schema::DataType;
use serde::de;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::header::FieldSpec;
use crate::json_text::{
    for_each_element, kind_of, parse_bool, parse_f32, parse_f64, parse_int, parse_str,
};
use crate::sparse;

// ---------------------------------------------------------------------------
// Columns.

/// How the elements of a JSON array are read into list items.
#[derive(Clone, Copy)]
pub(super) enum Item {
    /// As the item type says.
    Plain,
    /// Numbers stored as little-endian f16 bytes.
    F16,
    /// Numbers stored as little-endian bf16 bytes.
    BF16,
}

/// Values of one Arrow type: a scalar column's, or a list column's items.
pub(super) enum Values {
    Bool(BooleanBuilder),
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    U8(UInt8Builder),
    Str(StringBuilder),
}

impl Values {
    pub(super) fn new(field: &str, arrow_type: &ArrowType) -> Result<Self> {
        Ok(match arrow_type {
            ArrowType::Boolean => Values::Bool(BooleanBuilder::new()),
            ArrowType::Int8 => Values::I8(Int8Builder::new()),
            ArrowType::Int16 => Values::I16(Int16Builder::new()),
            ArrowType::Int32 => Values::I32(Int32Builder::new()),
            ArrowType::Int64 => Values::I64(Int64Builder::new()),
            ArrowType::Float32 => Values::F32(Float32Builder::new()),
            ArrowType::Float64 => Values::F64(Float64Builder::new()),
            ArrowType::UInt8 => Values::U8(UInt8Builder::new()),
            ArrowType::Utf8 => Values::Str(StringBuilder::new()),
            other => {
                return Err(Error::field(
                    field,
                    format!("cannot read Arrow type {other} from JSON"),
                ))
            }
        })
    }

    pub(super) fn len(&self) -> usize {
        use arrow::array::ArrayBuilder as _;
        match self {
            Values::Bool(b) => b.len(),
            Values::I8(b) => b.len(),
            Values::I16(b) => b.len(),
            Values::I32(b) => b.len(),
            Values::I64(b) => b.len(),
            Values::F32(b) => b.len(),
            Values::F64(b) => b.len(),
            Values::U8(b) => b.len(),
            Values::Str(b) => b.len(),
        }
    }

    pub(super) fn append_null(&mut self) {
        match self {
            Values::Bool(b) => b.append_null(),
            Values::I8(b) => b.append_null(),
            Values::I16(b) => b.append_null(),
            Values::I32(b) => b.append_null(),
            Values::I64(b) => b.append_null(),
            Values::F32(b) => b.append_null(),
            Values::F64(b) => b.append_null(),
            Values::U8(b) => b.append_null(),
            Values::Str(b) => b.append_null(),
        }
    }

    /// Appends the (non-null) JSON value `raw`.
    pub(super) fn push(
        &mut self,
        raw: &str,
        item: Item,
        max_length: Option<usize>,
    ) -> std::result::Result<(), String> {
        match self {
            Values::Bool(b) => b.append_value(parse_bool(raw)?),
            Values::I8(b) => b.append_value(parse_int(raw, "Int8")?),
            Values::I16(b) => b.append_value(parse_int(raw, "Int16")?),
            Values::I32(b) => b.append_value(parse_int(raw, "Int32")?),
            Values::I64(b) => b.append_value(parse_int(raw, "Int64")?),
            Values::F32(b) => b.append_value(parse_f32(raw)?),
            Values::F64(b) => b.append_value(parse_f64(raw)?),
            Values::U8(b) => match item {
                Item::F16 | Item::BF16 => {
                    let v = parse_f32(raw)?;
                    let (bytes, infinite) = if matches!(item, Item::F16) {
                        let h = half::f16::from_f32(v);
                        (h.to_le_bytes(), h.is_infinite())
                    } else {
                        let h = half::bf16::from_f32(v);
                        (h.to_le_bytes(), h.is_infinite())
                    };
                    if infinite && v.is_finite() {
                        return Err(format!("{raw} is out of range for a half-precision float"));
                    }
                    b.append_slice(&bytes);
                }
                Item::Plain => b.append_value(parse_int(raw, "a byte (0..=255)")?),
            },
            Values::Str(b) => {
                let s = parse_str(raw)?;
                if let Some(max) = max_length.filter(|max| s.len() > *max) {
                    return Err(format!(
                        "string of {} bytes is longer than max_length {max}",
                        s.len()
                    ));
                }
                b.append_value(s);
            }
        }
        Ok(())
    }

    /// The values so far as an array; the builder starts over.
    pub(super) fn finish(&mut self) -> ArrayRef {
        use arrow::array::ArrayBuilder;
        match self {
            Values::Bool(b) => ArrayBuilder::finish(b),
            Values::I8(b) => ArrayBuilder::finish(b),
            Values::I16(b) => ArrayBuilder::finish(b),
            Values::I32(b) => ArrayBuilder::finish(b),
            Values::I64(b) => ArrayBuilder::finish(b),
            Values::F32(b) => ArrayBuilder::finish(b),
            Values::F64(b) => ArrayBuilder::finish(b),
            Values::U8(b) => ArrayBuilder::finish(b),
            Values::Str(b) => ArrayBuilder::finish(b),
        }
    }
}

/// How many elements a list value must have.
#[derive(Clone, Copy)]
pub(super) enum Len {
    /// Vectors: exactly this many (`unit` names them in errors).
    Exactly(usize, &'static str),
    /// Arrays: at most `max_capacity`, when given.
    AtMost(Option<usize>),
}

/// The state of a list column (vectors and arrays).
pub(super) struct ListColumn {
    pub(super) item: Item,
    pub(super) len: Len,
    /// `max_length` of VarChar elements.
    pub(super) max_length: Option<usize>,
    pub(super) item_field: FieldRef,
    pub(super) offsets: Vec<i32>,
    pub(super) nulls: NullBufferBuilder,
    pub(super) values: Values,
}

impl ListColumn {
    pub(super) fn append_null(&mut self) {
        let end = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(end);
        self.nulls.append_null();
    }

    pub(super) fn append(&mut self, raw: &str) -> std::result::Result<(), String> {
        if !raw.starts_with('[') {
            return Err(match self.len {
                Len::Exactly(n, unit) => {
                    format!("expected an array of {n} {unit}, got {}", kind_of(raw))
                }
                Len::AtMost(_) => format!("expected an array, got {}", kind_of(raw)),
            });
        }
        let (values, item, max_length) = (&mut self.values, self.item, self.max_length);
        let count = for_each_element(raw, |element| values.push(element, item, max_length))?;
        match self.len {
            Len::Exactly(n, unit) if count != n => {
                return Err(format!("expected {n} {unit}, got {count}"));
            }
            Len::AtMost(Some(max)) if count > max => {
                return Err(format!(
                    "array of {count} elements is longer than max_capacity {max}"
                ));
            }
            _ => {}
        }
        let end = i32::try_from(self.values.len())
            .map_err(|_| "too many list values in one batch for 32-bit offsets".to_string())?;
        self.offsets.push(end);
        self.nulls.append_non_null();
        Ok(())
    }

    pub(super) fn finish(&mut self) -> Result<ArrayRef> {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        Ok(std::sync::Arc::new(ListArray::try_new(
            self.item_field.clone(),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            self.values.finish(),
            self.nulls.finish(),
        )?))
    }
}

/// How one column is decoded.
pub(super) enum Store {
    /// Bool, integers, floats, and text (VarChar, Geometry WKT, Timestamptz).
    Scalar(Values),
    /// JSON text.
    Json(StringBuilder),
    /// Canonical sparse-vector JSON text.
    Sparse(StringBuilder),
    /// The dynamic field: the row's other keys as one JSON object.
    Dynamic(StringBuilder),
    /// Vectors and arrays.
    List(Box<ListColumn>),
}

/// One output column.
pub(super) struct Column {
    pub(super) name: String,
    pub(super) nullable: bool,
    /// VarChar `max_length` (scalar text columns).
    pub(super) max_length: Option<usize>,
    /// For a non-nullable field with a default value: the default as JSON
    /// (or why it cannot be used), filled in for a missing or null value.
    pub(super) default: Option<std::result::Result<Box<RawValue>, String>>,
    pub(super) store: Store,
}

/// Reusable buffers for decoding a row.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) text: String,
    pub(super) pairs: Vec<(u32, f32)>,
}

/// A default value (`{"<kind>": value}`) as the JSON the column would read.
pub(super) fn default_json(
    value: &serde_json::Value,
) -> std::result::Result<Box<RawValue>, String> {
    let (kind, inner) = value
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| format!("unusable default value {value}"))?;
    match kind.as_str() {
        "bool_data" | "int_data" | "long_data" | "float_data" | "double_data" | "string_data" => {
            serde_json::value::to_raw_value(inner).map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "its default value {value} cannot be filled in here"
        )),
    }
}

impl Column {
    pub(super) fn new(field: &FieldSpec, arrow_field: &arrow::datatypes::Field) -> Result<Self> {
        let data_type = field.data_type;
        let name = &field.name;
        let max_length = field.max_length()?;
        let vector = |item: Item, per_row: usize, unit: &'static str| -> Result<Store> {
            list_column(field, arrow_field, item, Len::Exactly(per_row, unit), None)
        };
        let store = match data_type {
            _ if field.is_dynamic => Store::Dynamic(StringBuilder::new()),
            DataType::Json => Store::Json(StringBuilder::new()),
            DataType::SparseFloatVector => Store::Sparse(StringBuilder::new()),
            DataType::FloatVector => vector(Item::Plain, field.dim()?, "numbers")?,
            DataType::Float16Vector => vector(Item::F16, field.dim()?, "numbers")?,
            DataType::BFloat16Vector => vector(Item::BF16, field.dim()?, "numbers")?,
            DataType::Int8Vector => vector(Item::Plain, field.dim()?, "values")?,
            DataType::BinaryVector => {
                let dim = field.dim()?;
                if dim % 8 != 0 {
                    return Err(Error::field(
                        name,
                        format!("binary vector dim {dim} is not a multiple of 8"),
                    ));
                }
                vector(Item::Plain, dim / 8, "byte values")?
            }
            DataType::Array => list_column(
                field,
                arrow_field,
                Item::Plain,
                Len::AtMost(field.max_capacity()?),
                max_length,
            )?,
            _ => Store::Scalar(Values::new(name, arrow_field.data_type())?),
        };
        let default = match (&field.default_value, field.nullable) {
            // A nullable field stays null: Milvus fills its default.
            (Some(value), false) => Some(default_json(value)),
            _ => None,
        };
        Ok(Self {
            name: name.clone(),
            nullable: field.nullable,
            max_length,
            default,
            store,
        })
    }

    /// Appends the value of one row (`None`: the key is missing).
    pub(super) fn append(
        &mut self,
        value: Option<&RawValue>,
        scratch: &mut Scratch,
    ) -> std::result::Result<(), String> {
        let raw = value.map(RawValue::get).filter(|raw| *raw != "null");
        let raw = match raw {
            Some(raw) => raw,
            None if self.nullable => {
                self.append_null();
                return Ok(());
            }
            // JSON null is a value of a non-nullable JSON field.
            None if value.is_some() && matches!(self.store, Store::Json(_)) => "null",
            None => match &self.default {
                Some(Ok(default)) => {
                    return append_value(&mut self.store, self.max_length, default.get(), scratch)
                        .map_err(|e| format!("default value: {e}"));
                }
                Some(Err(why)) => return Err(format!("missing, and {why}")),
                None if value.is_some() => return Err("null, but the field is not nullable".into()),
                None => return Err("missing (the field is not nullable)".into()),
            },
        };
        append_value(&mut self.store, self.max_length, raw, scratch)
    }

    pub(super) fn append_null(&mut self) {
        match &mut self.store {
            Store::Scalar(values) => values.append_null(),
            Store::Json(b) | Store::Sparse(b) | Store::Dynamic(b) => b.append_null(),
            Store::List(list) => list.append_null(),
        }
    }

    pub(super) fn finish(&mut self) -> Result<ArrayRef> {
        match &mut self.store {
            Store::Scalar(values) => Ok(values.finish()),
            Store::Json(b) | Store::Sparse(b) | Store::Dynamic(b) => {
                Ok(arrow::array::ArrayBuilder::finish(b))
            }
            Store::List(list) => list.finish(),
        }
    }
}

/// Appends the (non-null) JSON value `raw` to a column.
pub(super) fn append_value(
    store: &mut Store,
    max_length: Option<usize>,
    raw: &str,
    scratch: &mut Scratch,
) -> std::result::Result<(), String> {
    match store {
        Store::Scalar(values) => values.push(raw, Item::Plain, max_length),
        Store::Json(b) => {
            if raw.starts_with('"') {
                // A string is JSON text (the writer's and Milvus's import convention).
                let text = parse_str(raw)?;
                serde_json::from_str::<de::IgnoredAny>(&text)
                    .map_err(|e| format!("a string that is not JSON text ({e})"))?;
                b.append_value(text);
            } else {
                b.append_value(raw);
            }
            Ok(())
        }
        Store::Sparse(b) => {
            sparse::parse(raw, &mut scratch.pairs)?;
            sparse::write_canonical(scratch.pairs.iter().copied(), &mut scratch.text);
            b.append_value(&scratch.text);
            Ok(())
        }
        Store::Dynamic(_) => Err("the dynamic field is not read by name".into()),
        Store::List(list) => list.append(raw),
    }
}

pub(super) fn list_column(
    field: &FieldSpec,
    arrow_field: &arrow::datatypes::Field,
    item: Item,
    len: Len,
    max_length: Option<usize>,
) -> Result<Store> {
    let ArrowType::List(item_field) = arrow_field.data_type() else {
        return Err(Error::field(
            &field.name,
            format!("expected a list type, got {}", arrow_field.data_type()),
        ));
    };
    Ok(Store::List(Box::new(ListColumn {
        item,
        len,
        max_length,
        item_field: item_field.clone(),
        offsets: vec![0],
        nulls: NullBufferBuilder::new(1024),
        values: Values::new(&field.name, item_field.data_type())?,
    })))
}
