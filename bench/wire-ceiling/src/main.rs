//! The wire ceiling of a Milvus server: what no client can beat on this
//! server and machine, for reads (the page queries a dump sends, answers
//! discarded undecoded) and for inserts (the requests a load sends, encoded
//! before the clock starts).
//!
//!   wire-ceiling URI COLLECTION ROWS CONNECTIONS [PAGE_ROWS]
//!   wire-ceiling insert URI COLLECTION PARQUET CONNECTIONS [BATCH_ROWS [IN_FLIGHT]]
//!
//! Each prints one JSON line. See `query.rs` and `insert.rs`.

mod codec;
mod insert;
mod query;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((mode, rest)) if mode == "insert" => insert::run(rest).await,
        _ => query::run(&args).await,
    }
}
