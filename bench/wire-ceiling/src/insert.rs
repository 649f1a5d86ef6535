//! The insert ceiling: the insert requests a load of PARQUET sends (BATCH_ROWS
//! rows each, every column of the file as one `FieldData`), all encoded
//! before the clock starts, then sent as they are on N connections with
//! IN_FLIGHT requests outstanding on each. Every answer's status and insert
//! count is checked. What no loader can beat on this server and machine.
//!
//! Columns map by Arrow type: int64 → Int64, utf8 → VarChar, list<float32>
//! (or fixed_size_list<float32>) → FloatVector; the column name is the field
//! name (milvus-dump's Parquet layout for INT64 / VARCHAR / FLOAT_VECTOR
//! fields). Prints one JSON line; the clock covers sending only.
//!
//! Defaults: 5,000 rows a request, 2 in flight per connection, so that one
//! request travels while the server handles the one before. (A small sweep,
//! 40,000 rows on Milvus 2.3.5, noisy: 2 in flight on one connection was the
//! fastest of 1, 2 and 4 in two rounds of three.) The whole file is held in
//! memory, encoded: about 3.3 KB a row for the benchmark's data.

use std::fs::File;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType as ArrowType, Float32Type, Int64Type};
use bytes::Bytes;
use milvus_wire::proto::milvus::{InsertRequest, MutationResult};
use milvus_wire::proto::schema::{
    field_data, scalar_field, vector_field, DataType, FieldData, FloatArray, LongArray,
    ScalarField, StringArray, VectorField,
};
use milvus_wire::{ConnectOptions, Milvus};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use prost::Message;
use tonic::transport::{Channel, Endpoint};

use crate::codec::RawCodec;

/// One pre-encoded `InsertRequest` and the rows it carries.
struct Encoded {
    bytes: Bytes,
    rows: u32,
}

fn scalar(name: &str, data_type: DataType, data: scalar_field::Data) -> FieldData {
    FieldData {
        r#type: data_type as i32,
        field_name: name.into(),
        field: Some(field_data::Field::Scalars(ScalarField {
            data: Some(data),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn float_vector(name: &str, dim: usize, data: Vec<f32>) -> FieldData {
    FieldData {
        r#type: DataType::FloatVector as i32,
        field_name: name.into(),
        field: Some(field_data::Field::Vectors(VectorField {
            dim: dim as i64,
            data: Some(vector_field::Data::FloatVector(FloatArray { data })),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// One Arrow column as the `FieldData` of an insert.
fn field_data(name: &str, column: &ArrayRef) -> anyhow::Result<FieldData> {
    ensure!(column.null_count() == 0, "column {name} has nulls");
    Ok(match column.data_type() {
        ArrowType::Int64 => {
            let ids = column.as_primitive::<Int64Type>().values().to_vec();
            scalar(
                name,
                DataType::Int64,
                scalar_field::Data::LongData(LongArray { data: ids }),
            )
        }
        ArrowType::Utf8 => {
            let texts = column
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap_or_default().to_owned())
                .collect();
            scalar(
                name,
                DataType::VarChar,
                scalar_field::Data::StringData(StringArray { data: texts }),
            )
        }
        ArrowType::List(item) if item.data_type() == &ArrowType::Float32 => {
            let list = column.as_list::<i32>();
            let offsets = list.value_offsets();
            let (first, last) = (offsets[0] as usize, offsets[list.len()] as usize);
            let dim = (last - first) / list.len().max(1);
            ensure!(
                offsets.windows(2).all(|w| (w[1] - w[0]) as usize == dim),
                "column {name}: vectors of different lengths"
            );
            let values = list.values().as_primitive::<Float32Type>().values();
            float_vector(name, dim, values[first..last].to_vec())
        }
        ArrowType::FixedSizeList(item, dim) if item.data_type() == &ArrowType::Float32 => {
            let list = column.as_fixed_size_list();
            let dim = *dim as usize;
            let from = list.offset() * dim;
            let values = list.values().as_primitive::<Float32Type>().values();
            float_vector(name, dim, values[from..from + list.len() * dim].to_vec())
        }
        other => bail!("column {name}: Arrow type {other} is not handled by this benchmark"),
    })
}

/// Reads PARQUET in batches of `batch_rows` and encodes one InsertRequest per batch.
fn encode_requests(
    parquet: &str,
    collection: &str,
    batch_rows: usize,
) -> anyhow::Result<Vec<Encoded>> {
    let file = File::open(parquet).with_context(|| format!("cannot open {parquet}"))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?
        .with_batch_size(batch_rows)
        .build()?;
    let mut requests = Vec::new();
    for batch in reader {
        let batch = batch?;
        let schema = batch.schema();
        let fields_data = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(field, column)| field_data(field.name(), column))
            .collect::<anyhow::Result<_>>()?;
        let request = InsertRequest {
            collection_name: collection.into(),
            fields_data,
            num_rows: batch.num_rows() as u32,
            ..Default::default()
        };
        requests.push(Encoded {
            bytes: request.encode_to_vec().into(),
            rows: request.num_rows,
        });
    }
    ensure!(!requests.is_empty(), "{parquet} has no rows");
    Ok(requests)
}

/// Sends requests from the shared queue on `channel`, one at a time, until
/// it is empty. Returns the rows inserted.
async fn send(
    channel: Channel,
    requests: Arc<Vec<Encoded>>,
    next: Arc<AtomicUsize>,
) -> anyhow::Result<u64> {
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_encoding_message_size(512 << 20)
        .max_decoding_message_size(512 << 20);
    let path = http::uri::PathAndQuery::from_static("/milvus.proto.milvus.MilvusService/Insert");
    let mut rows = 0u64;
    while let Some(request) = requests.get(next.fetch_add(1, Ordering::Relaxed)) {
        grpc.ready().await?;
        let answer = grpc
            .unary(
                tonic::Request::new(request.bytes.clone()),
                path.clone(),
                RawCodec::<Bytes, MutationResult>::default(),
            )
            .await?
            .into_inner();
        let status = answer.status.unwrap_or_default();
        #[allow(deprecated)]
        let error_code = status.error_code;
        ensure!(
            status.code == 0 && error_code == 0,
            "insert failed: code {} ({error_code}): {}",
            status.code,
            status.reason
        );
        ensure!(
            answer.insert_cnt == i64::from(request.rows),
            "insert of {} rows reported {} inserted",
            request.rows,
            answer.insert_cnt
        );
        rows += u64::from(request.rows);
    }
    Ok(rows)
}

/// `wire-ceiling insert URI COLLECTION PARQUET CONNECTIONS [BATCH_ROWS [IN_FLIGHT]]`
pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let usage =
        "usage: wire-ceiling insert URI COLLECTION PARQUET CONNECTIONS [BATCH_ROWS [IN_FLIGHT]]";
    let [uri, collection, parquet, connections, rest @ ..] = args else {
        bail!(usage);
    };
    let connections: usize = connections.parse().context(usage)?;
    let batch_rows: usize = rest
        .first()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5_000);
    let in_flight: usize = rest.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2);
    ensure!(
        connections > 0 && batch_rows > 0 && in_flight > 0,
        "{usage}: counts must be positive"
    );

    // Everything before the clock: the collection exists, every request is
    // encoded, every connection is open.
    Milvus::connect(&ConnectOptions {
        uri: uri.clone(),
        ..ConnectOptions::default()
    })
    .await?
    .describe_collection(collection)
    .await?;
    let requests = {
        let (parquet, collection) = (parquet.clone(), collection.clone());
        tokio::task::spawn_blocking(move || encode_requests(&parquet, &collection, batch_rows))
            .await??
    };
    let request_bytes: usize = requests.iter().map(|r| r.bytes.len()).sum();
    let total_rows: u64 = requests.iter().map(|r| u64::from(r.rows)).sum();
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        let channel = Endpoint::from_shared(uri.clone())?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10))
            .connect()
            .await?;
        channels.push(channel);
    }
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));

    let started = Instant::now();
    // Slot 0 of every connection first: the first requests go out on
    // different connections rather than sharing one connection's window.
    let tasks: Vec<_> = (0..in_flight)
        .flat_map(|_| channels.iter())
        .map(|channel| tokio::spawn(send(channel.clone(), requests.clone(), next.clone())))
        .collect();
    let mut rows = 0;
    for task in tasks {
        rows += task.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    ensure!(rows == total_rows, "sent {rows} rows of {total_rows}");
    println!(
        "{}",
        serde_json::json!({
            "mode": "insert", "conns": connections, "in_flight": in_flight,
            "batch_rows": batch_rows, "requests": requests.len(), "request_bytes": request_bytes,
            "rows": rows, "seconds": secs, "rows_per_s": rows as f64 / secs,
        })
    );
    Ok(())
}
