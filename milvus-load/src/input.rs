//! What to load: a stream (stdin or a file) or a backup set, recognised by
//! content, and checked completely before anything is written.
//!
//! - zstd (by its magic) is decompressed transparently.
//! - Parquet needs its footer: on stdin, or compressed, it is spooled to a
//!   temporary file first (removed on exit).
//! - A JSONL stream with a header must end in its trailer (row count and
//!   sha256): a file is verified in one pass before loading; on stdin it is
//!   spooled and verified first. Headerless JSONL (an ingestion pipeline's
//!   rows) has nothing to verify and is streamed.
//! - A backup set: the manifest, then every part's size and sha256.
//! - Milvus's JSON import document, `{"rows": [{...}, ...]}` (pymilvus's
//!   BulkWriter writes it), is read as the rows it holds, one at a time.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use record_stream::hashing::HashingWriter;
use record_stream::header::Header;
use record_stream::header::HEADER_KEY;
use record_stream::manifest::{Manifest, Part, MANIFEST_FILE};
use record_stream::parquet_read::ParquetInput;
use record_stream::{PARQUET_MAGIC, ZSTD_MAGIC};

/// One readable piece of the input, in load order.
pub enum Unit {
    /// A JSONL file (possibly zstd-compressed), already verified.
    JsonlFile {
        source: String,
        path: PathBuf,
        zstd: bool,
    },
    /// Headerless JSONL read as it arrives.
    JsonlStream {
        source: String,
        reader: Box<dyn BufRead + Send>,
    },
    /// A Parquet file (a spooled copy when the input was stdin or compressed).
    Parquet { source: String, path: PathBuf },
}

impl Unit {
    /// The name errors use.
    pub fn source(&self) -> &str {
        match self {
            Unit::JsonlFile { source, .. }
            | Unit::JsonlStream { source, .. }
            | Unit::Parquet { source, .. } => source,
        }
    }
}

/// The resolved input.
pub struct Input {
    /// The header (`None`: headerless rows, schema from the server or --schema).
    pub header: Option<Header>,
    /// Pieces in load order.
    pub units: Vec<Unit>,
    /// Rows, when known before reading (trailers, footers, manifest).
    pub rows: Option<u64>,
    /// Backup-set parts, parallel to `units` (empty for a stream).
    pub parts: Vec<Part>,
    /// Spooled copies, removed when the input is dropped.
    _spooled: Vec<tempfile::TempPath>,
}

/// Where temporary spool files go.
#[derive(Clone, Debug)]
pub struct Spool {
    /// Directory for spooled stdin / decompressed Parquet (default: $TMPDIR).
    pub dir: Option<PathBuf>,
}

impl Spool {
    fn file(&self) -> Result<tempfile::NamedTempFile> {
        let builder = tempfile::Builder::new()
            .prefix(".milvus-load-spool-")
            .tempfile_in(self.dir.clone().unwrap_or_else(std::env::temp_dir));
        builder.context("cannot create a spool file (set --spool-dir or TMPDIR)")
    }

    /// Copies `reader` into a new spool file.
    fn copy(&self, reader: &mut dyn Read, what: &str) -> Result<tempfile::TempPath> {
        let mut file = self.file()?;
        io::copy(reader, file.as_file_mut())
            .with_context(|| format!("spooling {what} to {}", file.path().display()))?;
        file.as_file_mut().flush()?;
        Ok(file.into_temp_path())
    }
}

fn peek(reader: &mut dyn BufRead) -> io::Result<Vec<u8>> {
    Ok(reader.fill_buf()?.iter().take(4).copied().collect())
}

/// Whether the first line of `reader` (not consumed) is a stream header.
fn starts_with_header(reader: &mut dyn BufRead) -> io::Result<bool> {
    let start = reader.fill_buf()?;
    let text = String::from_utf8_lossy(&start[..start.len().min(64)]);
    Ok(text
        .trim_start()
        .starts_with(&format!("{{\"{HEADER_KEY}\"")))
}

/// Whether the input is a JSON import document: `{"rows": [` then an object.
fn is_rows_document(reader: &mut dyn BufRead) -> io::Result<bool> {
    let start = reader.fill_buf()?;
    let text: String = String::from_utf8_lossy(&start[..start.len().min(256)])
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Ok(text.starts_with("{\"rows\":[{") || text == "{\"rows\":[]}")
}

/// Reads a `{"rows": [...]}` document as JSONL: each element of the array on
/// its own line. Raw line breaks can only be whitespace in JSON (inside
/// strings they are escaped), so they become spaces; commas between elements
/// become line breaks. Python's bare `NaN`, `Infinity` and `-Infinity`
/// (BulkWriter writes them) become the strings the stream format uses.
/// Constant memory, whatever the document's size.
pub struct RowsDocument<R> {
    inner: R,
    state: DocState,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Inside a bare `NaN`/`Infinity` token (quoted on the way out).
    in_bare: bool,
    /// A `-` outside strings not yet written: `-Infinity` or a number.
    minus: bool,
    /// Converted bytes not yet returned.
    pending: Vec<u8>,
    taken: usize,
}

#[derive(PartialEq)]
enum DocState {
    /// Before the array's `[`.
    Prelude,
    /// Inside the array.
    Rows,
    /// After its `]`.
    Done,
}

impl<R: BufRead> RowsDocument<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            state: DocState::Prelude,
            depth: 0,
            in_string: false,
            escaped: false,
            in_bare: false,
            minus: false,
            pending: Vec::with_capacity(1 << 16),
            taken: 0,
        }
    }

    fn convert(&mut self, byte: u8) {
        let out = &mut self.pending;
        match self.state {
            DocState::Prelude => {
                if byte == b'[' {
                    self.state = DocState::Rows;
                }
            }
            DocState::Done => {}
            DocState::Rows if self.in_string => {
                out.push(byte);
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                }
            }
            DocState::Rows => {
                if self.in_bare {
                    if byte.is_ascii_alphabetic() {
                        out.push(byte);
                        return;
                    }
                    out.push(b'"');
                    self.in_bare = false;
                }
                if self.minus {
                    self.minus = false;
                    if byte == b'I' {
                        out.extend_from_slice(b"\"-I");
                        self.in_bare = true;
                        return;
                    }
                    out.push(b'-');
                }
                match byte {
                    b'"' => {
                        self.in_string = true;
                        out.push(byte);
                    }
                    b'-' => self.minus = true,
                    b'N' | b'I' => {
                        out.extend_from_slice(&[b'"', byte]);
                        self.in_bare = true;
                    }
                    b'{' | b'[' => {
                        self.depth += 1;
                        out.push(byte);
                    }
                    b'}' | b']' if self.depth > 0 => {
                        self.depth -= 1;
                        out.push(byte);
                    }
                    // The array's own `]`.
                    b']' => {
                        self.state = DocState::Done;
                        out.push(b'\n');
                    }
                    b',' if self.depth == 0 => out.push(b'\n'),
                    b'\n' | b'\r' => out.push(b' '),
                    other => out.push(other),
                }
            }
        }
    }
}

impl<R: BufRead> Read for RowsDocument<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.taken == self.pending.len() {
            self.pending.clear();
            self.taken = 0;
            if self.state == DocState::Done {
                return Ok(0);
            }
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                if self.state == DocState::Rows {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the \"rows\" array is not closed: the document is truncated",
                    ));
                }
                self.state = DocState::Done;
                return Ok(0);
            }
            let chunk = available.to_vec();
            self.inner.consume(chunk.len());
            for byte in chunk {
                self.convert(byte);
            }
        }
        let n = out.len().min(self.pending.len() - self.taken);
        out[..n].copy_from_slice(&self.pending[self.taken..self.taken + n]);
        self.taken += n;
        Ok(n)
    }
}

/// Opens `location`: `-` for stdin, a file, or a backup-set directory.
/// `pick` chooses a collection out of a set holding several.
pub fn open(location: &str, pick: Option<&str>, spool: &Spool) -> Result<Input> {
    if location == "-" {
        return open_stdin(spool);
    }
    let path = Path::new(location);
    if path.is_dir() {
        return open_set(path, pick);
    }
    let file = File::open(path).with_context(|| format!("cannot open {location}"))?;
    let mut reader = BufReader::new(file);
    let magic = peek(&mut reader)?;
    if magic == ZSTD_MAGIC {
        let mut decoder = BufReader::new(zstd::Decoder::new(File::open(path)?)?);
        if peek(&mut decoder)? == PARQUET_MAGIC {
            let spooled = spool.copy(&mut decoder, location)?;
            return parquet_input(location, spooled.to_path_buf(), vec![spooled]);
        }
        return jsonl_file(location, path, true);
    }
    if magic == PARQUET_MAGIC {
        return parquet_input(location, path.to_path_buf(), Vec::new());
    }
    jsonl_file(location, path, false)
}

fn parquet_input(source: &str, path: PathBuf, spooled: Vec<tempfile::TempPath>) -> Result<Input> {
    let parquet = ParquetInput::open(&path, source)?;
    Ok(Input {
        header: parquet.header().cloned(),
        rows: Some(parquet.rows()),
        units: vec![Unit::Parquet {
            source: source.to_string(),
            path,
        }],
        parts: Vec::new(),
        _spooled: spooled,
    })
}

/// Opens a JSONL file for reading from the start (decompressing if needed).
pub fn jsonl_reader(path: &Path, zstd: bool) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(if zstd {
        Box::new(BufReader::with_capacity(1 << 20, zstd::Decoder::new(file)?))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, file))
    })
}

fn jsonl_file(source: &str, path: &Path, zstd: bool) -> Result<Input> {
    let mut reader = jsonl_reader(path, zstd)?;
    if is_rows_document(&mut reader)? {
        return Ok(Input {
            header: None,
            rows: None,
            units: vec![Unit::JsonlStream {
                source: source.to_string(),
                reader: Box::new(BufReader::new(RowsDocument::new(reader))),
            }],
            parts: Vec::new(),
            _spooled: Vec::new(),
        });
    }
    if !starts_with_header(&mut reader)? {
        // Headerless rows: nothing to verify up front.
        return Ok(Input {
            header: None,
            rows: None,
            units: vec![Unit::JsonlStream {
                source: source.to_string(),
                reader,
            }],
            parts: Vec::new(),
            _spooled: Vec::new(),
        });
    }
    let verified = record_stream::jsonl_read::verify_stream(reader, source)?;
    Ok(Input {
        header: Some(verified.header),
        rows: Some(verified.rows),
        units: vec![Unit::JsonlFile {
            source: source.to_string(),
            path: path.to_path_buf(),
            zstd,
        }],
        parts: Vec::new(),
        _spooled: Vec::new(),
    })
}

fn open_stdin(spool: &Spool) -> Result<Input> {
    let mut stdin: Box<dyn BufRead + Send> =
        Box::new(BufReader::with_capacity(1 << 20, io::stdin()));
    if peek(&mut stdin)? == ZSTD_MAGIC {
        stdin = Box::new(BufReader::with_capacity(
            1 << 20,
            zstd::Decoder::with_buffer(stdin)?,
        ));
    }
    if peek(&mut stdin)? == PARQUET_MAGIC {
        let spooled = spool.copy(&mut stdin, "stdin")?;
        return parquet_input("stdin", spooled.to_path_buf(), vec![spooled]);
    }
    if !starts_with_header(&mut stdin)? {
        return Ok(Input {
            header: None,
            rows: None,
            units: vec![Unit::JsonlStream {
                source: "stdin".into(),
                reader: stdin,
            }],
            parts: Vec::new(),
            _spooled: Vec::new(),
        });
    }
    // A headered stream is proven complete (trailer, checksum) before the
    // first row is written: keep a copy while checking it.
    let spooled = spool.copy(&mut stdin, "stdin")?;
    let mut input = jsonl_file("stdin", &spooled, false)?;
    input._spooled.push(spooled);
    Ok(input)
}

/// sha256 and size of a file.
fn file_digest(path: &Path) -> Result<(u64, String)> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = HashingWriter::new(io::sink());
    io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    let (_, bytes, sha256) = hasher.finish();
    Ok((bytes, sha256))
}

fn open_set(dir: &Path, pick: Option<&str>) -> Result<Input> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "{}: no {MANIFEST_FILE}: not a backup set, or an incomplete one (milvus-dump writes the manifest last)",
            dir.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a valid manifest", manifest_path.display()))?;
    let names: Vec<&str> = manifest
        .collections
        .iter()
        .map(|c| c.header.collection.name.as_str())
        .collect();
    let entry = match pick {
        Some(name) => manifest
            .collections
            .iter()
            .find(|c| c.header.collection.name == name)
            .with_context(|| {
                format!(
                    "{}: no collection {name:?} in the set (it has {names:?})",
                    dir.display()
                )
            })?,
        None if manifest.collections.len() == 1 => &manifest.collections[0],
        None => bail!(
            "{}: the set holds {} collections {names:?}: choose one with --pick NAME",
            dir.display(),
            names.len()
        ),
    };
    let compressed = manifest.format.ends_with(".zst");
    let mut units = Vec::new();
    for part in &entry.parts {
        let path = dir.join(&part.path);
        let source = part.path.clone();
        let (bytes, sha256) = file_digest(&path).with_context(|| format!("part {source}"))?;
        if bytes != part.bytes || sha256 != part.sha256 {
            bail!(
                "part {source}: {bytes} bytes with sha256 {sha256}, but the manifest records {} bytes with sha256 {}: the set is corrupt",
                part.bytes,
                part.sha256
            );
        }
        units.push(if manifest.format.starts_with("parquet") {
            if compressed {
                bail!("part {source}: zstd-compressed Parquet parts are not supported");
            }
            Unit::Parquet { source, path }
        } else {
            Unit::JsonlFile {
                source,
                path,
                zstd: compressed,
            }
        });
    }
    Ok(Input {
        header: Some(entry.header.clone()),
        rows: Some(entry.rows),
        units,
        parts: entry.parts.clone(),
        _spooled: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rows_document_reads_as_one_row_per_line() {
        let doc = "{\n  \"rows\": [\n    {\n      \"id\": 1,\n      \"s\": \"a,]\\\"}\\n\",\n      \"v\": [1, -2, NaN, -Infinity, Infinity]\n    },\n    {\"id\": 2, \"o\": {\"k\": [3]}}\n  ]\n}\n";
        assert!(is_rows_document(&mut doc.as_bytes()).unwrap());
        let mut text = String::new();
        RowsDocument::new(doc.as_bytes())
            .read_to_string(&mut text)
            .unwrap();
        let rows: Vec<serde_json::Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["s"], "a,]\"}\n");
        assert_eq!(rows[1]["o"]["k"][0], 3);
        assert_eq!(
            rows[0]["v"],
            serde_json::json!([1, -2, "NaN", "-Infinity", "Infinity"])
        );
        assert!(!is_rows_document(&mut &b"{\"id\": 1}\n"[..]).unwrap());
        let mut truncated = String::new();
        assert!(RowsDocument::new(&b"{\"rows\": [{\"id\": 1},"[..])
            .read_to_string(&mut truncated)
            .is_err());
    }
}
