//! Sharded dumps (`--shard K/N`): N processes — a Kubernetes Indexed Job's
//! pods, say — each dump one of N primary-key ranges of every collection
//! into the same backup set, and the set completes when all have.
//!
//! The processes never talk to each other; they agree through the set.
//! Ranges computed by each process on its own would differ as soon as rows
//! are written between two processes' starts (each would count and cut
//! another collection: gaps or overlaps). So shard 0 makes each
//! collection's plan once: it opens the snapshot, counts the rows, scans
//! the keys (primary key only) and cuts them at ranks ⌈rows·k/N⌉, so every
//! range holds the same number of rows whatever the keys (INT64 or
//! VARCHAR, dense or skewed); then writes `NAME/shards.json` with a
//! conditional put. The other shards wait for that plan and read at its
//! snapshot. Each shard writes its parts under `NAME/shard-KKK/` and, when
//! done, its record; the shard that then finds every record present writes
//! the manifest (a conditional put again: two finishing at once cannot both
//! write it), or `milvus-dump --out-dir DIR --finish` does.

use std::str::FromStr;
use std::time::{Duration, Instant};

use locations::progress::{ShardPlan, ShardedSet, SHARD_PLAN_FILE};
use locations::Dir;
use milvus_model::Pk;
use milvus_wire::sizing::MAX_PAGE_ROWS;
use milvus_wire::Milvus;
use pipes_cli::Exit;
use record_stream::header::Snapshot;
use record_stream::manifest::CollectionEntry;

use crate::reader::{self, ReadError, ReadPlan};
use crate::resume;

/// `--shard K/N`: this process dumps range K of N (K = 0..N-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// K.
    pub index: u32,
    /// N.
    pub count: u32,
}

/// More shards than this is a typo, not a plan.
const MAX_SHARDS: u32 = 1024;

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?}: expected K/N, e.g. 0/3"))?;
        let number = |part: &str| {
            part.trim()
                .parse::<u32>()
                .map_err(|_| format!("{text:?}: K and N must be whole numbers"))
        };
        let (index, count) = (number(index)?, number(count)?);
        if count == 0 || count > MAX_SHARDS || index >= count {
            return Err(format!(
                "{text:?}: N must be 1 to {MAX_SHARDS} and K 0 to N-1"
            ));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// How long a shard waits for shard 0's plan of a collection.
const PLAN_WAIT: Duration = Duration::from_secs(3600);

/// The plan of collection `name` as shard 0 wrote it, waited for (polled
/// every two seconds, at most [`PLAN_WAIT`]).
pub async fn wait_for_plan(dir: &Dir, name: &str, shard: Shard) -> anyhow::Result<ShardPlan> {
    let rel = plan_path(name);
    let started = Instant::now();
    let mut said = false;
    loop {
        if let Some(plan) = read_plan(dir, name, shard).await? {
            return Ok(plan);
        }
        if started.elapsed() > PLAN_WAIT {
            return Err(Exit::Incomplete.because(anyhow::anyhow!(
                "{}: shard 0 has not written the plan of {name:?} in {} minutes: is shard 0/{} running?",
                dir.url(&rel),
                PLAN_WAIT.as_secs() / 60,
                shard.count
            )));
        }
        if !said {
            eprintln!(
                "milvus-dump: {name}: shard {shard}: waiting for shard 0 to write the plan ({})",
                dir.url(&rel)
            );
            said = true;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Shard 0's plan: the keys cutting the rows `plan` reads at `snapshot`
/// (`rows` of them, counted there) into equal ranges, written once.
/// Returns the plan in the set: this one, or one written before (a
/// restarted shard 0).
pub async fn make_plan(
    client: &Milvus,
    dir: &Dir,
    read: &ReadPlan,
    header: &record_stream::header::Header,
    rows: u64,
    shard: Shard,
) -> anyhow::Result<ShardPlan> {
    let name = &read.collection;
    let started = Instant::now();
    let cuts = cut_keys(client, read, &header.snapshot, rows, shard.count).await?;
    let plan = ShardPlan {
        shards: shard.count,
        header: header.clone(),
        cuts: cuts.iter().map(Pk::to_json).collect(),
        rows,
    };
    let rel = plan_path(name);
    if dir.create(&rel, serde_json::to_vec_pretty(&plan)?).await? {
        eprintln!(
            "milvus-dump: {name}: plan for {} shards: {rows} rows cut at {} keys ({:.1} s)",
            shard.count,
            plan.cuts.len(),
            started.elapsed().as_secs_f64()
        );
        return Ok(plan);
    }
    read_plan(dir, name, shard)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{}: written, then gone", dir.url(&rel)))
}

/// The plan of collection `name`, if shard 0 has written it.
pub async fn read_plan(dir: &Dir, name: &str, shard: Shard) -> anyhow::Result<Option<ShardPlan>> {
    match locations::progress::read_json::<ShardPlan>(dir, &plan_path(name)).await? {
        Some(plan) => Ok(Some(checked(dir, name, plan, shard)?)),
        None => Ok(None),
    }
}

/// Where collection `name`'s plan is, relative to the set.
pub fn plan_path(name: &str) -> String {
    format!("{name}/{SHARD_PLAN_FILE}")
}

fn checked(dir: &Dir, name: &str, plan: ShardPlan, shard: Shard) -> anyhow::Result<ShardPlan> {
    if plan.shards != shard.count {
        return Err(Exit::Refused.because(anyhow::anyhow!(
            "{}: the set is dumped in {} shards, not {}",
            dir.url(&plan_path(name)),
            plan.shards,
            shard.count
        )));
    }
    Ok(plan)
}

/// The keys at ranks ⌈rows·k/N⌉ (k = 1..N-1) of a primary-key scan at
/// `snapshot`: N ranges of equal rows, whatever the keys' distribution.
/// Fewer when there are fewer keys than shards (no repeats).
async fn cut_keys(
    client: &Milvus,
    read: &ReadPlan,
    snapshot: &Snapshot,
    rows: u64,
    shards: u32,
) -> Result<Vec<Pk>, ReadError> {
    let mut ranks = (1..u64::from(shards))
        .map(|k| (u128::from(rows) * u128::from(k)).div_ceil(u128::from(shards)) as u64)
        .filter(|&rank| rank > 0)
        .peekable();
    let mut cuts: Vec<Pk> = Vec::new();
    let mut seen = 0u64;
    let mut after: Option<Pk> = None;
    while ranks.peek().is_some() {
        let window =
            reader::scan_keys(client, read, snapshot, after.as_ref(), MAX_PAGE_ROWS).await?;
        let in_window = window.len() as u64;
        while let Some(&rank) = ranks.peek() {
            if rank > seen + in_window {
                break;
            }
            let key = window[(rank - seen - 1) as usize].clone();
            if cuts.last() != Some(&key) {
                cuts.push(key);
            }
            ranks.next();
        }
        seen += in_window;
        if window.len() < MAX_PAGE_ROWS {
            break;
        }
        after = window.last().cloned();
    }
    Ok(cuts)
}

/// After this shard's last collection: writes the manifest when every
/// shard has recorded its parts, else says which shards the set waits for.
pub async fn complete_if_last(dir: &Dir, shard: Shard) -> anyhow::Result<()> {
    let set = ShardedSet::read(dir).await?;
    let unfinished = set.as_ref().map(ShardedSet::unfinished);
    match (&set, unfinished) {
        (Some(set), Some(unfinished)) if unfinished.is_empty() => {
            if write_manifest(dir, set).await? {
                eprintln!(
                    "milvus-dump: shard {shard} finished last: every shard is done, the manifest is written"
                );
                return Ok(());
            }
        }
        // The progress files go once the manifest is written.
        _ if is_complete(dir).await? => {}
        (Some(_), Some(unfinished)) => {
            let waiting: Vec<String> = unfinished
                .iter()
                .map(|(k, _)| format!("{k}/{}", shard.count))
                .collect();
            eprintln!(
                "milvus-dump: shard {shard} is done; the set completes when shards {} are",
                waiting.join(", ")
            );
            return Ok(());
        }
        _ => return Err(not_sharded(dir)),
    }
    eprintln!("milvus-dump: shard {shard} is done; another shard completed the set");
    Ok(())
}

async fn is_complete(dir: &Dir) -> anyhow::Result<bool> {
    Ok(dir
        .read(record_stream::manifest::MANIFEST_FILE)
        .await?
        .is_some())
}

/// `--finish`: writes the manifest of a sharded set whose shards are all
/// done (incomplete, naming the missing shards, otherwise).
pub async fn finish(dir: &Dir) -> anyhow::Result<()> {
    if is_complete(dir).await? {
        eprintln!("milvus-dump: {} is complete already", dir.url(""));
        return Ok(());
    }
    let set = ShardedSet::read(dir)
        .await?
        .ok_or_else(|| not_sharded(dir))?;
    if !set.unfinished().is_empty() {
        return Err(Exit::Incomplete.because(anyhow::anyhow!(
            "{}: {}",
            dir.url(""),
            set.why_incomplete(&dir.url(""))
        )));
    }
    write_manifest(dir, &set).await?;
    eprintln!(
        "milvus-dump: {}: every shard is done; the manifest is written",
        dir.url("")
    );
    Ok(())
}

fn not_sharded(dir: &Dir) -> anyhow::Error {
    Exit::NotFound.because(anyhow::anyhow!(
        "{} holds no sharded dump in progress (no .in-progress.json naming shards)",
        dir.url("")
    ))
}

/// The manifest of a set whose shards are all done: each collection's
/// parts, shard after shard (the ranges ascend, so the parts stay in key
/// order). False when another process wrote it first.
async fn write_manifest(dir: &Dir, set: &ShardedSet) -> anyhow::Result<bool> {
    let mut entries = Vec::new();
    for (name, plan, records) in &set.collections {
        let plan = plan
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{name}: shards finished without a plan"))?;
        let parts: Vec<_> = records
            .iter()
            .flatten()
            .flat_map(|record| record.parts.iter().cloned())
            .collect();
        entries.push(CollectionEntry {
            header: plan.header.clone(),
            rows: parts.iter().map(|p| p.rows).sum(),
            bytes: parts.iter().map(|p| p.bytes).sum(),
            parts,
        });
    }
    resume::complete_set(dir, &set.state, entries).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_flags_parse_and_refuse_clearly() {
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(
            "0/1".parse::<Shard>().map(|s| s.to_string()),
            Ok("0/1".into())
        );
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2", "0/5000"] {
            let error = bad.parse::<Shard>().unwrap_err();
            assert!(error.contains(bad), "{bad}: {error}");
        }
    }
}
