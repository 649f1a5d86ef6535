//! JSONL → Arrow: reading what [`crate::jsonl`] writes, and headerless rows
//! (Milvus's JSON-import row shape, e.g. from an ingestion pipeline).
//!
//! [`JsonlReader::open`] reads the header (if any) so the caller can choose the
//! fields; [`JsonlReaderStart::with_fields`] then gives a [`JsonlReader`] whose
//! batches have exactly the schema [`crate::layout::arrow_schema`] gives those
//! fields, so the same downstream code serves JSONL and Parquet. The reader
//! hashes what it reads and checks the trailer's row count and checksum when
//! it reaches it. [`verify_stream`] checks a stream's integrity without
//! decoding rows.
//!
//! Values, as [`crate::jsonl`] writes them (the inverse of its encodings):
//! - A missing key or `null` is an Arrow null for a nullable field (Milvus
//!   fills a default value itself); a non-nullable field with a default value
//!   gets the default; otherwise it is an error. A non-nullable JSON field
//!   keeps `null` as its JSON value.
//! - JSON fields keep the value's text verbatim (key order and number text
//!   preserved, no re-serialization); a JSON *string* is JSON text (the
//!   writer's and Milvus's import convention): validated, its content stored.
//! - Sparse vectors are normalized to [`crate::from_milvus::sparse_json`]'s
//!   text (ascending indices), from `{"index": value}` or
//!   `{"indices": [..], "values": [..]}`.
//! - Keys of no chosen field go to the dynamic field (`$meta`) as one object
//!   in input order, with the members of a `"$meta"` object merged in.
//! - `"NaN"` reads as the canonical NaN (a NaN's sign and payload are not
//!   kept by the text form).
//!
//! Each line is parsed once into its members (borrowed key, raw value text),
//! and every value is decoded from its raw text straight into Arrow builders:
//! floats from their text, so `f32` values read back bit-exact (parsing via
//! `f64` could round twice).

use std::io::BufRead;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::header::{FieldSpec, Header, HEADER_KEY};
use crate::jsonl::Trailer;
use crate::layout;

/// A batch is cut early once it holds this many bytes of input, so that giant
/// rows do not pile up in memory.
pub const BATCH_INPUT_BYTES: usize = 32 << 20;

/// A line buffer grown past this by one huge line is given back afterwards.
const LINE_BUFFER_KEEP: usize = 16 << 20;

/// The first line of a stream, classified.
#[derive(Debug)]
pub enum FirstLine {
    /// A `{"$milvus_dump":{...}}` header line.
    Header(Box<Header>),
    /// A `{"$milvus_dump_end":{...}}` trailer line (a stream of no rows).
    Trailer(Trailer),
    /// A row: the input has no header.
    Row,
}

/// Classifies a line, typically the first one of an input (to sniff whether
/// it has a header). `source` names the input in errors (reported at line 1).
pub fn classify_first_line(line: &[u8], source: &str) -> Result<FirstLine> {
    let error = |reason: String| Error::Line {
        input: source.to_string(),
        line: 1,
        reason,
    };
    match classify(line.trim_ascii()).map_err(error)? {
        Kind::Header(raw) => Ok(FirstLine::Header(Box::new(
            parse_header(raw).map_err(error)?,
        ))),
        Kind::Trailer(raw) => Ok(FirstLine::Trailer(parse_trailer(raw).map_err(error)?)),
        Kind::Row(_) => Ok(FirstLine::Row),
    }
}

/// A stream whose header (if any) has been read, waiting for the caller to
/// choose the fields ([`JsonlReaderStart::with_fields`]).
pub struct JsonlReaderStart<R> {
    lines: Lines<R>,
    /// The line buffer holds a line not processed yet (the first row of a
    /// headerless input).
    pending: bool,
}

/// Reads a JSONL stream's rows into Arrow batches.
pub struct JsonlReader<R> {
    lines: Lines<R>,
    pending: bool,
    state: State,
    trailer: Option<Trailer>,
    rows: u64,
    batch_bytes: usize,
    schema: SchemaRef,
    decoder: Decoder,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    Done,
    Failed,
}

impl<R: BufRead> JsonlReader<R> {
    /// Reads the first line of `input`: a header line is parsed (refusing
    /// newer format versions) and returned; anything else (a row: headerless
    /// input) is kept to be read as the first row. Blank lines before it are
    /// skipped. `source` names the input in errors (a path, `stdin`,
    /// `docs/part-00001.jsonl`).
    pub fn open(input: R, source: &str) -> Result<(Option<Header>, JsonlReaderStart<R>)> {
        let mut lines = Lines::new(input, source);
        loop {
            if !lines.next()? {
                return Ok((
                    None,
                    JsonlReaderStart {
                        lines,
                        pending: false,
                    },
                ));
            }
            if lines.text().is_empty() {
                lines.hash();
                continue;
            }
            let header = match classify(lines.text()).map_err(|r| lines.error(r))? {
                Kind::Header(raw) => Some(parse_header(raw).map_err(|r| lines.error(r))?),
                // A row (or a bare trailer): kept for `next_batch`.
                Kind::Trailer(_) | Kind::Row(_) => None,
            };
            let pending = header.is_none();
            if !pending {
                lines.hash();
            }
            return Ok((header, JsonlReaderStart { lines, pending }));
        }
    }

    /// The schema of the batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The next batch of at most `max_rows` rows (fewer when the batch's input
    /// passes [`BATCH_INPUT_BYTES`]); `None` at the end. At the trailer, its
    /// row count and checksum are checked against what was read (an error if
    /// they differ) and only blank lines may follow. After an error the
    /// reader cannot go on.
    pub fn next_batch(&mut self, max_rows: usize) -> Result<Option<RecordBatch>> {
        if self.state == State::Failed {
            return Err(self
                .lines
                .error("cannot read further after an earlier error"));
        }
        let rows = match self.fill(max_rows.max(1)) {
            Ok(rows) => rows,
            Err(e) => {
                // The builders may hold half a row: nothing more can be read.
                self.state = State::Failed;
                return Err(e);
            }
        };
        if rows == 0 {
            return Ok(None);
        }
        let columns = self
            .decoder
            .columns
            .iter_mut()
            .map(Column::finish)
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(Some(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &options,
        )?))
    }

    /// The trailer, once [`Self::next_batch`] returned `None`; `None` if the
    /// input had none (headerless, or truncated: the caller decides).
    pub fn trailer(&self) -> Option<&Trailer> {
        self.trailer.as_ref()
    }

    /// The trailer, or the error a headered stream without one deserves
    /// (`truncated: no trailer after line N`). Call after the last batch.
    pub fn require_trailer(&self) -> Result<&Trailer> {
        self.trailer.as_ref().ok_or_else(|| self.lines.truncated())
    }

    /// Rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.rows
    }

    /// The 1-based number of the last line read (header and blank lines count).
    pub fn line(&self) -> u64 {
        self.lines.line
    }

    /// Decodes rows into the builders until the batch is full; returns its rows.
    fn fill(&mut self, max_rows: usize) -> Result<usize> {
        let mut rows = 0;
        let mut bytes = 0;
        while rows < max_rows && bytes < self.batch_bytes && self.state == State::Reading {
            if !std::mem::take(&mut self.pending) && !self.lines.next()? {
                self.state = State::Done;
                break;
            }
            let text = self.lines.text();
            if text.is_empty() {
                self.lines.hasher.update(&self.lines.buf);
                continue;
            }
            let trailer = match classify(text).map_err(|r| self.lines.error(r))? {
                Kind::Row(members) => {
                    self.decoder
                        .row(&members)
                        .map_err(|r| self.lines.error(r))?;
                    self.lines.hasher.update(&self.lines.buf);
                    bytes += self.lines.buf.len();
                    rows += 1;
                    self.rows += 1;
                    continue;
                }
                Kind::Trailer(raw) => parse_trailer(raw).map_err(|r| self.lines.error(r))?,
                Kind::Header(_) => {
                    return Err(self.lines.error(
                        "a header line in the middle of the stream (concatenated streams?)",
                    ))
                }
            };
            check_trailer(&self.lines, &trailer, self.rows)?;
            self.lines.expect_end()?;
            self.trailer = Some(trailer);
            self.state = State::Done;
        }
        Ok(rows)
    }
}

impl<R: BufRead> JsonlReaderStart<R> {
    /// The input's name, as given to [`JsonlReader::open`].
    pub fn source(&self) -> &str {
        &self.lines.source
    }

    /// Starts reading rows into batches of `fields` (the collection's exported
    /// fields or a subset, in column order, as given to
    /// [`crate::layout::arrow_schema`]).
    ///
    /// Row keys that are not among `fields` go into the dynamic field when
    /// `fields` holds one (`is_dynamic`), except the names in `ignored`
    /// (schema fields deliberately left out, e.g. an auto-id primary key
    /// under `--new-ids` or function outputs), which are skipped. Any other
    /// key is an error.
    pub fn with_fields(self, fields: &[&FieldSpec], ignored: &[&str]) -> Result<JsonlReader<R>> {
        let schema = layout::arrow_schema(fields)?;
        let decoder = Decoder::new(fields, &schema, ignored)?;
        Ok(JsonlReader {
            lines: self.lines,
            pending: self.pending,
            state: State::Reading,
            trailer: None,
            rows: 0,
            batch_bytes: BATCH_INPUT_BYTES,
            schema,
            decoder,
        })
    }
}

/// What [`verify_stream`] found: a complete stream.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedStream {
    /// The stream's header.
    pub header: Header,
    /// Row lines (as the trailer says).
    pub rows: u64,
    /// sha256 (hex) of every byte before the trailer line (as the trailer says).
    pub sha256: String,
}

/// A fast integrity pass over a whole headered JSONL stream, without decoding
/// rows: the sha256 of every byte before the trailer line and the count of row
/// lines, compared with the trailer. Errors (naming `source` and the line): no
/// header, no trailer (truncated), row count mismatch, checksum mismatch,
/// anything but blank lines after the trailer.
pub fn verify_stream<R: BufRead>(input: R, source: &str) -> Result<VerifiedStream> {
    let mut lines = Lines::new(input, source);
    let header = loop {
        if !lines.next()? {
            return Err(lines.cut_at(lines.line + 1, "no header: the input has no lines"));
        }
        if lines.text().is_empty() {
            lines.hash();
            continue;
        }
        let header = match classify(lines.text()) {
            Ok(Kind::Header(raw)) => parse_header(raw).map_err(|r| lines.error(r))?,
            Ok(_) => {
                return Err(lines.error(format!(
                    "no header: the first line is not a {{\"{HEADER_KEY}\":...}} line"
                )))
            }
            Err(reason) => return Err(lines.error(format!("no header: {reason}"))),
        };
        lines.hash();
        break header;
    };
    let mut rows = 0u64;
    let trailer = loop {
        if !lines.next()? {
            return Err(lines.truncated());
        }
        let text = lines.text();
        if text.is_empty() {
            lines.hash();
            continue;
        }
        // Only lines that may be a header or a trailer are parsed.
        if may_be_marker(text) {
            match classify(text) {
                Ok(Kind::Trailer(raw)) => break parse_trailer(raw).map_err(|r| lines.error(r))?,
                Ok(Kind::Header(_)) => {
                    return Err(lines.error(
                        "a header line in the middle of the stream (concatenated streams?)",
                    ))
                }
                _ => {}
            }
        }
        lines.hash();
        rows += 1;
    };
    check_trailer(&lines, &trailer, rows)?;
    lines.expect_end()?;
    Ok(VerifiedStream {
        header,
        rows: trailer.rows,
        sha256: trailer.sha256,
    })
}

/// Whether a (trimmed) line starts like `{"$milvus_dump...`.
fn may_be_marker(text: &[u8]) -> bool {
    text.strip_prefix(b"{")
        .map(|rest| rest.trim_ascii_start().starts_with(b"\"$milvus_dump"))
        .unwrap_or(false)
}

/// Compares a trailer with what was read (`rows`, the hash so far).
fn check_trailer<R>(lines: &Lines<R>, trailer: &Trailer, rows: u64) -> Result<()> {
    if trailer.rows != rows {
        return Err(lines.error(format!(
            "row count mismatch: the trailer says {} rows, the stream has {rows}",
            trailer.rows
        )));
    }
    let sha256 = hex::encode(lines.hasher.clone().finalize());
    if !trailer.sha256.eq_ignore_ascii_case(&sha256) {
        return Err(lines.error(format!(
            "checksum mismatch: the trailer says sha256 {}, the content hashes to {sha256} \
             (the stream is corrupt)",
            trailer.sha256
        )));
    }
    Ok(())
}

/// Lines of the input, read into one reused buffer, hashed on request.
struct Lines<R> {
    input: R,
    source: String,
    /// The current line, newline included.
    buf: Vec<u8>,
    /// 1-based number of the current line (0 before the first).
    line: u64,
    /// The current line is the input's last and has no newline.
    unterminated: bool,
    hasher: Sha256,
}

impl<R> Lines<R> {
    fn new(input: R, source: &str) -> Self {
        Self {
            input,
            source: source.to_string(),
            buf: Vec::with_capacity(1 << 16),
            line: 0,
            unterminated: false,
            hasher: Sha256::new(),
        }
    }

    /// The current line without surrounding whitespace (and newline).
    fn text(&self) -> &[u8] {
        self.buf.trim_ascii()
    }

    /// Adds the current line to the checksum.
    fn hash(&mut self) {
        self.hasher.update(&self.buf);
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        self.error_at(self.line, reason)
    }

    fn error_at(&self, line: u64, reason: impl Into<String>) -> Error {
        // A line the input ends in before its newline was cut off: writers
        // end every line, so whatever is wrong with it, the input is cut.
        if line == self.line && self.unterminated {
            return self.cut_at(line, reason);
        }
        Error::Line {
            input: self.source.clone(),
            line,
            reason: reason.into(),
        }
    }

    fn cut_at(&self, line: u64, reason: impl Into<String>) -> Error {
        Error::Cut {
            input: self.source.clone(),
            line: Some(line),
            reason: reason.into(),
        }
    }

    fn truncated(&self) -> Error {
        self.cut_at(
            self.line + 1,
            format!("truncated: no trailer after line {}", self.line),
        )
    }
}

impl<R: BufRead> Lines<R> {
    /// Reads the next line; false at the end of the input.
    fn next(&mut self) -> Result<bool> {
        if self.buf.capacity() > LINE_BUFFER_KEEP {
            self.buf = Vec::with_capacity(1 << 16);
        } else {
            self.buf.clear();
        }
        match self.input.read_until(b'\n', &mut self.buf) {
            Ok(0) => Ok(false),
            Ok(_) => {
                self.line += 1;
                self.unterminated = self.buf.last() != Some(&b'\n');
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(self.cut_at(self.line + 1, format!("read error: {e}")))
            }
            Err(e) => Err(self.error_at(self.line + 1, format!("read error: {e}"))),
        }
    }

    /// After the trailer: only blank lines until the end.
    fn expect_end(&mut self) -> Result<()> {
        while self.next()? {
            if !self.text().is_empty() {
                return Err(self.error("unexpected data after the trailer"));
            }
        }
        Ok(())
    }
}

mod columns;
mod decoder;

use crate::json_text::{classify, parse_header, parse_trailer, Kind};
use columns::Column;
use decoder::Decoder;

#[cfg(test)]
mod tests;
