//! Where batches go: one stream (stdout or a file), or a backup set of parts.

use std::io::{self, Write};

use arrow::datatypes::SchemaRef;
use locations::write::FileWriter;
use locations::Dir;
use record_stream::hashing::HashingWriter;
use record_stream::header::{FieldSpec, Header};
use record_stream::jsonl::JsonlWriter;
use record_stream::manifest::{CollectionEntry, Part};
use record_stream::parquet::ParquetWriter;

use crate::reader::Page;
use milvus_model::Pk;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Header line, one JSON object per row, trailer line.
    Jsonl,
    /// Parquet in Milvus's bulk-import layout, header in the footer metadata.
    Parquet,
}

impl Format {
    /// File extension: JSONL compressed with zstd is `jsonl.zst`; Parquet
    /// compresses inside its column chunks and stays `parquet`.
    pub fn extension(self, zstd: bool) -> &'static str {
        match (self, zstd) {
            (Format::Jsonl, false) => "jsonl",
            (Format::Jsonl, true) => "jsonl.zst",
            (Format::Parquet, _) => "parquet",
        }
    }
}

/// Optional zstd compression around a writer.
pub enum Compressed<W: Write> {
    /// As is.
    Plain(W),
    /// zstd-compressed.
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Compressed<W> {
    /// Wraps `out`, compressing at `level` when given.
    pub fn new(out: W, level: Option<i32>) -> io::Result<Self> {
        Ok(match level {
            Some(level) => Compressed::Zstd(zstd::stream::write::Encoder::new(out, level)?),
            None => Compressed::Plain(out),
        })
    }

    /// Ends the compressed frame and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Compressed::Plain(w) => Ok(w),
            Compressed::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Compressed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressed::Plain(w) => w.write(buf),
            Compressed::Zstd(e) => e.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressed::Plain(w) => w.flush(),
            Compressed::Zstd(e) => e.flush(),
        }
    }
}

/// A JSONL or Parquet encoder on a writer.
pub enum Encoder<W: Write + Send> {
    /// JSONL, in a zstd frame when compressed.
    Jsonl(JsonlWriter<Compressed<W>>),
    /// Parquet (compressed inside, by column chunk).
    Parquet(ParquetWriter<W>),
}

impl<W: Write + Send> Encoder<W> {
    /// Starts a stream (writes the JSONL header line at once), compressed
    /// with zstd at `zstd_level` when given: JSONL as one zstd frame,
    /// Parquet with its own zstd codec, so the file stays a Parquet file
    /// (readable by Milvus's Import, pyarrow and ranged reads).
    pub fn new(
        format: Format,
        out: W,
        header: &Header,
        fields: &[FieldSpec],
        schema: SchemaRef,
        zstd_level: Option<i32>,
    ) -> record_stream::Result<Self> {
        Ok(match format {
            Format::Jsonl => Encoder::Jsonl(JsonlWriter::new(
                Compressed::new(out, zstd_level)?,
                header,
                fields.to_vec(),
            )?),
            Format::Parquet => {
                Encoder::Parquet(ParquetWriter::new(out, header, fields, schema, zstd_level)?)
            }
        })
    }

    /// Writes one page.
    pub fn write(&mut self, page: &Page) -> record_stream::Result<()> {
        match self {
            Encoder::Jsonl(w) => w.write_batch(&page.batch),
            Encoder::Parquet(w) => w.write_batch(&page.batch),
        }
    }

    /// Writes the trailer/footer and returns the writer. `range` is the first
    /// and last key, recorded in Parquet metadata (JSONL parts: in the manifest).
    pub fn finish(self, range: Option<(&Pk, &Pk)>) -> record_stream::Result<W> {
        match self {
            Encoder::Jsonl(w) => Ok(w.finish()?.0.finish()?),
            Encoder::Parquet(mut w) => {
                if let Some((first, last)) = range {
                    w.add_metadata("milvus_dump.first_pk", first.to_json().to_string());
                    w.add_metadata("milvus_dump.last_pk", last.to_json().to_string());
                }
                w.finish()
            }
        }
    }

    /// Bytes produced so far (before compression; Parquet: flushed row groups).
    pub fn bytes(&self) -> u64 {
        match self {
            Encoder::Jsonl(w) => w.bytes(),
            Encoder::Parquet(w) => w.bytes_written() as u64,
        }
    }
}

type PartFile = HashingWriter<FileWriter>;

/// One collection's series of parts in a backup set. It runs on the
/// writer thread: its calls block (the set's location may be an object
/// store, reached through the runtime).
pub struct PartSeries {
    dir: Dir,
    runtime: tokio::runtime::Handle,
    /// Where the parts go, relative to the set: the collection's directory,
    /// or a shard's inside it.
    series_dir: String,
    /// Write one empty part when there are no rows (so an empty collection
    /// restores as empty); a shard other than the first writes none.
    empty_part: bool,
    format: Format,
    zstd: Option<i32>,
    part_rows: Option<u64>,
    part_bytes: Option<u64>,
    header: Header,
    fields: Vec<FieldSpec>,
    pk_index: usize,
    schema: SchemaRef,
    open: Option<OpenPart>,
    parts: Vec<Part>,
    /// The partition of the rows written next, when parts hold one
    /// partition each.
    partition: Option<String>,
}

struct OpenPart {
    encoder: Encoder<PartFile>,
    relative: String,
    partition: Option<String>,
    rows: u64,
    first_pk: Option<Pk>,
    last_pk: Option<Pk>,
}

/// Bytes per part (before compression) when no limit is given: small
/// enough for milvus-load to fetch a part from object storage whole and
/// read it once (checksum and rows from the same bytes).
pub const DEFAULT_PART_BYTES: u64 = 32 << 20;
const _: () = assert!(DEFAULT_PART_BYTES < locations::input::IN_MEMORY_PART_LIMIT);

/// Limits of one part.
#[derive(Clone, Copy, Debug)]
pub struct PartLimits {
    /// Close a part after this many rows.
    pub rows: Option<u64>,
    /// Close a part once it holds this many (uncompressed) bytes.
    pub bytes: Option<u64>,
}

impl PartSeries {
    /// A series under `dir/<series_dir>/`; call inside the runtime.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dir: &Dir,
        series_dir: String,
        empty_part: bool,
        format: Format,
        zstd: Option<i32>,
        limits: PartLimits,
        header: Header,
        fields: Vec<FieldSpec>,
        schema: SchemaRef,
    ) -> Self {
        let pk_index = fields.iter().position(|f| f.is_primary_key).unwrap_or(0);
        Self {
            dir: dir.clone(),
            runtime: tokio::runtime::Handle::current(),
            series_dir,
            empty_part,
            format,
            zstd,
            part_rows: limits.rows,
            part_bytes: limits.bytes,
            header,
            fields,
            pk_index,
            schema,
            open: None,
            parts: Vec::new(),
            partition: None,
        }
    }

    /// Continues after the complete parts of an interrupted run.
    pub fn resume_after(&mut self, parts: Vec<Part>) {
        self.parts = parts;
    }

    /// The rows written from now on are `partition`'s: the part open
    /// (another partition's) is closed before the next row, so that every
    /// part holds one partition's rows, named in its record.
    pub fn set_partition(&mut self, partition: Option<String>) {
        self.partition = partition;
    }

    /// Writes a page into the current part, rotating parts at the limits
    /// (a page is split where a part reaches its row limit) and where the
    /// partition changes.
    pub fn write(&mut self, page: &Page) -> anyhow::Result<()> {
        if self
            .open
            .as_ref()
            .is_some_and(|part| part.partition != self.partition)
        {
            self.close_part()?;
        }
        let rows = page.batch.num_rows();
        let room = match (&self.open, self.part_rows) {
            (Some(part), Some(limit)) => limit.saturating_sub(part.rows),
            (None, Some(limit)) => limit,
            (_, None) => u64::MAX,
        };
        if (rows as u64) > room {
            let room = room as usize;
            let pk_index = self.pk_index;
            let (head, tail) = page
                .slice(0, room, pk_index)
                .zip(page.slice(room, rows - room, pk_index))
                .ok_or_else(|| anyhow::anyhow!("cannot split a page at row {room}"))?;
            self.write(&head)?;
            return self.write(&tail);
        }
        if self.open.is_none() {
            self.open = Some(self.open_part()?);
        }
        let Some(part) = self.open.as_mut() else {
            unreachable!("opened above")
        };
        part.encoder.write(page)?;
        part.rows += page.batch.num_rows() as u64;
        part.first_pk.get_or_insert_with(|| page.first_pk.clone());
        part.last_pk = Some(page.last_pk.clone());
        let full = self.part_rows.is_some_and(|n| part.rows >= n)
            || self.part_bytes.is_some_and(|n| part.encoder.bytes() >= n);
        if full {
            self.close_part()?;
        }
        Ok(())
    }

    fn open_part(&self) -> anyhow::Result<OpenPart> {
        let relative = format!(
            "{}/part-{:05}.{}",
            self.series_dir,
            self.parts.len(),
            self.format.extension(self.zstd.is_some())
        );
        let out = HashingWriter::new(self.dir.create_streamed(&relative)?);
        let encoder = Encoder::new(
            self.format,
            out,
            &self.header,
            &self.fields,
            self.schema.clone(),
            self.zstd,
        )?;
        Ok(OpenPart {
            encoder,
            relative,
            partition: self.partition.clone(),
            rows: 0,
            first_pk: None,
            last_pk: None,
        })
    }

    /// Completes the open part: footer, then its final name (a rename, or
    /// the multipart upload's completion), then its record.
    fn close_part(&mut self) -> anyhow::Result<()> {
        let Some(part) = self.open.take() else {
            return Ok(());
        };
        let range = part.first_pk.as_ref().zip(part.last_pk.as_ref());
        let (writer, bytes, sha256) = part.encoder.finish(range)?.finish();
        writer.finish()?;
        let record = Part {
            path: part.relative,
            rows: part.rows,
            bytes,
            sha256,
            first_pk: part
                .first_pk
                .map_or(serde_json::Value::Null, |p| p.to_json()),
            last_pk: part
                .last_pk
                .map_or(serde_json::Value::Null, |p| p.to_json()),
            partition: part.partition,
        };
        // The part's record makes it count for --resume.
        let record_path = crate::resume::part_record_path(&record.path);
        self.runtime
            .block_on(self.dir.write(&record_path, serde_json::to_vec(&record)?))?;
        self.parts.push(record);
        Ok(())
    }

    /// Closes the last part and returns the series' manifest entry. An
    /// empty collection still gets one (empty) part, so it restores as empty.
    pub fn finish(mut self) -> anyhow::Result<CollectionEntry> {
        if self.open.is_none() && self.parts.is_empty() && self.empty_part {
            self.open = Some(self.open_part()?);
        }
        self.close_part()?;
        Ok(CollectionEntry {
            rows: self.parts.iter().map(|p| p.rows).sum(),
            bytes: self.parts.iter().map(|p| p.bytes).sum(),
            header: self.header,
            parts: self.parts,
        })
    }
}
