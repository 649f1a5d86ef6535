//! Connection and the typed calls the tools make.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::error::{Error, Result};
use crate::proto::common::{self, ConsistencyLevel};
use crate::proto::milvus as pb;
use crate::proto::milvus::milvus_service_client::MilvusServiceClient;
use milvus_model::query_page::QueryPage;

/// gRPC message limit in both directions. Milvus caps a query result near
/// 100 MB and an insert near 64 MB by default; 512 MiB leaves room for servers
/// configured higher without ever being the limit that bites.
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024 * 1024;

/// How to reach and authenticate to a Milvus server.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// `http://host:port` or `https://host:port`.
    pub uri: String,
    /// Database name; `None` means the server's default database.
    pub db: Option<String>,
    /// API token (`user:password` also works as a token).
    pub token: Option<String>,
    /// User name, with [`ConnectOptions::password`].
    pub user: Option<String>,
    /// Password, with [`ConnectOptions::user`].
    pub password: Option<String>,
    /// PEM file with the CA that signed the server's certificate (https only).
    pub ca_cert: Option<PathBuf>,
    /// How long to wait for the TCP/TLS connection.
    pub connect_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            uri: "http://localhost:19530".into(),
            db: None,
            token: None,
            user: None,
            password: None,
            ca_cert: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl ConnectOptions {
    /// The value of the `authorization` header, if any credentials were given.
    fn authorization(&self) -> Option<String> {
        let secret = match (&self.token, &self.user) {
            (Some(token), _) => token.clone(),
            (None, Some(user)) => format!("{user}:{}", self.password.as_deref().unwrap_or("")),
            (None, None) => return None,
        };
        Some(base64::engine::general_purpose::STANDARD.encode(secret))
    }
}

/// Adds the database and credentials to every request.
#[derive(Clone)]
pub struct Connection {
    db: Option<MetadataValue<Ascii>>,
    authorization: Option<MetadataValue<Ascii>>,
}

impl tonic::service::Interceptor for Connection {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(db) = &self.db {
            request.metadata_mut().insert("dbname", db.clone());
        }
        if let Some(auth) = &self.authorization {
            request.metadata_mut().insert("authorization", auth.clone());
        }
        Ok(request)
    }
}

type Client = MilvusServiceClient<InterceptedService<Channel, Connection>>;

/// Load state of a collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadState {
    /// Not loaded: queries fail.
    NotLoaded,
    /// Loading in progress.
    Loading,
    /// Loaded: queries work.
    Loaded,
    /// The collection does not exist.
    NotExist,
}

/// A client on one HTTP/2 connection. Clone it to share the connection;
/// call [`Milvus::connect`] again for another connection.
#[derive(Clone)]
pub struct Milvus {
    pub(crate) client: Client,
    /// The same channel and interceptor, for calls with our own codec.
    pub(crate) raw: InterceptedService<Channel, Connection>,
    uri: String,
    pub(crate) db: String,
}

impl Milvus {
    /// Opens a connection (eagerly, so an unreachable server is reported here).
    pub async fn connect(options: &ConnectOptions) -> Result<Self> {
        let uri = options.uri.trim_end_matches('/').to_string();
        let invalid = |reason: String| Error::InvalidUri {
            uri: uri.clone(),
            reason,
        };
        let parsed: http::Uri = uri.parse().map_err(|e| invalid(format!("{e}")))?;
        let tls = match parsed.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(invalid(
                    "expected http://HOST:PORT or https://HOST:PORT".into(),
                ))
            }
        };
        let mut endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|e| invalid(e.to_string()))?
            .connect_timeout(options.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true)
            // Windows larger than a page (a few MiB): the 64 KiB default
            // would make every page wait on window updates.
            .initial_stream_window_size(Some(8 << 20))
            .initial_connection_window_size(Some(16 << 20));
        if tls {
            let mut config = ClientTlsConfig::new().with_native_roots();
            if let Some(host) = parsed.host() {
                config = config.domain_name(host.to_string());
            }
            if let Some(path) = &options.ca_cert {
                let pem = std::fs::read(path).map_err(|e| Error::Tls {
                    uri: uri.clone(),
                    reason: format!("cannot read CA certificate {}: {e}", path.display()),
                })?;
                config = config.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint = endpoint.tls_config(config).map_err(|e| Error::Tls {
                uri: uri.clone(),
                reason: e.to_string(),
            })?;
        } else if options.ca_cert.is_some() {
            return Err(Error::Tls {
                uri,
                reason: "--ca-cert needs an https:// URI".into(),
            });
        }
        let channel = endpoint.connect().await.map_err(|cause| Error::Connect {
            uri: uri.clone(),
            cause,
        })?;
        let header = |value: String, what: &str| {
            MetadataValue::try_from(value).map_err(|_| Error::InvalidUri {
                uri: uri.clone(),
                reason: format!("{what} contains characters not allowed in a gRPC header"),
            })
        };
        let interceptor = Connection {
            db: options
                .db
                .clone()
                .map(|db| header(db, "database name"))
                .transpose()?,
            authorization: options
                .authorization()
                .map(|auth| header(auth, "credentials"))
                .transpose()?,
        };
        let raw = InterceptedService::new(channel.clone(), interceptor.clone());
        let client = MilvusServiceClient::with_interceptor(channel, interceptor)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Self {
            client,
            raw,
            uri,
            db: options.db.clone().unwrap_or_default(),
        })
    }

    /// The URI this client talks to.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The database requests go to (empty: the server's default).
    pub fn db(&self) -> &str {
        &self.db
    }

    /// The server's version, or `None` where the server does not say
    /// (Milvus Lite 2.5 does not implement GetVersion).
    pub async fn server_version(&self) -> Result<Option<String>> {
        let op = || "GetVersion".to_string();
        match self
            .client
            .clone()
            .get_version(pb::GetVersionRequest {})
            .await
        {
            Ok(resp) => {
                let resp = resp.into_inner();
                check(op, resp.status.as_ref())?;
                Ok(Some(resp.version).filter(|v| !v.is_empty()))
            }
            Err(status) if status.code() == tonic::Code::Unimplemented => Ok(None),
            Err(status) => Err(Error::rpc(op(), status)),
        }
    }

    /// A timestamp from the server's timestamp oracle: every write
    /// acknowledged before the call is older. `None` where the server has no
    /// oracle to offer (Milvus Lite answers 0 or Unimplemented) or refuses
    /// the call (a privilege, say): callers treat it as an optimisation.
    pub async fn alloc_timestamp(&self) -> Result<Option<u64>> {
        let op = || "AllocTimestamp".to_string();
        match self
            .client
            .clone()
            .alloc_timestamp(pb::AllocTimestampRequest { base: None })
            .await
        {
            Ok(resp) => {
                let resp = resp.into_inner();
                let refused = check(op, resp.status.as_ref()).is_err();
                Ok(Some(resp.timestamp).filter(|&ts| ts != 0 && !refused))
            }
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Unimplemented | tonic::Code::PermissionDenied
                ) =>
            {
                Ok(None)
            }
            Err(status) => Err(Error::rpc(op(), status)),
        }
    }

    /// Names of the collections in the database.
    pub async fn list_collections(&self) -> Result<Vec<String>> {
        let op = || format!("ShowCollections in database {:?}", self.db);
        let resp = self
            .client
            .clone()
            .show_collections(pb::ShowCollectionsRequest {
                db_name: self.db.clone(),
                ..Default::default()
            })
            .await
            .map_err(|status| Error::rpc(op(), status))?
            .into_inner();
        check(op, resp.status.as_ref())?;
        Ok(resp.collection_names)
    }

    /// The collection's schema and settings.
    pub async fn describe_collection(&self, name: &str) -> Result<pb::DescribeCollectionResponse> {
        let op = || format!("DescribeCollection {name:?}");
        let resp = self
            .client
            .clone()
            .describe_collection(pb::DescribeCollectionRequest {
                db_name: self.db.clone(),
                collection_name: name.to_string(),
                ..Default::default()
            })
            .await
            .map_err(|status| Error::rpc(op(), status))?
            .into_inner();
        check(op, resp.status.as_ref())?;
        Ok(resp)
    }

    /// Partition names of a collection, in creation order. Servers without
    /// partitions (Milvus Lite 2.5 does not implement ShowPartitions) have
    /// only `_default`.
    pub async fn list_partitions(&self, collection: &str) -> Result<Vec<String>> {
        let op = || format!("ShowPartitions of {collection:?}");
        let resp = match self
            .client
            .clone()
            .show_partitions(pb::ShowPartitionsRequest {
                db_name: self.db.clone(),
                collection_name: collection.to_string(),
                ..Default::default()
            })
            .await
        {
            Ok(resp) => resp.into_inner(),
            Err(status) if status.code() == tonic::Code::Unimplemented => {
                return Ok(vec!["_default".into()])
            }
            Err(status) => return Err(Error::rpc(op(), status)),
        };
        check(op, resp.status.as_ref())?;
        Ok(resp.partition_names)
    }

    /// The aliases pointing at a collection, on every server (load marks
    /// included, see [`LOAD_MARK_PREFIX`]): Milvus 2.3
    /// names them in DescribeCollection, Lite 3 only in ListAliases.
    pub async fn aliases(&self, collection: &str) -> Result<Vec<String>> {
        let described = self.describe_collection(collection).await?;
        if described.aliases.is_empty() {
            self.list_aliases(collection).await
        } else {
            Ok(described.aliases)
        }
    }

    /// The aliases of a collection (servers without ListAliases: none).
    /// Milvus Lite 3 lists them only here, not in DescribeCollection.
    pub async fn list_aliases(&self, collection: &str) -> Result<Vec<String>> {
        let op = || format!("ListAliases of {collection:?}");
        let resp = match self
            .client
            .clone()
            .list_aliases(pb::ListAliasesRequest {
                db_name: self.db.clone(),
                collection_name: collection.to_string(),
                ..Default::default()
            })
            .await
        {
            Ok(resp) => resp.into_inner(),
            Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(Vec::new()),
            Err(status) => return Err(Error::rpc(op(), status)),
        };
        check(op, resp.status.as_ref())?;
        Ok(resp.aliases)
    }

    /// The indexes of a collection (empty when it has none).
    pub async fn describe_indexes(&self, collection: &str) -> Result<Vec<pb::IndexDescription>> {
        let op = || format!("DescribeIndex of {collection:?}");
        let resp = self
            .client
            .clone()
            .describe_index(pb::DescribeIndexRequest {
                db_name: self.db.clone(),
                collection_name: collection.to_string(),
                ..Default::default()
            })
            .await
            .map_err(|status| Error::rpc(op(), status))?
            .into_inner();
        match check(op, resp.status.as_ref()) {
            Ok(()) => Ok(resp.index_descriptions),
            // How a collection without indexes answers: "index not found"
            // (Milvus), "no index on collection" (Milvus Lite 3), code 700.
            Err(Error::Server { code, reason, .. })
                if code == 700 || reason.contains("index not") || reason.contains("no index") =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// The row count the server keeps in its statistics (no load needed;
    /// approximate: deletions are counted once compacted).
    pub async fn statistics_row_count(&self, collection: &str) -> Result<u64> {
        let op = || format!("GetCollectionStatistics of {collection:?}");
        let resp = self
            .client
            .clone()
            .get_collection_statistics(pb::GetCollectionStatisticsRequest {
                db_name: self.db.clone(),
                collection_name: collection.to_string(),
                ..Default::default()
            })
            .await
            .map_err(|status| Error::rpc(op(), status))?
            .into_inner();
        check(op, resp.status.as_ref())?;
        Ok(resp
            .stats
            .iter()
            .find(|kv| kv.key == "row_count")
            .and_then(|kv| kv.value.parse().ok())
            .unwrap_or(0))
    }

    /// Whether the collection is loaded.
    pub async fn load_state(&self, collection: &str) -> Result<LoadState> {
        let op = || format!("GetLoadState of {collection:?}");
        let resp = self
            .client
            .clone()
            .get_load_state(pb::GetLoadStateRequest {
                db_name: self.db.clone(),
                collection_name: collection.to_string(),
                ..Default::default()
            })
            .await
            .map_err(|status| Error::rpc(op(), status))?
            .into_inner();
        check(op, resp.status.as_ref())?;
        Ok(match common::LoadState::try_from(resp.state) {
            Ok(common::LoadState::Loaded) => LoadState::Loaded,
            Ok(common::LoadState::Loading) => LoadState::Loading,
            Ok(common::LoadState::NotExist) => LoadState::NotExist,
            _ => LoadState::NotLoaded,
        })
    }

    /// Loads a collection and waits until it is loaded.
    pub async fn load_collection(&self, collection: &str, timeout: Duration) -> Result<()> {
        let op = || format!("LoadCollection {collection:?}");
        let status = self
            .client
            .clone()
            .load_collection(pb::LoadCollectionRequest {
                db_name: self.db.clone(),
                collection_name: collection.to_string(),
                ..Default::default()
            })
            .await
            .map_err(|status| Error::rpc(op(), status))?
            .into_inner();
        check(op, Some(&status))?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.load_state(collection).await? == LoadState::Loaded {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::Server {
                    op: op(),
                    code: -1,
                    reason: format!("not loaded after {}s", timeout.as_secs()),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Releases a loaded collection.
    pub async fn release_collection(&self, collection: &str) -> Result<()> {
        let op = || format!("ReleaseCollection {collection:?}");
        let status = self
            .client
            .clone()
            .release_collection(pb::ReleaseCollectionRequest {
                db_name: self.db.clone(),
                collection_name: collection.to_string(),
                ..Default::default()
            })
            .await
            .map_err(|status| Error::rpc(op(), status))?
            .into_inner();
        check(op, Some(&status))
    }

    /// Seals and persists a collection's growing segments, and waits for it.
    pub async fn flush(&self, collection: &str, timeout: Duration) -> Result<()> {
        let op = || format!("Flush {collection:?}");
        let resp = self
            .client
            .clone()
            .flush(pb::FlushRequest {
                db_name: self.db.clone(),
                collection_names: vec![collection.to_string()],
                ..Default::default()
            })
            .await
            .map_err(|status| Error::rpc(op(), status))?
            .into_inner();
        check(op, resp.status.as_ref())?;
        let segment_ids = resp
            .coll_seg_i_ds
            .get(collection)
            .map(|ids| ids.data.clone())
            .unwrap_or_default();
        let flush_ts = resp.coll_flush_ts.get(collection).copied().unwrap_or(0);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let state = self
                .client
                .clone()
                .get_flush_state(pb::GetFlushStateRequest {
                    segment_i_ds: segment_ids.clone(),
                    flush_ts,
                    db_name: self.db.clone(),
                    collection_name: collection.to_string(),
                })
                .await;
            match state {
                Ok(resp) => {
                    let resp = resp.into_inner();
                    check(op, resp.status.as_ref())?;
                    if resp.flushed {
                        return Ok(());
                    }
                }
                // Servers without GetFlushState: Flush itself was synchronous enough.
                Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(()),
                Err(status) => return Err(Error::rpc(op(), status)),
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::Server {
                    op: op(),
                    code: -1,
                    reason: format!("not flushed after {}s", timeout.as_secs()),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `count(*)` of the rows matching `filter` (empty: all rows) in `partitions`
    /// (empty: all), as fresh as `freshness` asks.
    pub async fn count(
        &self,
        collection: &str,
        filter: &str,
        partitions: &[String],
        freshness: Freshness,
    ) -> Result<u64> {
        let mut request = pb::QueryRequest {
            db_name: self.db.clone(),
            collection_name: collection.to_string(),
            expr: filter.to_string(),
            output_fields: vec!["count(*)".into()],
            partition_names: partitions.to_vec(),
            ..Default::default()
        };
        freshness.apply(&mut request);
        let results = self.query(request).await?;
        let count = results
            .fields_data
            .first()
            .and_then(|field| match &field.field {
                Some(crate::proto::schema::field_data::Field::Scalars(s)) => match &s.data {
                    Some(crate::proto::schema::scalar_field::Data::LongData(d)) => {
                        d.data.first().copied()
                    }
                    _ => None,
                },
                _ => None,
            })
            .ok_or_else(|| Error::Server {
                op: format!("count(*) of {collection:?}"),
                code: -1,
                reason: "the server returned no count".into(),
            })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// One query, checked. The caller builds the request (see the dump's
    /// pager). Answers are decoded with [`milvus_model::query_page`]'s faster types.
    pub async fn query(&self, request: pb::QueryRequest) -> Result<pb::QueryResults> {
        let op = || format!("Query on {:?}", request.collection_name);
        let mut grpc = tonic::client::Grpc::new(self.raw.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        grpc.ready()
            .await
            .map_err(|e| Error::rpc(op(), tonic::Status::unavailable(e.to_string())))?;
        let codec = tonic::codec::ProstCodec::<pb::QueryRequest, QueryPage>::default();
        let path = http::uri::PathAndQuery::from_static("/milvus.proto.milvus.MilvusService/Query");
        let page = grpc
            .unary(tonic::Request::new(request.clone()), path, codec)
            .await
            .map_err(|status| Error::rpc(op(), status))?
            .into_inner();
        check(op, page.status.as_ref())?;
        Ok(pb::QueryResults {
            status: page.status,
            fields_data: page.fields_data.into_iter().map(Into::into).collect(),
            session_ts: page.session_ts,
            ..Default::default()
        })
    }
}

/// The prefix of the alias milvus-load puts on a collection it creates
/// from a backup set while it loads it (removed when the load completes):
/// `--resume` continues only a load it started. An alias is the one mark
/// every Milvus version can set and remove (Lite 2.5 cannot alter
/// properties; Milvus 2.3 cannot drop one). Dumps do not record it.
pub const LOAD_MARK_PREFIX: &str = "_milvus_load_";

/// Whether `alias` is a load's mark rather than one readers use.
pub fn is_load_mark(alias: &str) -> bool {
    alias.starts_with(LOAD_MARK_PREFIX)
}

/// How fresh a query's answer must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Everything written before the call: the query nodes first catch up
    /// to now (on Milvus 2.3.5 that waits for a time tick, 0.2–0.4 s).
    Strong,
    /// Whatever the query node has; no wait.
    Eventually,
    /// Everything written before this hybrid timestamp (Customized
    /// consistency): only a node that has not caught up to it waits.
    NotBefore(u64),
}

impl Freshness {
    /// Sets the request's consistency level and guarantee timestamp.
    pub fn apply(self, request: &mut pb::QueryRequest) {
        let (level, guarantee) = match self {
            Freshness::Strong => (ConsistencyLevel::Strong, 0),
            Freshness::Eventually => (ConsistencyLevel::Eventually, 0),
            Freshness::NotBefore(ts) => (ConsistencyLevel::Customized, ts),
        };
        request.consistency_level = level as i32;
        request.guarantee_timestamp = guarantee;
        request.use_default_consistency = false;
    }
}

/// Turns a Milvus status into an error when it is not success.
pub(crate) fn check(op: impl FnOnce() -> String, status: Option<&common::Status>) -> Result<()> {
    let Some(status) = status else { return Ok(()) };
    #[allow(deprecated)]
    let code = if status.code != 0 {
        status.code
    } else {
        status.error_code
    };
    if code == 0 {
        return Ok(());
    }
    Err(Error::Server {
        op: op(),
        code,
        reason: status.reason.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_prefers_token_then_user_password() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let mut o = ConnectOptions::default();
        assert_eq!(o.authorization(), None);
        o.user = Some("root".into());
        o.password = Some("Milvus".into());
        assert_eq!(o.authorization(), Some(b64("root:Milvus")));
        o.token = Some("tok".into());
        assert_eq!(o.authorization(), Some(b64("tok")));
    }

    #[test]
    fn nonzero_status_is_an_error_naming_the_operation() {
        let status = common::Status {
            code: 100,
            reason: "collection not found[collection=x]".into(),
            ..Default::default()
        };
        let err = check(|| "DescribeCollection \"x\"".into(), Some(&status)).unwrap_err();
        assert!(err.is_not_found());
        assert!(err.to_string().contains("DescribeCollection \"x\""));
        assert!(check(String::new, Some(&common::Status::default())).is_ok());
    }
}
