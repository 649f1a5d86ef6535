//! The calls that create and fill collections (milvus-load's side).

use std::future::Future;
use std::time::Duration;

use crate::client::check;
use crate::error::{Error, Result};
use crate::insert_batch::InsertBatch;
use crate::proto::common;
use crate::proto::milvus as pb;
use crate::Milvus;

/// A response that carries a Milvus status.
pub(crate) trait Answer {
    fn status(&self) -> Option<&common::Status>;
}

impl Answer for common::Status {
    fn status(&self) -> Option<&common::Status> {
        Some(self)
    }
}

macro_rules! answers_with_status {
    ($($t:ty),*) => {$(
        impl Answer for $t {
            fn status(&self) -> Option<&common::Status> {
                self.status.as_ref()
            }
        }
    )*};
}
answers_with_status!(
    pb::ListDatabasesResponse,
    pb::MutationResult,
    pb::DescribeIndexResponse,
    pb::ImportResponse,
    pb::GetImportStateResponse,
    pb::ListImportTasksResponse
);

/// Awaits a call and checks both the gRPC status and Milvus's own.
pub(crate) async fn answer<T: Answer>(
    op: impl Fn() -> String,
    call: impl Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T> {
    let resp = call
        .await
        .map_err(|status| Error::rpc(op(), status))?
        .into_inner();
    check(op, resp.status())?;
    Ok(resp)
}

/// How an index build is going.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexProgress {
    /// Index name.
    pub index_name: String,
    /// Rows indexed so far.
    pub indexed_rows: i64,
    /// Rows to index.
    pub total_rows: i64,
    /// Finished (or the server does not report progress).
    pub finished: bool,
    /// Why the build failed, when it did.
    pub failure: Option<String>,
}

impl Milvus {
    /// Whether the collection exists.
    pub async fn has_collection(&self, name: &str) -> Result<bool> {
        match self.describe_collection(name).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Database names; servers without databases (Milvus 2.3 standalone
    /// answers, Milvus Lite 2.5 does not) list only `default`.
    pub async fn list_databases(&self) -> Result<Vec<String>> {
        let mut client = self.client.clone();
        let call = client.list_databases(pb::ListDatabasesRequest::default());
        match call.await {
            Ok(resp) => {
                let resp = resp.into_inner();
                check(|| "ListDatabases".into(), resp.status.as_ref())?;
                Ok(resp.db_names)
            }
            Err(status) if status.code() == tonic::Code::Unimplemented => {
                Ok(vec!["default".into()])
            }
            Err(status) => Err(Error::rpc("ListDatabases".into(), status)),
        }
    }

    /// Creates a database.
    pub async fn create_database(&self, name: &str) -> Result<()> {
        let op = || format!("CreateDatabase {name:?}");
        let mut client = self.client.clone();
        let call = client.create_database(pb::CreateDatabaseRequest {
            db_name: name.to_string(),
            ..Default::default()
        });
        answer(op, call).await.map(drop)
    }

    /// Creates a collection (the caller builds the schema and settings).
    pub async fn create_collection(&self, mut request: pb::CreateCollectionRequest) -> Result<()> {
        request.db_name = self.db.clone();
        let name = request.collection_name.clone();
        let op = || format!("CreateCollection {name:?}");
        let mut client = self.client.clone();
        answer(op, client.create_collection(request))
            .await
            .map(drop)
    }

    /// Drops a collection.
    pub async fn drop_collection(&self, name: &str) -> Result<()> {
        let op = || format!("DropCollection {name:?}");
        let mut client = self.client.clone();
        let call = client.drop_collection(pb::DropCollectionRequest {
            db_name: self.db.clone(),
            collection_name: name.to_string(),
            ..Default::default()
        });
        answer(op, call).await.map(drop)
    }

    /// Renames a collection within the database.
    pub async fn rename_collection(&self, old: &str, new: &str) -> Result<()> {
        let op = || format!("RenameCollection {old:?} to {new:?}");
        let mut client = self.client.clone();
        let call = client.rename_collection(pb::RenameCollectionRequest {
            db_name: self.db.clone(),
            old_name: old.to_string(),
            new_name: new.to_string(),
            ..Default::default()
        });
        answer(op, call).await.map(drop)
    }

    /// Removes collection properties.
    pub async fn drop_collection_properties(&self, name: &str, keys: &[&str]) -> Result<()> {
        let op = || format!("AlterCollection {name:?} (dropping properties {keys:?})");
        let mut client = self.client.clone();
        let call = client.alter_collection(pb::AlterCollectionRequest {
            db_name: self.db.clone(),
            collection_name: name.to_string(),
            delete_keys: keys.iter().map(|k| k.to_string()).collect(),
            ..Default::default()
        });
        match answer(op, call).await {
            // A server without AlterCollection keeps no properties to drop.
            Err(Error::Rpc { status, .. }) if status.code() == tonic::Code::Unimplemented => Ok(()),
            other => other.map(drop),
        }
    }

    /// Deletes the rows matching `expr`; returns how many the server counted.
    pub async fn delete(&self, collection: &str, expr: &str) -> Result<u64> {
        let op = || format!("Delete from {collection:?} where {expr}");
        let mut client = self.client.clone();
        let call = client.delete(pb::DeleteRequest {
            db_name: self.db.clone(),
            collection_name: collection.to_string(),
            expr: expr.to_string(),
            ..Default::default()
        });
        let result = answer(op, call).await?;
        Ok(u64::try_from(result.delete_cnt).unwrap_or(0))
    }

    /// Creates a partition.
    pub async fn create_partition(&self, collection: &str, partition: &str) -> Result<()> {
        let op = || format!("CreatePartition {partition:?} of {collection:?}");
        let mut client = self.client.clone();
        let call = client.create_partition(pb::CreatePartitionRequest {
            db_name: self.db.clone(),
            collection_name: collection.to_string(),
            partition_name: partition.to_string(),
            ..Default::default()
        });
        answer(op, call).await.map(drop)
    }

    /// Creates an index on `field` with `params` (`index_type`, `metric_type`,
    /// and the build parameters as a JSON object under `params`).
    pub async fn create_index(
        &self,
        collection: &str,
        field: &str,
        index_name: &str,
        params: Vec<common::KeyValuePair>,
    ) -> Result<()> {
        let op = || format!("CreateIndex {index_name:?} on {collection:?}.{field:?}");
        let mut client = self.client.clone();
        let call = client.create_index(pb::CreateIndexRequest {
            db_name: self.db.clone(),
            collection_name: collection.to_string(),
            field_name: field.to_string(),
            extra_params: params,
            index_name: index_name.to_string(),
            ..Default::default()
        });
        answer(op, call).await.map(drop)
    }

    /// Build progress of every index of a collection.
    pub async fn index_progress(&self, collection: &str) -> Result<Vec<IndexProgress>> {
        Ok(self
            .describe_indexes(collection)
            .await?
            .into_iter()
            .map(|index| {
                let state = common::IndexState::try_from(index.state).ok();
                let failed = state == Some(common::IndexState::Failed);
                IndexProgress {
                    finished: matches!(state, Some(common::IndexState::Finished) | None)
                        || index.state == 0 && index.pending_index_rows == 0,
                    failure: failed.then(|| index.index_state_fail_reason.clone()),
                    index_name: index.index_name,
                    indexed_rows: index.indexed_rows,
                    total_rows: index.total_rows,
                }
            })
            .collect())
    }

    /// Waits until every index of the collection is built.
    pub async fn wait_for_indexes(&self, collection: &str, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let progress = self.index_progress(collection).await?;
            if let Some(failed) = progress.iter().find(|p| p.failure.is_some()) {
                return Err(Error::Server {
                    op: format!("index {:?} on {collection:?}", failed.index_name),
                    code: -1,
                    reason: failed.failure.clone().unwrap_or_default(),
                });
            }
            if progress.iter().all(|p| p.finished) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::Server {
                    op: format!("building the indexes of {collection:?}"),
                    code: -1,
                    reason: format!("not finished after {}s", timeout.as_secs()),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Points `alias` at `collection`, creating it or moving it from another collection.
    pub async fn point_alias(&self, alias: &str, collection: &str) -> Result<()> {
        let op = || format!("CreateAlias {alias:?} for {collection:?}");
        let mut client = self.client.clone();
        let call = client.create_alias(pb::CreateAliasRequest {
            db_name: self.db.clone(),
            collection_name: collection.to_string(),
            alias: alias.to_string(),
            ..Default::default()
        });
        match answer(op, call).await {
            Ok(_) => Ok(()),
            Err(Error::Server { reason, .. }) if reason.contains("exist") => {
                let op = || format!("AlterAlias {alias:?} to {collection:?}");
                let mut client = self.client.clone();
                let call = client.alter_alias(pb::AlterAliasRequest {
                    db_name: self.db.clone(),
                    collection_name: collection.to_string(),
                    alias: alias.to_string(),
                    ..Default::default()
                });
                answer(op, call).await.map(drop)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes `alias` (the collection it points at stays).
    pub async fn drop_alias(&self, alias: &str) -> Result<()> {
        let op = || format!("DropAlias {alias:?}");
        let mut client = self.client.clone();
        let call = client.drop_alias(pb::DropAliasRequest {
            db_name: self.db.clone(),
            alias: alias.to_string(),
            ..Default::default()
        });
        answer(op, call).await.map(drop)
    }

    /// Inserts (or, with `upsert`, upserts) one batch; returns the rows the server counted.
    pub async fn insert(&self, mut batch: InsertBatch, upsert: bool) -> Result<u64> {
        batch.db_name = self.db.clone();
        let rpc = if upsert { "Upsert" } else { "Insert" };
        let op = || format!("{rpc} into {:?}", batch.collection_name);
        let mut grpc = tonic::client::Grpc::new(self.raw.clone())
            .max_decoding_message_size(crate::client::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(crate::client::MAX_MESSAGE_BYTES);
        grpc.ready()
            .await
            .map_err(|e| Error::rpc(op(), tonic::Status::unavailable(e.to_string())))?;
        let codec = tonic::codec::ProstCodec::<InsertBatch, pb::MutationResult>::default();
        let path = http::uri::PathAndQuery::from_static(if upsert {
            "/milvus.proto.milvus.MilvusService/Upsert"
        } else {
            "/milvus.proto.milvus.MilvusService/Insert"
        });
        let result = answer(
            &op,
            grpc.unary(tonic::Request::new(batch.clone()), path, codec),
        )
        .await?;
        let count = if upsert {
            result.upsert_cnt
        } else {
            result.insert_cnt
        };
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
