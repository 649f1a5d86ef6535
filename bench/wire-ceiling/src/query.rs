//! The read ceiling: the same primary-key page queries a dump sends
//! (`id >= a and id < b`, `iterator`, `reduce_stop_for_best`, 16,384 rows),
//! on N connections over contiguous key ranges, the answers' bytes discarded
//! without decoding.
//!
//! READS says at what freshness the pages read:
//! - `eventually` (the default): whatever the query node has, no wait;
//! - `snapshot`: what a dump sends. One timestamp from the server's oracle,
//!   then every page reads no older than it (Customized consistency), so the
//!   first pages wait once for the query nodes to catch up (a time tick,
//!   about 0.2 s on Milvus 2.3.5). A server without an oracle (Milvus Lite)
//!   reads as with `eventually`, as the dump does there.
//! - `caught-up`: as `snapshot`, but the clock starts after that one wait
//!   (a count at the timestamp): the ceiling of a dump's read phase, which
//!   begins after its snapshot query has waited.
//!
//! Assumes INT64 keys 0..ROWS (bench/dump's data). Prints one JSON line.

use std::time::Instant;

use bytes::Bytes;
use milvus_wire::proto::common::KeyValuePair;
use milvus_wire::proto::milvus::QueryRequest;
use milvus_wire::{ConnectOptions, Freshness, Milvus};
use tonic::transport::Endpoint;

use crate::codec::RawCodec;

async fn read_range(
    uri: String,
    request: QueryRequest,
    from: i64,
    to: i64,
    page: i64,
) -> anyhow::Result<u64> {
    let channel = Endpoint::from_shared(uri)?
        .tcp_nodelay(true)
        .initial_stream_window_size(Some(16 << 20))
        .initial_connection_window_size(Some(32 << 20))
        .connect()
        .await?;
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(512 << 20);
    let path = http::uri::PathAndQuery::from_static("/milvus.proto.milvus.MilvusService/Query");
    let mut bytes = 0u64;
    let mut lo = from;
    while lo < to {
        let hi = (lo + page).min(to);
        let mut q = request.clone();
        q.expr = format!("id >= {lo} and id < {hi}");
        grpc.ready().await?;
        let answer = grpc
            .unary(
                tonic::Request::new(q),
                path.clone(),
                RawCodec::<QueryRequest, Bytes>::default(),
            )
            .await?;
        bytes += answer.into_inner().len() as u64;
        lo = hi;
    }
    Ok(bytes)
}

/// `wire-ceiling URI COLLECTION ROWS CONNECTIONS [PAGE_ROWS [READS]]`
pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let usage =
        "usage: wire-ceiling URI COLLECTION ROWS CONNECTIONS [PAGE_ROWS [eventually|snapshot|caught-up]]";
    let [uri, collection, rows, connections, rest @ ..] = args else {
        anyhow::bail!(usage);
    };
    let rows: i64 = rows.parse()?;
    let connections: i64 = connections.parse()?;
    let page: i64 = rest
        .first()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(16_384);
    let reads = rest.get(1).map_or("eventually", String::as_str);
    if !["eventually", "snapshot", "caught-up"].contains(&reads) {
        anyhow::bail!("unknown READS {reads:?}; {usage}");
    }
    let client = Milvus::connect(&ConnectOptions {
        uri: uri.clone(),
        ..ConnectOptions::default()
    })
    .await?;
    let described = client.describe_collection(collection).await?;
    let kv = |k: &str, v: String| KeyValuePair {
        key: k.into(),
        value: v,
    };
    let mut params = vec![
        kv("limit", page.to_string()),
        kv("iterator", "True".into()),
        kv("reduce_stop_for_best", "True".into()),
    ];
    if described.collection_id != 0 {
        params.push(kv("collection_id", described.collection_id.to_string()));
    }
    let mut request = QueryRequest {
        collection_name: collection.clone(),
        output_fields: vec!["*".into()],
        query_params: params,
        ..Default::default()
    };
    let mut started = Instant::now();
    let freshness = if reads == "eventually" {
        Freshness::Eventually
    } else {
        client
            .alloc_timestamp()
            .await?
            .map_or(Freshness::Eventually, Freshness::NotBefore)
    };
    if reads == "caught-up" {
        client.count(collection, "", &[], freshness).await?;
        started = Instant::now();
    }
    freshness.apply(&mut request);
    let per = (rows + connections - 1) / connections;
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (from, to) = (c * per, ((c + 1) * per).min(rows));
            tokio::spawn(read_range(uri.clone(), request.clone(), from, to, page))
        })
        .collect();
    let mut bytes = 0;
    for task in tasks {
        bytes += task.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "connections": connections, "page_rows": page, "rows": rows, "bytes": bytes,
            "reads": reads,
            "seconds": secs, "rows_per_sec": rows as f64 / secs,
        })
    );
    Ok(())
}
