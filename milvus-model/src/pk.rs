//! Primary keys: the dump's paging cursor, the order a backup's rows are
//! written (and verified) in, and the literal a filter names one by.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType as ArrowType, Int64Type};

use crate::expr;

/// A primary-key value (Milvus keys are INT64 or VARCHAR). VARCHAR keys
/// compare byte-wise, as Milvus compares them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pk {
    /// INT64 key.
    Int(i64),
    /// VARCHAR key.
    Str(String),
}

impl Pk {
    /// The key as a literal of a Milvus filter expression.
    pub fn literal(&self) -> String {
        match self {
            Pk::Int(v) => v.to_string(),
            Pk::Str(s) => expr::string_literal(s),
        }
    }

    /// `field > self` as a Milvus expression.
    pub fn after_expr(&self, field: &str) -> String {
        format!("{field} > {}", self.literal())
    }

    /// `field >= self` as a Milvus expression.
    pub fn from_expr(&self, field: &str) -> String {
        format!("{field} >= {}", self.literal())
    }

    /// `field <= self` as a Milvus expression.
    pub fn upto_expr(&self, field: &str) -> String {
        format!("{field} <= {}", self.literal())
    }

    /// A key from its JSON form ([`Pk::to_json`]).
    pub fn from_json(value: &serde_json::Value) -> Option<Pk> {
        match value {
            serde_json::Value::Number(n) => n.as_i64().map(Pk::Int),
            serde_json::Value::String(s) => Some(Pk::Str(s.clone())),
            _ => None,
        }
    }

    /// The key as a JSON value (for manifests and summaries).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Pk::Int(v) => serde_json::json!(v),
            Pk::Str(s) => serde_json::json!(s),
        }
    }
}

impl std::fmt::Display for Pk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pk::Int(i) => write!(f, "{i}"),
            Pk::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// The key at `row` of a primary-key column.
pub fn pk_at(column: &dyn Array, row: usize) -> Option<Pk> {
    match column.data_type() {
        ArrowType::Int64 => Some(Pk::Int(column.as_primitive::<Int64Type>().value(row))),
        ArrowType::Utf8 => Some(Pk::Str(column.as_string::<i32>().value(row).to_string())),
        _ => None,
    }
}

/// Whether the primary-key column is strictly ascending.
pub fn is_strictly_ascending(column: &dyn Array) -> bool {
    match column.data_type() {
        ArrowType::Int64 => column
            .as_primitive::<Int64Type>()
            .values()
            .windows(2)
            .all(|w| w[0] < w[1]),
        ArrowType::Utf8 => {
            let a = column.as_string::<i32>();
            (1..a.len()).all(|i| a.value(i - 1) < a.value(i))
        }
        _ => false,
    }
}

/// Sorts a batch by its primary-key column (`pk_index`), ascending.
pub fn sort_by_pk(batch: &RecordBatch, pk_index: usize) -> arrow::error::Result<RecordBatch> {
    let indices = arrow::compute::sort_to_indices(batch.column(pk_index), None, None)?;
    let columns = batch
        .columns()
        .iter()
        .map(|c| arrow::compute::take(c.as_ref(), &indices, None))
        .collect::<arrow::error::Result<Vec<_>>>()?;
    RecordBatch::try_new(batch.schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};

    #[test]
    fn cursor_expressions_escape_varchar_keys() {
        assert_eq!(Pk::Int(-5).after_expr("id"), "id > -5");
        assert_eq!(Pk::Str("a\"b".into()).after_expr("pk"), r#"pk > "a\"b""#);
        assert_eq!(Pk::Int(7).upto_expr("id"), "id <= 7");
        assert_eq!(Pk::Str("x".into()).from_expr("pk"), r#"pk >= "x""#);
    }

    #[test]
    fn ascending_checks() {
        assert!(is_strictly_ascending(&Int64Array::from(vec![1, 2, 5])));
        assert!(!is_strictly_ascending(&Int64Array::from(vec![1, 1])));
        assert!(is_strictly_ascending(&StringArray::from(vec![
            "", "a", "b"
        ])));
        assert!(!is_strictly_ascending(&StringArray::from(vec!["b", "a"])));
    }
}
