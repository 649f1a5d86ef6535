//! The pinned-snapshot path, which no test server has (Milvus 2.4+ answers an
//! iterator query with `session_ts`): a scripted gRPC responder plays the
//! server and records what the dump asks. It also checks credentials as
//! Milvus's authentication does (no test server enforces them).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};

use milvus_wire::proto::common::{ConsistencyLevel, LoadState, Status};
use milvus_wire::proto::milvus::milvus_service_server::{MilvusService, MilvusServiceServer};
use milvus_wire::proto::milvus::*;
use milvus_wire::proto::schema::{
    field_data, scalar_field, vector_field, CollectionSchema, DataType, FieldData, FieldSchema,
    FloatArray, LongArray, ScalarField, VectorField,
};
use tonic::{Request, Response};

use test_harness::run_ok;

const SESSION_TS: u64 = 464_000_000_000_000_001;
const ROWS: i64 = 10;

#[derive(Default)]
struct Scripted {
    queries: Arc<Mutex<Vec<QueryRequest>>>,
}

fn long_field(name: &str, values: Vec<i64>) -> FieldData {
    FieldData {
        r#type: DataType::Int64 as i32,
        field_name: name.into(),
        field: Some(field_data::Field::Scalars(ScalarField {
            data: Some(scalar_field::Data::LongData(LongArray { data: values })),
            valid_data: vec![],
        })),
        ..Default::default()
    }
}

#[tonic::async_trait]
impl MilvusService for Scripted {
    async fn describe_collection(
        &self,
        _: Request<DescribeCollectionRequest>,
    ) -> Result<Response<DescribeCollectionResponse>, tonic::Status> {
        let field = |id, name: &str, data_type: DataType, pk: bool| FieldSchema {
            field_id: id,
            name: name.into(),
            is_primary_key: pk,
            data_type: data_type as i32,
            type_params: if data_type == DataType::FloatVector {
                vec![milvus_wire::proto::common::KeyValuePair {
                    key: "dim".into(),
                    value: "2".into(),
                }]
            } else {
                vec![]
            },
            ..Default::default()
        };
        Ok(Response::new(DescribeCollectionResponse {
            status: Some(Status::default()),
            schema: Some(CollectionSchema {
                name: "pinned".into(),
                fields: vec![
                    field(100, "id", DataType::Int64, true),
                    field(101, "v", DataType::FloatVector, false),
                ],
                ..Default::default()
            }),
            collection_id: 7,
            collection_name: "pinned".into(),
            shards_num: 1,
            consistency_level: ConsistencyLevel::Bounded as i32,
            ..Default::default()
        }))
    }

    async fn show_partitions(
        &self,
        _: Request<ShowPartitionsRequest>,
    ) -> Result<Response<ShowPartitionsResponse>, tonic::Status> {
        Ok(Response::new(ShowPartitionsResponse {
            status: Some(Status::default()),
            partition_names: vec!["_default".into()],
            ..Default::default()
        }))
    }

    async fn describe_index(
        &self,
        _: Request<DescribeIndexRequest>,
    ) -> Result<Response<DescribeIndexResponse>, tonic::Status> {
        Ok(Response::new(DescribeIndexResponse {
            status: Some(Status::default()),
            index_descriptions: vec![],
        }))
    }

    async fn get_load_state(
        &self,
        _: Request<GetLoadStateRequest>,
    ) -> Result<Response<GetLoadStateResponse>, tonic::Status> {
        Ok(Response::new(GetLoadStateResponse {
            status: Some(Status::default()),
            state: LoadState::Loaded as i32,
        }))
    }

    async fn get_version(
        &self,
        _: Request<GetVersionRequest>,
    ) -> Result<Response<GetVersionResponse>, tonic::Status> {
        Ok(Response::new(GetVersionResponse {
            status: Some(Status::default()),
            version: "v2.6.0-scripted".into(),
        }))
    }

    async fn query(
        &self,
        request: Request<QueryRequest>,
    ) -> Result<Response<QueryResults>, tonic::Status> {
        let request = request.into_inner();
        self.queries.lock().unwrap().push(request.clone());
        let ok = Some(Status::default());
        if request.output_fields == ["count(*)"] {
            return Ok(Response::new(QueryResults {
                status: ok,
                fields_data: vec![long_field("count(*)", vec![ROWS])],
                ..Default::default()
            }));
        }
        let limit: usize = request
            .query_params
            .iter()
            .find(|kv| kv.key == "limit")
            .and_then(|kv| kv.value.parse().ok())
            .unwrap_or(1);
        let after = request
            .expr
            .split("id > ")
            .nth(1)
            .and_then(|rest| {
                rest.split(|c: char| !(c.is_ascii_digit() || c == '-'))
                    .next()
            })
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or(-1);
        let ids: Vec<i64> = (after + 1..ROWS).take(limit).collect();
        let mut fields_data = vec![long_field("id", ids.clone())];
        if request.output_fields.iter().any(|f| f == "v") {
            fields_data.push(FieldData {
                r#type: DataType::FloatVector as i32,
                field_name: "v".into(),
                field: Some(field_data::Field::Vectors(VectorField {
                    dim: 2,
                    data: Some(vector_field::Data::FloatVector(FloatArray {
                        data: ids.iter().flat_map(|&i| [i as f32, -(i as f32)]).collect(),
                    })),
                    valid_data: vec![],
                })),
                ..Default::default()
            });
        }
        // Like Milvus 2.4+: an iterator query answers with its MVCC timestamp.
        Ok(Response::new(QueryResults {
            status: ok,
            fields_data,
            session_ts: SESSION_TS,
            ..Default::default()
        }))
    }
}

/// Milvus's authentication: UNAUTHENTICATED unless the `authorization`
/// metadata is `required` (when there is a requirement).
#[allow(clippy::result_large_err)] // tonic's interceptor signature
fn check_credentials(
    required: Option<&str>,
    request: Request<()>,
) -> Result<Request<()>, tonic::Status> {
    let given = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    match required {
        Some(required) if given != Some(required) => Err(tonic::Status::unauthenticated(
            "auth check failure, please check username and password are correct",
        )),
        _ => Ok(request),
    }
}

/// Serves the scripted responder on a free loopback port in a background thread.
fn serve(service: Scripted) -> SocketAddr {
    serve_requiring(service, None)
}

/// The same, refusing requests whose `authorization` metadata is not
/// `required` (base64 `user:password`, as Milvus checks it) with
/// UNAUTHENTICATED, as Milvus does.
#[allow(clippy::result_large_err)] // tonic's interceptor signature
fn serve_requiring(service: Scripted, required: Option<String>) -> SocketAddr {
    crate::serve_on_loopback(move |listener| async move {
        tonic::transport::Server::builder()
            .add_service(MilvusServiceServer::with_interceptor(
                service,
                move |request| check_credentials(required.as_deref(), request),
            ))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    })
}

#[test]
fn every_page_reads_at_the_pinned_session_timestamp() {
    let service = Scripted::default();
    let queries = service.queries.clone();
    let addr = serve(service);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    for jobs in ["1", "2"] {
        queries.lock().unwrap().clear();
        run_ok(
            Command::new(env!("CARGO_BIN_EXE_milvus-dump"))
                .args([
                    "--uri",
                    &format!("http://{addr}"),
                    "-q",
                    "-c",
                    "pinned",
                    "--page-rows",
                    "3",
                    "--jobs",
                    jobs,
                ])
                .args(["--overwrite", "-o"])
                .arg(&out),
        );
        let text = std::fs::read_to_string(&out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let header = &lines[0]["$milvus_dump"];
        assert_eq!(header["snapshot"]["pinned"], true);
        assert_eq!(header["snapshot"]["timestamp"], SESSION_TS);
        assert_eq!(header["server"]["version"], "v2.6.0-scripted");
        assert_eq!(lines.len() as i64, ROWS + 2);
        assert_eq!(lines[4]["v"], serde_json::json!([3.0, -3.0]));

        let queries = queries.lock().unwrap();
        let pages: Vec<&QueryRequest> = queries
            .iter()
            .filter(|q| q.output_fields != ["count(*)"])
            .collect();
        // The first (snapshot) query asks with no timestamp; every later one
        // passes the session timestamp back with customized consistency.
        let (first, rest) = pages.split_first().unwrap();
        assert_eq!(first.guarantee_timestamp, 0);
        assert!(rest.len() >= 4, "{} page queries", rest.len());
        for q in rest {
            assert_eq!(q.guarantee_timestamp, SESSION_TS, "{:?}", q.expr);
            assert_eq!(q.consistency_level, ConsistencyLevel::Customized as i32);
            let param = |k: &str| {
                q.query_params
                    .iter()
                    .find(|kv| kv.key == k)
                    .map(|kv| kv.value.clone())
            };
            assert_eq!(param("iterator").as_deref(), Some("True"));
            assert_eq!(param("collection_id").as_deref(), Some("7"));
        }
    }
}

#[test]
fn credentials_come_from_the_environment_or_a_file_and_a_refusal_is_clear() {
    // "root:Milvus", base64.
    let addr = serve_requiring(Scripted::default(), Some("cm9vdDpNaWx2dXM=".into()));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let dump = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_milvus-dump"));
        cmd.args([
            "--uri",
            &format!("http://{addr}"),
            "-q",
            "-c",
            "pinned",
            "--overwrite",
            "-o",
        ])
        .arg(&out)
        .env_remove("MILVUS_TOKEN")
        .env_remove("MILVUS_USER")
        .env_remove("MILVUS_PASSWORD");
        cmd
    };
    run_ok(
        dump()
            .env("MILVUS_USER", "root")
            .env("MILVUS_PASSWORD", "Milvus"),
    );
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "root:Milvus\n").unwrap();
    run_ok(dump().arg("--token-file").arg(&token_file));

    std::fs::remove_file(&out).unwrap();
    let mut refused = dump();
    refused
        .env("MILVUS_USER", "root")
        .env("MILVUS_PASSWORD", "not-the-password");
    let result = test_harness::run(&mut refused);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("auth check failure"), "{stderr}");
    assert!(
        !stderr.contains("not-the-password"),
        "the secret leaked: {stderr}"
    );
    assert!(!out.exists(), "no output file after a refusal");
}
