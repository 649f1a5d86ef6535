//! `--against`: the backup compared with a live collection — the row count,
//! and sampled rows fetched by primary key and compared field by field.
//! Values are compared in the stream's own JSON form (shortest round-trip
//! floats, NaN and infinities spelled out, JSON fields parsed), so equal
//! means bit-exact and key order inside JSON values does not matter.

use std::collections::HashMap;

use arrow::record_batch::RecordBatch;
use milvus_model::Pk;
use milvus_wire::proto::common::ConsistencyLevel;
use milvus_wire::proto::milvus::QueryRequest;
use milvus_wire::{Freshness, Milvus};
use record_stream::header::{FieldSpec, Header};
use record_stream::jsonl::JsonlWriter;
use record_stream::layout::{arrow_schema, exported_fields};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::problem::{Kind, Problem};

/// Sampled rows fetched per query.
const KEYS_PER_QUERY: usize = 100;

/// What the comparison found.
#[derive(Clone, Debug, Serialize)]
pub struct LiveComparison {
    /// The live collection.
    pub collection: String,
    /// Its row count (with the backup's filter and partitions, if any).
    pub live_rows: u64,
    /// Rows in the backup.
    pub backup_rows: u64,
    /// Rows compared.
    pub sampled: usize,
    /// Sampled rows that differ or are missing.
    pub mismatched: usize,
}

/// Compares the backup (`header`, `backup_rows`, sampled rows) with the live
/// collection `live` on `client`.
pub async fn compare(
    client: &Milvus,
    live: &str,
    header: &Header,
    backup_rows: u64,
    sample: &[RecordBatch],
) -> (Option<LiveComparison>, Vec<Problem>) {
    let mut problems = Vec::new();
    let unreachable =
        |e: &dyn std::fmt::Display| Problem::new(Kind::Unreachable, live, e.to_string());
    let filter = header.scope.filter.clone().unwrap_or_default();
    let live_rows = match client
        .count(live, &filter, &header.scope.partitions, Freshness::Strong)
        .await
    {
        Ok(n) => n,
        Err(e) => return (None, vec![unreachable(&e)]),
    };
    if live_rows != backup_rows {
        problems.push(Problem::new(
            Kind::Mismatch,
            live,
            format!("the live collection has {live_rows} rows, the backup {backup_rows}"),
        ));
    }
    let fields = exported_fields(&header.collection, &header.scope.fields);
    let backup_rows_json = match rows_as_json(header, &fields, sample) {
        Ok(rows) => rows,
        Err(e) => return (None, vec![Problem::new(Kind::Corrupt, live, e)]),
    };
    let mut mismatched = 0;
    let pk = match fields.iter().find(|f| f.is_primary_key) {
        Some(pk) => *pk,
        None => {
            return (
                None,
                vec![Problem::new(Kind::Corrupt, live, "no primary key")],
            )
        }
    };
    for chunk in backup_rows_json.chunks(KEYS_PER_QUERY) {
        let keys: Vec<&Value> = chunk.iter().map(|row| &row[&pk.name]).collect();
        let live_rows_json = match fetch(client, live, header, &fields, pk, &keys).await {
            Ok(rows) => rows,
            Err(e) => {
                problems.push(unreachable(&e));
                break;
            }
        };
        let by_key: HashMap<String, &Map<String, Value>> = live_rows_json
            .iter()
            .map(|row| (row[&pk.name].to_string(), row))
            .collect();
        for row in chunk {
            let key = &row[&pk.name];
            let Some(live_row) = by_key.get(&key.to_string()) else {
                mismatched += 1;
                problems.push(Problem::new(
                    Kind::Mismatch,
                    live,
                    format!("primary key {key}: in the backup, not in the live collection"),
                ));
                continue;
            };
            if let Some(difference) = first_difference(row, live_row) {
                mismatched += 1;
                problems.push(Problem::new(
                    Kind::Mismatch,
                    live,
                    format!("primary key {key}: {difference}"),
                ));
            }
        }
    }
    let comparison = LiveComparison {
        collection: live.to_string(),
        live_rows,
        backup_rows,
        sampled: backup_rows_json.len(),
        mismatched,
    };
    (Some(comparison), problems)
}

/// The field where two rows first differ, described.
fn first_difference(backup: &Map<String, Value>, live: &Map<String, Value>) -> Option<String> {
    let mut names: Vec<&String> = backup.keys().chain(live.keys()).collect();
    names.sort();
    names.dedup();
    names.into_iter().find_map(|name| {
        let (a, b) = (backup.get(name), live.get(name));
        (a != b).then(|| {
            let show =
                |v: Option<&Value>| v.map_or("(absent)".to_string(), |v| truncate(v.to_string()));
            format!("field {name:?}: backup {} ≠ live {}", show(a), show(b))
        })
    })
}

fn truncate(mut text: String) -> String {
    if text.len() > 120 {
        let cut = (0..=120)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// Rows as the stream's JSON objects (the `$partition` column, if any, left out).
fn rows_as_json(
    header: &Header,
    fields: &[&FieldSpec],
    batches: &[RecordBatch],
) -> Result<Vec<Map<String, Value>>, String> {
    let owned: Vec<FieldSpec> = fields.iter().map(|f| (*f).clone()).collect();
    let mut writer = JsonlWriter::new(Vec::new(), header, owned).map_err(|e| e.to_string())?;
    let columns: Vec<usize> = (0..fields.len()).collect();
    for batch in batches {
        let batch = batch.project(&columns).map_err(|e| e.to_string())?;
        writer.write_batch(&batch).map_err(|e| e.to_string())?;
    }
    let (text, _) = writer.finish().map_err(|e| e.to_string())?;
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    // Header first, trailer last.
    lines[1..lines.len().saturating_sub(1)]
        .iter()
        .map(|line| serde_json::from_slice(line).map_err(|e| e.to_string()))
        .collect()
}

async fn fetch(
    client: &Milvus,
    live: &str,
    header: &Header,
    fields: &[&FieldSpec],
    pk: &FieldSpec,
    keys: &[&Value],
) -> Result<Vec<Map<String, Value>>, String> {
    let literals: Vec<String> = keys
        .iter()
        .filter_map(|key| Pk::from_json(key).map(|key| key.literal()))
        .collect();
    let request = QueryRequest {
        db_name: client.db().to_string(),
        collection_name: live.to_string(),
        expr: format!("{} in [{}]", pk.name, literals.join(", ")),
        output_fields: fields.iter().map(|f| f.column_name().to_string()).collect(),
        consistency_level: ConsistencyLevel::Strong as i32,
        use_default_consistency: false,
        ..Default::default()
    };
    let results = client.query(request).await.map_err(|e| e.to_string())?;
    let schema = arrow_schema(fields).map_err(|e| e.to_string())?;
    let batch = record_stream::from_milvus::record_batch(fields, &schema, results.fields_data)
        .map_err(|e| e.to_string())?;
    rows_as_json(header, fields, &[batch])
}
