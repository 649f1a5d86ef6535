//! A backup set or a stream, checked end to end. Every problem found is
//! reported; nothing stops at the first.

use std::collections::HashSet;

use futures::StreamExt as _;
use locations::{set, Blob, Dir, Spool};
use record_stream::header::Header;
use record_stream::manifest::{Manifest, MANIFEST_FILE};

use crate::part::{decode_blob, decode_reader, Expect, KeyOrder, Sample};
use crate::problem::{Kind, Problem};

/// The marker `--mark-verified` writes into a set after a clean pass.
pub const VERIFIED_FILE: &str = "verified.json";

/// How to verify.
#[derive(Clone, Debug)]
pub struct Options {
    /// Sizes and checksums only, no decoding.
    pub checksums_only: bool,
    /// The only collection of a set to check (and sample); `None`: all
    /// (the only one is sampled).
    pub pick: Option<String>,
    /// Rows to sample for `--against` (0: none).
    pub sample: usize,
    /// Where Parquet read once (stdin, zstd-wrapped) is spooled.
    pub spool: Spool,
    /// Files hashed ahead of the one being decoded.
    pub read_ahead: usize,
}

/// One collection's outcome.
pub struct CollectionResult {
    /// The header (from the manifest or the stream).
    pub header: Option<Header>,
    /// Rows read (or recorded, with `--checksums-only`).
    pub rows: u64,
    /// Bytes of its files.
    pub bytes: u64,
    /// Its files.
    pub parts: usize,
    /// Sampled rows (for `--against`).
    pub sample: Sample,
}

/// Everything a verification found.
pub struct Verified {
    /// `set` or `stream`.
    pub kind: &'static str,
    /// Per collection.
    pub collections: Vec<CollectionResult>,
    /// Problems, in the order found.
    pub problems: Vec<Problem>,
}

impl Verified {
    fn failed(kind: &'static str, problem: Problem) -> Self {
        Self {
            kind,
            collections: Vec::new(),
            problems: vec![problem],
        }
    }
}

/// One thread that decodes every part in turn. Decoding on whichever
/// blocking-pool thread is free would spread the batches' buffers over
/// several malloc arenas, each keeping its high-water mark: peak memory
/// would grow with the number of parts instead of staying flat.
struct DecodeThread {
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl DecodeThread {
    fn start() -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::spawn(move || {
            for job in queue {
                job();
            }
        });
        Self { jobs }
    }

    /// Runs `work` on the thread; `None` if it died (a panic in a decoder).
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .ok()?;
        result.await.ok()
    }
}

/// Whether `name` may sit in a set beside its manifest and parts.
fn is_expected_extra(name: &str, listed: &HashSet<&str>) -> bool {
    name == MANIFEST_FILE
        || name == VERIFIED_FILE
        || name
            .strip_suffix(".sha256")
            .is_some_and(|target| target == MANIFEST_FILE || listed.contains(target))
}

/// Verifies the backup set in `dir`.
pub async fn verify_set(dir: &Dir, options: &Options) -> Verified {
    let manifest: Manifest = match set::read_manifest(dir).await {
        Ok(manifest) => manifest,
        Err(e) => return Verified::failed("set", e.into()),
    };
    let mut problems = Vec::new();
    let files = match dir.files().await {
        Ok(files) => files,
        Err(e) => {
            return Verified::failed(
                "set",
                Problem::new(Kind::Unreachable, dir.url(""), format!("{e:#}")),
            )
        }
    };
    let listed: HashSet<&str> = manifest
        .collections
        .iter()
        .flat_map(|c| c.parts.iter().map(|p| p.path.as_str()))
        .collect();
    for (name, _) in &files {
        if !listed.contains(name.as_str()) && !is_expected_extra(name, &listed) {
            problems.push(Problem::new(
                Kind::Corrupt,
                name.clone(),
                "a file the manifest does not list",
            ));
        }
    }
    let picked = pick(&manifest, options.pick.as_deref());
    if let (Some(name), None) = (&options.pick, picked) {
        problems.push(Problem::new(
            Kind::Incomplete,
            MANIFEST_FILE,
            format!("no collection {name:?} in the set (--pick)"),
        ));
    }
    let decoder = DecodeThread::start();
    let mut collections = Vec::new();
    for (index, entry) in manifest.collections.iter().enumerate() {
        // --pick checks one collection of the set (the others' files are
        // still accounted for by the listing above).
        if options.pick.is_some() && picked != Some(index) {
            continue;
        }
        let name = &entry.header.collection.name;
        let sample_size = if picked == Some(index) {
            options.sample
        } else {
            0
        };
        let mut result = CollectionResult {
            header: Some(entry.header.clone()),
            rows: 0,
            bytes: 0,
            parts: entry.parts.len(),
            sample: Sample::new(sample_size),
        };
        let recorded_rows: u64 = entry.parts.iter().map(|p| p.rows).sum();
        let recorded_bytes: u64 = entry.parts.iter().map(|p| p.bytes).sum();
        if recorded_rows != entry.rows || recorded_bytes != entry.bytes {
            problems.push(Problem::new(
                Kind::Corrupt,
                MANIFEST_FILE,
                format!(
                    "collection {name:?}: records {} rows and {} bytes, its parts add up to {recorded_rows} rows and {recorded_bytes} bytes",
                    entry.rows, entry.bytes
                ),
            ));
        }
        let mut keys = KeyOrder::default();
        let digests = futures::stream::iter(entry.parts.iter())
            .map(|part| async move {
                let blob = dir.blob(&part.path);
                let digest = blob.digest().await;
                (part, blob, digest)
            })
            .buffered(options.read_ahead.max(1));
        futures::pin_mut!(digests);
        let mut partition = None;
        while let Some((part, blob, digest)) = digests.next().await {
            // Parts of one partition each hold its keys ascending; the next
            // partition's keys start over.
            if part.partition != partition {
                partition = part.partition.clone();
                keys = KeyOrder::default();
            }
            let digest = match digest {
                Ok(Some(digest)) => digest,
                Ok(None) => {
                    problems.push(Problem::new(
                        Kind::Incomplete,
                        part.path.clone(),
                        "listed in the manifest but missing",
                    ));
                    keys.skip_to(&part.last_pk);
                    continue;
                }
                Err(e) => {
                    problems.push(e.into());
                    keys.skip_to(&part.last_pk);
                    continue;
                }
            };
            result.bytes += digest.bytes;
            if let Err(e) = set::check_part(part, &digest) {
                problems.push(e.into());
                keys.skip_to(&part.last_pk);
                continue;
            }
            if options.checksums_only {
                result.rows += part.rows;
                continue;
            }
            let header = entry.header.clone();
            let part = part.clone();
            let spool = options.spool.clone();
            let mut sample = std::mem::replace(&mut result.sample, Sample::new(0));
            let joined = decoder
                .run(move || {
                    let expect = Expect {
                        source: &part.path,
                        header: Some(&header),
                        rows: Some(part.rows),
                        first_pk: Some(&part.first_pk),
                        last_pk: Some(&part.last_pk),
                        partition: part.partition.as_deref(),
                    };
                    let decoded = decode_blob(&blob, &expect, &mut keys, &mut sample, &spool);
                    if decoded.is_err() {
                        keys.skip_to(&part.last_pk);
                    }
                    (decoded, keys, sample)
                })
                .await;
            let Some((decoded, returned_keys, returned_sample)) = joined else {
                problems.push(Problem::new(
                    Kind::Corrupt,
                    name.clone(),
                    "the decoder failed (a bug: please report it with the part)",
                ));
                break;
            };
            keys = returned_keys;
            result.sample = returned_sample;
            match decoded {
                Ok(decoded) => result.rows += decoded.rows,
                Err(problem) => problems.push(problem),
            }
        }
        collections.push(result);
    }
    Verified {
        kind: "set",
        collections,
        problems,
    }
}

/// The index of the collection `--pick` names (or the only one).
fn pick(manifest: &Manifest, name: Option<&str>) -> Option<usize> {
    match name {
        Some(name) => manifest
            .collections
            .iter()
            .position(|c| c.header.collection.name == name),
        None if manifest.collections.len() == 1 => Some(0),
        None => None,
    }
}

/// Verifies one stream (a file or an object): decoded completely, its
/// trailer (JSONL) or footer (Parquet) checked. `--checksums-only` checks
/// the trailer's count and checksum (or the footer) without decoding rows.
pub async fn verify_stream(blob: &Blob, options: &Options) -> Verified {
    let source = blob.name();
    let bytes = match blob.size().await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Verified::failed(
                "stream",
                Problem::new(Kind::Incomplete, source, "no such file or object"),
            )
        }
        Err(e) => return Verified::failed("stream", e.into()),
    };
    let blob = blob.clone();
    let options = options.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let mut keys = KeyOrder::default();
        let mut sample = Sample::new(options.sample);
        let expect = Expect {
            source: &source,
            header: None,
            rows: None,
            first_pk: None,
            last_pk: None,
            partition: None,
        };
        let decoded = if options.checksums_only {
            locations::content::prove_complete(&blob, &source, &options.spool)
                .map(|(header, rows)| crate::part::Decoded { header, rows })
                .map_err(Problem::from)
        } else {
            decode_blob(&blob, &expect, &mut keys, &mut sample, &options.spool)
        };
        one_stream(decoded, bytes, sample)
    })
    .await;
    joined.unwrap_or_else(|e| {
        Verified::failed(
            "stream",
            Problem::new(Kind::Corrupt, "stream", format!("decoder failed: {e}")),
        )
    })
}

fn one_stream(
    decoded: Result<crate::part::Decoded, Problem>,
    bytes: u64,
    sample: Sample,
) -> Verified {
    match decoded {
        Ok(decoded) => Verified {
            kind: "stream",
            collections: vec![CollectionResult {
                header: decoded.header,
                rows: decoded.rows,
                bytes,
                parts: 1,
                sample,
            }],
            problems: Vec::new(),
        },
        Err(problem) => Verified::failed("stream", problem),
    }
}

/// Verifies a stream on stdin (decoded as it arrives).
pub fn verify_stdin(options: &Options) -> Verified {
    let mut keys = KeyOrder::default();
    let mut sample = Sample::new(options.sample);
    let expect = Expect {
        source: "stdin",
        header: None,
        rows: None,
        first_pk: None,
        last_pk: None,
        partition: None,
    };
    let counted = CountingReader::default();
    let bytes = counted.bytes.clone();
    let decoded = decode_reader(
        Box::new(counted),
        &expect,
        &mut keys,
        &mut sample,
        &options.spool,
    );
    one_stream(
        decoded,
        bytes.load(std::sync::atomic::Ordering::Relaxed),
        sample,
    )
}

/// Stdin, counting its bytes.
#[derive(Default)]
struct CountingReader {
    bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::io::Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = std::io::stdin().lock().read(buf)?;
        self.bytes
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}
