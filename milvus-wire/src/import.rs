//! Milvus's Import (bulk insert): the server's data nodes read files from
//! its own storage, instead of rows passing through the proxy. One file per
//! request (Parquet), then the task is polled until it has completed: its
//! segments are persisted and, once indexed, visible to queries (a task
//! only persisted is not: a collection loaded then misses its rows).

use crate::error::{Error, Result};
use crate::proto::common::ImportState;
use crate::proto::milvus as pb;
use crate::write::answer;
use crate::Milvus;

/// How an import task stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportProgress {
    /// Queued, being read, or persisted but not yet visible (Milvus
    /// builds the collection's indexes on the new segments first).
    Running,
    /// Done: its rows are persisted, indexed and visible to queries.
    Completed,
    /// Failed, with the server's reason.
    Failed(String),
}

/// One import task as the server reports it.
#[derive(Clone, Debug)]
pub struct ImportTask {
    /// The task's id.
    pub id: i64,
    /// Where it stands.
    pub progress: ImportProgress,
    /// Rows imported (parsed, while it runs).
    pub rows: u64,
    /// The files it reads, as given when it was started.
    pub files: Vec<String>,
}

impl ImportTask {
    fn from_state(resp: pb::GetImportStateResponse) -> Self {
        let info = |key: &str| {
            resp.infos
                .iter()
                .find(|kv| kv.key == key)
                .map(|kv| kv.value.clone())
        };
        let progress = match ImportState::try_from(resp.state) {
            Ok(ImportState::ImportCompleted) => ImportProgress::Completed,
            Ok(ImportState::ImportFailed) | Ok(ImportState::ImportFailedAndCleaned) => {
                ImportProgress::Failed(
                    info("failed_reason").unwrap_or_else(|| "no reason given".into()),
                )
            }
            _ => ImportProgress::Running,
        };
        Self {
            id: resp.id,
            progress,
            rows: u64::try_from(resp.row_count).unwrap_or(0),
            files: info("files")
                .map(|files| files.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
        }
    }
}

impl Milvus {
    /// Starts importing `file` (a path in the server's storage) into
    /// `collection` (and `partition`, or the default one / by partition
    /// key when empty); returns the task ids.
    pub async fn start_import(
        &self,
        collection: &str,
        partition: &str,
        file: &str,
    ) -> Result<Vec<i64>> {
        let op = || format!("Import {file:?} into {collection:?}");
        let mut client = self.client.clone();
        let call = client.import(pb::ImportRequest {
            db_name: self.db.clone(),
            collection_name: collection.to_string(),
            partition_name: partition.to_string(),
            files: vec![file.to_string()],
            ..Default::default()
        });
        Ok(answer(op, call).await?.tasks)
    }

    /// Whether the server has Import at all (Milvus Lite has not): asks
    /// for its import tasks, which a server without Import does not know.
    /// (An empty Import request is no probe: Milvus 2.3.5 takes a minute
    /// to refuse one for a collection that does not exist.)
    pub async fn has_import(&self) -> Result<bool> {
        let probe = self
            .client
            .clone()
            .list_import_tasks(pb::ListImportTasksRequest {
                db_name: self.db.clone(),
                limit: 1,
                ..Default::default()
            })
            .await;
        match probe {
            Ok(_) => Ok(true),
            Err(status) if status.code() == tonic::Code::Unimplemented => Ok(false),
            Err(status) => Err(Error::rpc("ListImportTasks".into(), status)),
        }
    }

    /// The state of import task `id`.
    pub async fn import_task(&self, id: i64) -> Result<ImportTask> {
        let op = || format!("GetImportState of task {id}");
        let mut client = self.client.clone();
        let call = client.get_import_state(pb::GetImportStateRequest { task: id });
        Ok(ImportTask::from_state(answer(op, call).await?))
    }

    /// Every import task the server remembers for `collection`.
    pub async fn import_tasks(&self, collection: &str) -> Result<Vec<ImportTask>> {
        let op = || format!("ListImportTasks of {collection:?}");
        let mut client = self.client.clone();
        let call = client.list_import_tasks(pb::ListImportTasksRequest {
            db_name: self.db.clone(),
            collection_name: collection.to_string(),
            limit: 0,
        });
        let tasks = answer(op, call).await?.tasks;
        Ok(tasks.into_iter().map(ImportTask::from_state).collect())
    }
}
