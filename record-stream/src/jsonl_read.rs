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

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::BufRead;

use arrow::array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    Int8Builder, NullBufferBuilder, StringBuilder, UInt8Builder,
};
use arrow::array::{ArrayRef, ListArray, RecordBatch, RecordBatchOptions};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType as ArrowType, FieldRef, SchemaRef};
use milvus_model::proto::schema::DataType;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::header::{FieldSpec, Header, DYNAMIC_FIELD, HEADER_KEY};
use crate::jsonl::{write_f32, write_json_string, Trailer, TRAILER_KEY};
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

// ---------------------------------------------------------------------------
// Parsing a line into its members.

/// An object's members in input order: key (borrowed unless it had escapes)
/// and the raw text of the value.
type Members<'a> = Vec<(Cow<'a, str>, &'a RawValue)>;

/// What a line is.
enum Kind<'a> {
    Header(&'a RawValue),
    Trailer(&'a RawValue),
    Row(Members<'a>),
}

fn classify(text: &[u8]) -> std::result::Result<Kind<'_>, String> {
    let Object(members) =
        serde_json::from_slice(text).map_err(|e| format!("invalid JSON row: {e}"))?;
    if let [(key, value)] = members.as_slice() {
        match key.as_ref() {
            HEADER_KEY => return Ok(Kind::Header(value)),
            TRAILER_KEY => return Ok(Kind::Trailer(value)),
            _ => {}
        }
    }
    Ok(Kind::Row(members))
}

fn parse_header(raw: &RawValue) -> std::result::Result<Header, String> {
    let value: serde_json::Value =
        serde_json::from_str(raw.get()).map_err(|e| format!("header: {e}"))?;
    Header::from_json(value).map_err(|e| e.to_string())
}

fn parse_trailer(raw: &RawValue) -> std::result::Result<Trailer, String> {
    serde_json::from_str(raw.get()).map_err(|e| format!("invalid trailer: {e}"))
}

/// A JSON object's members, in order.
struct Object<'a>(Members<'a>);

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(Text(key)) = map.next_key()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, value));
                }
                Ok(Object(members))
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

/// A JSON string, borrowed when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

/// The members of the JSON object `text` (already validated JSON, or not).
fn parse_object(text: &str) -> std::result::Result<Members<'_>, String> {
    match serde_json::from_str::<Object>(text) {
        Ok(Object(members)) => Ok(members),
        Err(_) => Err(format!("expected an object, got {}", kind_of(text))),
    }
}

/// Calls `f` on the raw text of every element of the JSON array `raw`;
/// returns the element count. `f`'s error is returned as is, prefixed with
/// the element's position.
fn for_each_element<'a>(
    raw: &'a str,
    mut f: impl FnMut(&'a str) -> std::result::Result<(), String>,
) -> std::result::Result<usize, String> {
    struct Elements<'f, F> {
        f: &'f mut F,
        failure: &'f mut Option<String>,
    }
    impl<'de, F: FnMut(&'de str) -> std::result::Result<(), String>> Visitor<'de> for Elements<'_, F> {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while let Some(value) = seq.next_element::<&'de RawValue>()? {
                if let Err(reason) = (self.f)(value.get()) {
                    *self.failure = Some(format!("element {n}: {reason}"));
                    return Err(de::Error::custom("element rejected"));
                }
                n += 1;
            }
            Ok(n)
        }
    }
    if !raw.starts_with('[') {
        return Err(format!("expected an array, got {}", kind_of(raw)));
    }
    let mut failure = None;
    let mut d = serde_json::Deserializer::from_str(raw);
    let result = d.deserialize_seq(Elements {
        f: &mut f,
        failure: &mut failure,
    });
    match (result, failure) {
        (_, Some(reason)) => Err(reason),
        (Ok(n), None) => Ok(n),
        (Err(e), None) => Err(format!("invalid array: {e}")),
    }
}

// ---------------------------------------------------------------------------
// Decoding values from their raw JSON text.

/// What kind of JSON value `raw` is, for error messages.
fn kind_of(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn parse_bool(raw: &str) -> std::result::Result<bool, String> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected true or false, got {}", kind_of(raw))),
    }
}

fn parse_int<T: TryFrom<i64>>(raw: &str, what: &str) -> std::result::Result<T, String> {
    match raw.parse::<i64>() {
        Ok(v) => T::try_from(v).map_err(|_| format!("{v} is out of range for {what}")),
        Err(_) => {
            let digits = raw.strip_prefix('-').unwrap_or(raw);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                Err(format!("{raw} is out of range for {what}"))
            } else if kind_of(raw) == "a number" {
                Err(format!("expected an integer ({what}), got {raw}"))
            } else {
                Err(format!(
                    "expected an integer ({what}), got {}",
                    kind_of(raw)
                ))
            }
        }
    }
}

/// The non-finite floats, written as strings.
fn non_finite(raw: &str) -> Option<f64> {
    match raw {
        "\"NaN\"" => Some(f64::NAN),
        "\"Infinity\"" => Some(f64::INFINITY),
        "\"-Infinity\"" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn not_a_number(raw: &str) -> String {
    if raw.starts_with('"') {
        format!(
            "expected a number, got the string {raw} \
             (only \"NaN\", \"Infinity\" and \"-Infinity\" are allowed)"
        )
    } else {
        format!("expected a number, got {}", kind_of(raw))
    }
}

/// An f32 from its text, bit-exact (no detour through f64).
fn parse_f32(raw: &str) -> std::result::Result<f32, String> {
    if let Some(v) = non_finite(raw) {
        return Ok(if v.is_nan() {
            f32::NAN
        } else if v > 0.0 {
            f32::INFINITY
        } else {
            f32::NEG_INFINITY
        });
    }
    if kind_of(raw) != "a number" {
        return Err(not_a_number(raw));
    }
    let v: f32 = raw.parse().map_err(|_| not_a_number(raw))?;
    if v.is_infinite() {
        return Err(format!("{raw} is out of range for Float"));
    }
    Ok(v)
}

fn parse_f64(raw: &str) -> std::result::Result<f64, String> {
    if let Some(v) = non_finite(raw) {
        return Ok(v);
    }
    if kind_of(raw) != "a number" {
        return Err(not_a_number(raw));
    }
    let v: f64 = raw.parse().map_err(|_| not_a_number(raw))?;
    if v.is_infinite() {
        return Err(format!("{raw} is out of range for Double"));
    }
    Ok(v)
}

/// A JSON string's value (borrowed unless it has escapes).
fn parse_str(raw: &str) -> std::result::Result<Cow<'_, str>, String> {
    if !raw.starts_with('"') {
        return Err(format!("expected a string, got {}", kind_of(raw)));
    }
    if !raw.contains('\\') {
        // Valid JSON (checked when the line was parsed): just the quotes to drop.
        return Ok(Cow::Borrowed(&raw[1..raw.len() - 1]));
    }
    serde_json::from_str::<Text>(raw)
        .map(|t| t.0)
        .map_err(|e| format!("invalid string: {e}"))
}

/// The canonical text of a sparse vector (what
/// [`crate::from_milvus::sparse_json`] writes): `{"index": value, ...}` by
/// ascending index. Accepts that form (any order), `{"indices": [..],
/// "values": [..]}`, or either as a JSON string.
fn sparse_text(
    raw: &str,
    pairs: &mut Vec<(u32, f32)>,
    out: &mut String,
) -> std::result::Result<(), String> {
    if raw.starts_with('"') {
        let inner = parse_str(raw)?;
        return sparse_text(inner.trim(), pairs, out);
    }
    let members = parse_object(raw)?;
    pairs.clear();
    let value = |raw: &str| -> std::result::Result<f32, String> {
        let v = parse_f32(raw)?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("sparse value {raw} is not finite"))
        }
    };
    let mut indices = None;
    let mut values = None;
    if members.len() == 2 {
        for (key, raw) in &members {
            match key.as_ref() {
                "indices" => indices = Some(raw.get()),
                "values" => values = Some(raw.get()),
                _ => {}
            }
        }
    }
    if let (Some(indices), Some(values)) = (indices, values) {
        for_each_element(indices, |raw| {
            pairs.push((parse_int(raw, "a sparse index (u32)")?, 0.0));
            Ok(())
        })
        .map_err(|e| format!("indices: {e}"))?;
        let mut n = 0;
        let count = for_each_element(values, |raw| {
            if let Some(pair) = pairs.get_mut(n) {
                pair.1 = value(raw)?;
            }
            n += 1;
            Ok(())
        })
        .map_err(|e| format!("values: {e}"))?;
        if count != pairs.len() {
            return Err(format!("{} indices but {count} values", pairs.len()));
        }
    } else {
        for (key, raw) in &members {
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "sparse index {key:?} is not a non-negative integer"
                ));
            }
            let index = key
                .parse::<u32>()
                .map_err(|_| format!("sparse index {key} is out of range (u32)"))?;
            pairs.push((index, value(raw.get())?));
        }
    }
    pairs.sort_unstable_by_key(|p| p.0);
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("sparse index {} appears twice", w[0].0));
    }
    out.clear();
    out.push('{');
    let mut int = itoa::Buffer::new();
    for (i, (index, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(int.format(*index));
        out.push_str("\":");
        write_f32(out, *v);
    }
    out.push('}');
    Ok(())
}

// ---------------------------------------------------------------------------
// Columns.

/// How the elements of a JSON array are read into list items.
#[derive(Clone, Copy)]
enum Item {
    /// As the item type says.
    Plain,
    /// Numbers stored as little-endian f16 bytes.
    F16,
    /// Numbers stored as little-endian bf16 bytes.
    BF16,
}

/// Values of one Arrow type: a scalar column's, or a list column's items.
enum Values {
    Bool(BooleanBuilder),
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    U8(UInt8Builder),
    Str(StringBuilder),
}

impl Values {
    fn new(field: &str, arrow_type: &ArrowType) -> Result<Self> {
        Ok(match arrow_type {
            ArrowType::Boolean => Values::Bool(BooleanBuilder::new()),
            ArrowType::Int8 => Values::I8(Int8Builder::new()),
            ArrowType::Int16 => Values::I16(Int16Builder::new()),
            ArrowType::Int32 => Values::I32(Int32Builder::new()),
            ArrowType::Int64 => Values::I64(Int64Builder::new()),
            ArrowType::Float32 => Values::F32(Float32Builder::new()),
            ArrowType::Float64 => Values::F64(Float64Builder::new()),
            ArrowType::UInt8 => Values::U8(UInt8Builder::new()),
            ArrowType::Utf8 => Values::Str(StringBuilder::new()),
            other => {
                return Err(Error::field(
                    field,
                    format!("cannot read Arrow type {other} from JSON"),
                ))
            }
        })
    }

    fn len(&self) -> usize {
        use arrow::array::ArrayBuilder as _;
        match self {
            Values::Bool(b) => b.len(),
            Values::I8(b) => b.len(),
            Values::I16(b) => b.len(),
            Values::I32(b) => b.len(),
            Values::I64(b) => b.len(),
            Values::F32(b) => b.len(),
            Values::F64(b) => b.len(),
            Values::U8(b) => b.len(),
            Values::Str(b) => b.len(),
        }
    }

    fn append_null(&mut self) {
        match self {
            Values::Bool(b) => b.append_null(),
            Values::I8(b) => b.append_null(),
            Values::I16(b) => b.append_null(),
            Values::I32(b) => b.append_null(),
            Values::I64(b) => b.append_null(),
            Values::F32(b) => b.append_null(),
            Values::F64(b) => b.append_null(),
            Values::U8(b) => b.append_null(),
            Values::Str(b) => b.append_null(),
        }
    }

    /// Appends the (non-null) JSON value `raw`.
    fn push(
        &mut self,
        raw: &str,
        item: Item,
        max_length: Option<usize>,
    ) -> std::result::Result<(), String> {
        match self {
            Values::Bool(b) => b.append_value(parse_bool(raw)?),
            Values::I8(b) => b.append_value(parse_int(raw, "Int8")?),
            Values::I16(b) => b.append_value(parse_int(raw, "Int16")?),
            Values::I32(b) => b.append_value(parse_int(raw, "Int32")?),
            Values::I64(b) => b.append_value(parse_int(raw, "Int64")?),
            Values::F32(b) => b.append_value(parse_f32(raw)?),
            Values::F64(b) => b.append_value(parse_f64(raw)?),
            Values::U8(b) => match item {
                Item::F16 | Item::BF16 => {
                    let v = parse_f32(raw)?;
                    let (bytes, infinite) = if matches!(item, Item::F16) {
                        let h = half::f16::from_f32(v);
                        (h.to_le_bytes(), h.is_infinite())
                    } else {
                        let h = half::bf16::from_f32(v);
                        (h.to_le_bytes(), h.is_infinite())
                    };
                    if infinite && v.is_finite() {
                        return Err(format!("{raw} is out of range for a half-precision float"));
                    }
                    b.append_slice(&bytes);
                }
                Item::Plain => b.append_value(parse_int(raw, "a byte (0..=255)")?),
            },
            Values::Str(b) => {
                let s = parse_str(raw)?;
                if let Some(max) = max_length.filter(|max| s.len() > *max) {
                    return Err(format!(
                        "string of {} bytes is longer than max_length {max}",
                        s.len()
                    ));
                }
                b.append_value(s);
            }
        }
        Ok(())
    }

    /// The values so far as an array; the builder starts over.
    fn finish(&mut self) -> ArrayRef {
        use arrow::array::ArrayBuilder;
        match self {
            Values::Bool(b) => ArrayBuilder::finish(b),
            Values::I8(b) => ArrayBuilder::finish(b),
            Values::I16(b) => ArrayBuilder::finish(b),
            Values::I32(b) => ArrayBuilder::finish(b),
            Values::I64(b) => ArrayBuilder::finish(b),
            Values::F32(b) => ArrayBuilder::finish(b),
            Values::F64(b) => ArrayBuilder::finish(b),
            Values::U8(b) => ArrayBuilder::finish(b),
            Values::Str(b) => ArrayBuilder::finish(b),
        }
    }
}

/// How many elements a list value must have.
#[derive(Clone, Copy)]
enum Len {
    /// Vectors: exactly this many (`unit` names them in errors).
    Exactly(usize, &'static str),
    /// Arrays: at most `max_capacity`, when given.
    AtMost(Option<usize>),
}

/// The state of a list column (vectors and arrays).
struct ListColumn {
    item: Item,
    len: Len,
    /// `max_length` of VarChar elements.
    max_length: Option<usize>,
    item_field: FieldRef,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
    values: Values,
}

impl ListColumn {
    fn append_null(&mut self) {
        let end = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(end);
        self.nulls.append_null();
    }

    fn append(&mut self, raw: &str) -> std::result::Result<(), String> {
        if !raw.starts_with('[') {
            return Err(match self.len {
                Len::Exactly(n, unit) => {
                    format!("expected an array of {n} {unit}, got {}", kind_of(raw))
                }
                Len::AtMost(_) => format!("expected an array, got {}", kind_of(raw)),
            });
        }
        let (values, item, max_length) = (&mut self.values, self.item, self.max_length);
        let count = for_each_element(raw, |element| values.push(element, item, max_length))?;
        match self.len {
            Len::Exactly(n, unit) if count != n => {
                return Err(format!("expected {n} {unit}, got {count}"));
            }
            Len::AtMost(Some(max)) if count > max => {
                return Err(format!(
                    "array of {count} elements is longer than max_capacity {max}"
                ));
            }
            _ => {}
        }
        let end = i32::try_from(self.values.len())
            .map_err(|_| "too many list values in one batch for 32-bit offsets".to_string())?;
        self.offsets.push(end);
        self.nulls.append_non_null();
        Ok(())
    }

    fn finish(&mut self) -> Result<ArrayRef> {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        Ok(std::sync::Arc::new(ListArray::try_new(
            self.item_field.clone(),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            self.values.finish(),
            self.nulls.finish(),
        )?))
    }
}

/// How one column is decoded.
enum Store {
    /// Bool, integers, floats, and text (VarChar, Geometry WKT, Timestamptz).
    Scalar(Values),
    /// JSON text.
    Json(StringBuilder),
    /// Canonical sparse-vector JSON text.
    Sparse(StringBuilder),
    /// The dynamic field: the row's other keys as one JSON object.
    Dynamic(StringBuilder),
    /// Vectors and arrays.
    List(Box<ListColumn>),
}

/// One output column.
struct Column {
    name: String,
    nullable: bool,
    /// VarChar `max_length` (scalar text columns).
    max_length: Option<usize>,
    /// For a non-nullable field with a default value: the default as JSON
    /// (or why it cannot be used), filled in for a missing or null value.
    default: Option<std::result::Result<Box<RawValue>, String>>,
    store: Store,
}

/// Reusable buffers for decoding a row.
#[derive(Default)]
struct Scratch {
    text: String,
    pairs: Vec<(u32, f32)>,
}

/// A default value (`{"<kind>": value}`) as the JSON the column would read.
fn default_json(value: &serde_json::Value) -> std::result::Result<Box<RawValue>, String> {
    let (kind, inner) = value
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| format!("unusable default value {value}"))?;
    match kind.as_str() {
        "bool_data" | "int_data" | "long_data" | "float_data" | "double_data" | "string_data" => {
            serde_json::value::to_raw_value(inner).map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "its default value {value} cannot be filled in here"
        )),
    }
}

impl Column {
    fn new(field: &FieldSpec, arrow_field: &arrow::datatypes::Field) -> Result<Self> {
        let data_type = field.data_type()?;
        let name = &field.name;
        let max_length = field.max_length()?;
        let vector = |item: Item, per_row: usize, unit: &'static str| -> Result<Store> {
            list_column(field, arrow_field, item, Len::Exactly(per_row, unit), None)
        };
        let store = match data_type {
            _ if field.is_dynamic => Store::Dynamic(StringBuilder::new()),
            DataType::Json => Store::Json(StringBuilder::new()),
            DataType::SparseFloatVector => Store::Sparse(StringBuilder::new()),
            DataType::FloatVector => vector(Item::Plain, field.dim()?, "numbers")?,
            DataType::Float16Vector => vector(Item::F16, field.dim()?, "numbers")?,
            DataType::BFloat16Vector => vector(Item::BF16, field.dim()?, "numbers")?,
            DataType::Int8Vector => vector(Item::Plain, field.dim()?, "values")?,
            DataType::BinaryVector => {
                let dim = field.dim()?;
                if dim % 8 != 0 {
                    return Err(Error::field(
                        name,
                        format!("binary vector dim {dim} is not a multiple of 8"),
                    ));
                }
                vector(Item::Plain, dim / 8, "byte values")?
            }
            DataType::Array => list_column(
                field,
                arrow_field,
                Item::Plain,
                Len::AtMost(field.max_capacity()?),
                max_length,
            )?,
            _ => Store::Scalar(Values::new(name, arrow_field.data_type())?),
        };
        let default = match (&field.default_value, field.nullable) {
            // A nullable field stays null: Milvus fills its default.
            (Some(value), false) => Some(default_json(value)),
            _ => None,
        };
        Ok(Self {
            name: name.clone(),
            nullable: field.nullable,
            max_length,
            default,
            store,
        })
    }

    /// Appends the value of one row (`None`: the key is missing).
    fn append(
        &mut self,
        value: Option<&RawValue>,
        scratch: &mut Scratch,
    ) -> std::result::Result<(), String> {
        let raw = value.map(RawValue::get).filter(|raw| *raw != "null");
        let raw = match raw {
            Some(raw) => raw,
            None if self.nullable => {
                self.append_null();
                return Ok(());
            }
            // JSON null is a value of a non-nullable JSON field.
            None if value.is_some() && matches!(self.store, Store::Json(_)) => "null",
            None => match &self.default {
                Some(Ok(default)) => {
                    return append_value(&mut self.store, self.max_length, default.get(), scratch)
                        .map_err(|e| format!("default value: {e}"));
                }
                Some(Err(why)) => return Err(format!("missing, and {why}")),
                None if value.is_some() => return Err("null, but the field is not nullable".into()),
                None => return Err("missing (the field is not nullable)".into()),
            },
        };
        append_value(&mut self.store, self.max_length, raw, scratch)
    }

    fn append_null(&mut self) {
        match &mut self.store {
            Store::Scalar(values) => values.append_null(),
            Store::Json(b) | Store::Sparse(b) | Store::Dynamic(b) => b.append_null(),
            Store::List(list) => list.append_null(),
        }
    }

    fn finish(&mut self) -> Result<ArrayRef> {
        match &mut self.store {
            Store::Scalar(values) => Ok(values.finish()),
            Store::Json(b) | Store::Sparse(b) | Store::Dynamic(b) => {
                Ok(arrow::array::ArrayBuilder::finish(b))
            }
            Store::List(list) => list.finish(),
        }
    }
}

/// Appends the (non-null) JSON value `raw` to a column.
fn append_value(
    store: &mut Store,
    max_length: Option<usize>,
    raw: &str,
    scratch: &mut Scratch,
) -> std::result::Result<(), String> {
    match store {
        Store::Scalar(values) => values.push(raw, Item::Plain, max_length),
        Store::Json(b) => {
            if raw.starts_with('"') {
                // A string is JSON text (the writer's and Milvus's import convention).
                let text = parse_str(raw)?;
                serde_json::from_str::<de::IgnoredAny>(&text)
                    .map_err(|e| format!("a string that is not JSON text ({e})"))?;
                b.append_value(text);
            } else {
                b.append_value(raw);
            }
            Ok(())
        }
        Store::Sparse(b) => {
            sparse_text(raw, &mut scratch.pairs, &mut scratch.text)?;
            b.append_value(&scratch.text);
            Ok(())
        }
        Store::Dynamic(_) => Err("the dynamic field is not read by name".into()),
        Store::List(list) => list.append(raw),
    }
}

fn list_column(
    field: &FieldSpec,
    arrow_field: &arrow::datatypes::Field,
    item: Item,
    len: Len,
    max_length: Option<usize>,
) -> Result<Store> {
    let ArrowType::List(item_field) = arrow_field.data_type() else {
        return Err(Error::field(
            &field.name,
            format!("expected a list type, got {}", arrow_field.data_type()),
        ));
    };
    Ok(Store::List(Box::new(ListColumn {
        item,
        len,
        max_length,
        item_field: item_field.clone(),
        offsets: vec![0],
        nulls: NullBufferBuilder::new(1024),
        values: Values::new(&field.name, item_field.data_type())?,
    })))
}

/// Decodes rows into the columns.
struct Decoder {
    columns: Vec<Column>,
    /// Column index by field name (the dynamic field left out).
    index: HashMap<String, usize>,
    ignored: HashSet<String>,
    /// The dynamic column and its field's name.
    dynamic: Option<(usize, String)>,
    /// Per column: the member index of its value in the current row.
    slots: Vec<usize>,
    /// Member indexes of the current row's dynamic keys.
    dynamic_members: Vec<usize>,
    /// Byte ranges of the dynamic keys written into `scratch.text`.
    key_ranges: Vec<(usize, usize)>,
    scratch: Scratch,
}

const NO_SLOT: usize = usize::MAX;

impl Decoder {
    fn new(fields: &[&FieldSpec], schema: &SchemaRef, ignored: &[&str]) -> Result<Self> {
        let mut columns = Vec::with_capacity(fields.len());
        let mut index = HashMap::new();
        let mut dynamic = None;
        for (i, (field, arrow_field)) in fields.iter().zip(schema.fields()).enumerate() {
            columns.push(Column::new(field, arrow_field)?);
            if field.is_dynamic {
                if dynamic.replace((i, field.name.clone())).is_some() {
                    return Err(Error::field(&field.name, "a second dynamic field"));
                }
            } else if index.insert(field.name.clone(), i).is_some() {
                return Err(Error::field(&field.name, "the field is listed twice"));
            }
        }
        Ok(Self {
            slots: vec![NO_SLOT; columns.len()],
            columns,
            index,
            ignored: ignored.iter().map(|s| s.to_string()).collect(),
            dynamic,
            dynamic_members: Vec::new(),
            key_ranges: Vec::new(),
            scratch: Scratch::default(),
        })
    }

    /// Whether `key` holds dynamic keys as an object (bulk-import style).
    fn is_meta_key(dynamic: &Option<(usize, String)>, key: &str) -> bool {
        key == DYNAMIC_FIELD || dynamic.as_ref().is_some_and(|(_, name)| name == key)
    }

    /// Appends one row to every column.
    fn row(&mut self, members: &Members) -> std::result::Result<(), String> {
        self.slots.fill(NO_SLOT);
        self.dynamic_members.clear();
        for (i, (key, _)) in members.iter().enumerate() {
            let key = key.as_ref();
            if let Some(&column) = self.index.get(key) {
                if self.slots[column] != NO_SLOT {
                    return Err(format!("field {key:?} appears twice"));
                }
                self.slots[column] = i;
            } else if self.ignored.contains(key) {
                // A schema field the caller left out on purpose.
            } else if self.dynamic.is_some() {
                self.dynamic_members.push(i);
            } else {
                return Err(format!(
                    "unknown field {key:?} (and the collection has no dynamic field)"
                ));
            }
        }
        for (c, column) in self.columns.iter_mut().enumerate() {
            if matches!(column.store, Store::Dynamic(_)) {
                continue;
            }
            let value = members.get(self.slots[c]).map(|(_, v)| *v);
            column
                .append(value, &mut self.scratch)
                .map_err(|e| format!("field {:?}: {e}", column.name))?;
        }
        if let Some(c) = self.dynamic.as_ref().map(|d| d.0) {
            self.dynamic_object(members)
                .map_err(|e| format!("dynamic field: {e}"))?;
            if let Some(Column {
                store: Store::Dynamic(b),
                ..
            }) = self.columns.get_mut(c)
            {
                b.append_value(&self.scratch.text);
            }
        }
        Ok(())
    }

    /// Writes the row's dynamic keys, in order, as one JSON object into
    /// `scratch.text`; the members of a `"$meta"` object are merged in at
    /// its place.
    fn dynamic_object(&mut self, members: &Members) -> std::result::Result<(), String> {
        // `"$meta"` values first: their members borrow from these texts.
        let meta_texts = self
            .dynamic_members
            .iter()
            .map(|&i| &members[i])
            .filter(|(key, _)| Self::is_meta_key(&self.dynamic, key))
            .map(|(_, value)| match value.get() {
                "null" => Ok(Cow::Borrowed("{}")),
                raw if raw.starts_with('"') => parse_str(raw),
                raw => Ok(Cow::Borrowed(raw)),
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        let metas = meta_texts
            .iter()
            .map(|text| parse_object(text).map_err(|e| format!("\"$meta\": {e}")))
            .collect::<std::result::Result<Vec<_>, String>>()?;
        let mut metas = metas.iter();
        let out = &mut self.scratch.text;
        let ranges = &mut self.key_ranges;
        out.clear();
        ranges.clear();
        out.push('{');
        let mut push = |key: &str, value: &RawValue| {
            if !ranges.is_empty() {
                out.push(',');
            }
            let start = out.len();
            write_json_string(out, key);
            ranges.push((start, out.len()));
            out.push(':');
            out.push_str(value.get());
        };
        for &i in &self.dynamic_members {
            let (key, value) = &members[i];
            if Self::is_meta_key(&self.dynamic, key) {
                for (key, value) in metas.next().into_iter().flatten() {
                    push(key, value);
                }
            } else {
                push(key, value);
            }
        }
        out.push('}');
        // Duplicate keys would make the object ambiguous.
        if ranges.len() > 1 {
            let out = &self.scratch.text;
            ranges.sort_unstable_by(|a, b| out[a.0..a.1].cmp(&out[b.0..b.1]));
            if let Some(w) = ranges
                .windows(2)
                .find(|w| out[w[0].0..w[0].1] == out[w[1].0..w[1].1])
            {
                return Err(format!("key {} appears twice", &out[w[0].0..w[0].1]));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Array, BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
        Int8Array, PrimitiveArray, StringArray,
    };
    use arrow::buffer::NullBuffer;
    use arrow::datatypes::{
        ArrowPrimitiveType, Field, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
        Int8Type, UInt8Type,
    };

    use super::*;
    use crate::jsonl::{write_f64, JsonlWriter};
    use crate::test_support::{field, header};

    fn array(name: &str, element: &str, params: &[(&str, &str)]) -> FieldSpec {
        FieldSpec {
            element_type: Some(element.into()),
            ..field(name, "Array", params)
        }
    }

    fn nullable(f: FieldSpec) -> FieldSpec {
        FieldSpec {
            nullable: true,
            ..f
        }
    }

    /// A list column with non-nullable items, as the layout has it.
    fn list_from(values: ArrayRef, lens: &[Option<usize>]) -> ArrayRef {
        let mut offsets = vec![0i32];
        for len in lens {
            offsets.push(offsets[offsets.len() - 1] + len.unwrap_or(0) as i32);
        }
        let nulls = lens
            .iter()
            .any(Option::is_none)
            .then(|| NullBuffer::from(lens.iter().map(Option::is_some).collect::<Vec<_>>()));
        Arc::new(
            ListArray::try_new(
                Arc::new(Field::new("item", values.data_type().clone(), false)),
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                values,
                nulls,
            )
            .unwrap(),
        )
    }

    fn list<T: ArrowPrimitiveType>(rows: Vec<Option<Vec<T::Native>>>) -> ArrayRef {
        let lens: Vec<_> = rows.iter().map(|r| r.as_ref().map(Vec::len)).collect();
        let values: Vec<T::Native> = rows.into_iter().flatten().flatten().collect();
        list_from(
            Arc::new(PrimitiveArray::<T>::from_iter_values(values)),
            &lens,
        )
    }

    fn half_bytes(rows: &[&[f32]], bf16: bool) -> ArrayRef {
        let rows = rows
            .iter()
            .map(|r| {
                Some(
                    r.iter()
                        .flat_map(|v| {
                            if bf16 {
                                half::bf16::from_f32(*v).to_le_bytes()
                            } else {
                                half::f16::from_f32(*v).to_le_bytes()
                            }
                        })
                        .collect(),
                )
            })
            .collect();
        list::<UInt8Type>(rows)
    }

    fn sparse(pairs: &[(u32, f32)]) -> String {
        let bytes: Vec<u8> = pairs
            .iter()
            .flat_map(|(i, v)| [i.to_le_bytes(), v.to_le_bytes()].concat())
            .collect();
        crate::from_milvus::sparse_json(&field("s", "SparseFloatVector", &[]), &bytes).unwrap()
    }

    fn all_types() -> Vec<FieldSpec> {
        let dynamic = FieldSpec {
            is_dynamic: true,
            ..field(DYNAMIC_FIELD, "JSON", &[])
        };
        vec![
            FieldSpec {
                is_primary_key: true,
                ..field("id", "Int64", &[])
            },
            field("b", "Bool", &[]),
            field("i8", "Int8", &[]),
            field("i16", "Int16", &[]),
            field("i32", "Int32", &[]),
            field("f", "Float", &[]),
            field("d", "Double", &[]),
            field("s", "VarChar", &[("max_length", "64")]),
            nullable(field("j", "JSON", &[])),
            array("a_bool", "Bool", &[("max_capacity", "4")]),
            array("a_i8", "Int8", &[("max_capacity", "4")]),
            array("a_i16", "Int16", &[("max_capacity", "4")]),
            array("a_i32", "Int32", &[("max_capacity", "4")]),
            array("a_i64", "Int64", &[("max_capacity", "4")]),
            array("a_f32", "Float", &[("max_capacity", "4")]),
            array("a_f64", "Double", &[("max_capacity", "4")]),
            array(
                "a_str",
                "VarChar",
                &[("max_capacity", "4"), ("max_length", "16")],
            ),
            field("fv", "FloatVector", &[("dim", "4")]),
            field("bv", "BinaryVector", &[("dim", "16")]),
            field("hv", "Float16Vector", &[("dim", "3")]),
            field("bfv", "BFloat16Vector", &[("dim", "3")]),
            field("i8v", "Int8Vector", &[("dim", "2")]),
            field("sv", "SparseFloatVector", &[]),
            field("g", "Geometry", &[]),
            field("t", "Timestamptz", &[]),
            nullable(field("n_i64", "Int64", &[])),
            nullable(field("n_s", "VarChar", &[("max_length", "8")])),
            nullable(field("n_fv", "FloatVector", &[("dim", "2")])),
            nullable(array("n_arr", "Int32", &[("max_capacity", "3")])),
            dynamic,
        ]
    }

    /// Four rows with edge values in every column of [`all_types`].
    fn all_types_batch(fields: &[&FieldSpec]) -> RecordBatch {
        let nan = f32::NAN;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![i64::MIN, -1, 0, i64::MAX])),
            Arc::new(BooleanArray::from(vec![true, false, true, false])),
            Arc::new(Int8Array::from(vec![i8::MIN, -1, 0, i8::MAX])),
            Arc::new(Int16Array::from(vec![i16::MIN, -1, 0, i16::MAX])),
            Arc::new(Int32Array::from(vec![i32::MIN, -1, 0, i32::MAX])),
            Arc::new(Float32Array::from(vec![nan, f32::INFINITY, -0.0, 1e-45])),
            Arc::new(Float64Array::from(vec![
                f64::NEG_INFINITY,
                f64::NAN,
                -0.0,
                f64::MAX,
            ])),
            Arc::new(StringArray::from(vec![
                "",
                "héllo 🌍 ключ",
                "quote\" backslash\\ nl\n tab\t \u{1}",
                "x",
            ])),
            Arc::new(StringArray::from(vec![
                Some(r#"{"a":[1,2,{"b":null}],"c":"d\"e"}"#),
                Some(r#""just a string""#),
                None,
                Some("[1.5,true,\"x\"]"),
            ])),
            list_from(
                Arc::new(BooleanArray::from(vec![true, false, true])),
                &[Some(2), Some(0), Some(1), Some(0)],
            ),
            list::<Int8Type>(vec![
                Some(vec![-128, 127]),
                Some(vec![]),
                Some(vec![0]),
                Some(vec![1, 2, 3, 4]),
            ]),
            list::<Int16Type>(vec![
                Some(vec![i16::MIN]),
                Some(vec![]),
                Some(vec![0]),
                Some(vec![i16::MAX]),
            ]),
            list::<Int32Type>(vec![
                Some(vec![i32::MIN]),
                Some(vec![]),
                Some(vec![0]),
                Some(vec![i32::MAX]),
            ]),
            list::<Int64Type>(vec![
                Some(vec![i64::MIN]),
                Some(vec![]),
                Some(vec![0]),
                Some(vec![i64::MAX]),
            ]),
            list::<Float32Type>(vec![
                Some(vec![nan, -0.0]),
                Some(vec![]),
                Some(vec![f32::NEG_INFINITY]),
                Some(vec![0.1]),
            ]),
            list::<Float64Type>(vec![
                Some(vec![f64::NAN, -0.0]),
                Some(vec![]),
                Some(vec![f64::INFINITY]),
                Some(vec![0.1]),
            ]),
            list_from(
                Arc::new(StringArray::from(vec!["", "ü", "a\"b", "0123456789abcdef"])),
                &[Some(2), Some(0), Some(1), Some(1)],
            ),
            list::<Float32Type>(vec![
                Some(vec![nan, f32::INFINITY, f32::NEG_INFINITY, -0.0]),
                Some(vec![f32::MAX, f32::MIN_POSITIVE, 1e-45, -1.0]),
                Some(vec![0.1, 0.2, 0.3, 1.0 / 3.0]),
                Some(vec![0.0; 4]),
            ]),
            list::<UInt8Type>(vec![
                Some(vec![0, 255]),
                Some(vec![1, 2]),
                Some(vec![128, 64]),
                Some(vec![0, 0]),
            ]),
            half_bytes(
                &[
                    &[0.5, -0.0, 65504.0],
                    &[f32::INFINITY, f32::NEG_INFINITY, 1.0],
                    &[5.96e-8, 0.1, -2.0],
                    &[0.0, 0.0, 0.0],
                ],
                false,
            ),
            half_bytes(
                &[
                    &[0.5, -0.0, 3.0e38],
                    &[f32::INFINITY, f32::NEG_INFINITY, 1.0],
                    &[1e-40, 0.1, -2.0],
                    &[0.0, 0.0, 0.0],
                ],
                true,
            ),
            list::<Int8Type>(vec![
                Some(vec![-128, 127]),
                Some(vec![0, 0]),
                Some(vec![1, -1]),
                Some(vec![5, 6]),
            ]),
            Arc::new(StringArray::from(vec![
                sparse(&[(1, 0.5), (7, -2.25), (u32::MAX - 1, 1e-7)]),
                sparse(&[]),
                sparse(&[(0, f32::MAX)]),
                sparse(&[(3, 0.1)]),
            ])),
            Arc::new(StringArray::from(vec![
                "POINT (1 2)",
                "LINESTRING (0 0, 1 1)",
                "",
                "POLYGON ((0 0, 1 0, 1 1, 0 0))",
            ])),
            Arc::new(StringArray::from(vec![
                "2025-01-01T12:34:56.123456Z",
                "1970-01-01T00:00:00Z",
                "2024-02-29T23:59:59+08:00",
                "",
            ])),
            Arc::new(Int64Array::from(vec![Some(5), None, Some(-5), None])),
            Arc::new(StringArray::from(vec![None, Some(""), Some("ok"), None])),
            list::<Float32Type>(vec![
                None,
                Some(vec![1.0, 2.0]),
                None,
                Some(vec![-0.0, nan]),
            ]),
            list::<Int32Type>(vec![Some(vec![1, 2, 3]), None, Some(vec![]), None]),
            Arc::new(StringArray::from(vec![
                r#"{"k":1,"str":"x","arr":[1,{"z":null}],"o":{"a":null},"ключ":true}"#,
                "{}",
                r#"{"nil":null,"big":1.5e300,"e":""}"#,
                r#"{"nested":{"deep":[[[]]]}}"#,
            ])),
        ];
        let schema = layout::arrow_schema(fields).unwrap();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn write_stream(header: &Header, fields: &[&FieldSpec], batches: &[RecordBatch]) -> Vec<u8> {
        let owned = fields.iter().map(|f| (*f).clone()).collect();
        let mut writer = JsonlWriter::new(Vec::new(), header, owned).unwrap();
        for batch in batches {
            writer.write_batch(batch).unwrap();
        }
        writer.finish().unwrap().0
    }

    fn read_all(
        bytes: &[u8],
        fields: &[&FieldSpec],
        ignored: &[&str],
        max_rows: usize,
    ) -> Result<(Option<Header>, Vec<RecordBatch>, Option<Trailer>)> {
        let (header, start) = JsonlReader::open(bytes, "test.jsonl")?;
        let mut reader = start.with_fields(fields, ignored)?;
        let mut batches = vec![];
        while let Some(batch) = reader.next_batch(max_rows)? {
            batches.push(batch);
        }
        Ok((header, batches, reader.trailer().cloned()))
    }

    /// A headerless stream of `lines` read with `fields`: the error's text.
    fn read_error(lines: &str, fields: &[FieldSpec]) -> String {
        let fields: Vec<&FieldSpec> = fields.iter().collect();
        match read_all(lines.as_bytes(), &fields, &[], 100) {
            Ok(_) => panic!("expected an error reading {lines}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_type_round_trips_through_the_writer() {
        let specs = all_types();
        let fields: Vec<&FieldSpec> = specs.iter().collect();
        let header = header(specs.clone());
        let batch = all_types_batch(&fields);
        let bytes = write_stream(&header, &fields, &[batch.clone(), batch.clone()]);

        let (read_header, batches, trailer) = read_all(&bytes, &fields, &[], 8192).unwrap();
        assert_eq!(read_header.as_ref(), Some(&header));
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].num_rows(), 8);
        assert_eq!(batches[0].slice(0, 4), batch);
        assert_eq!(batches[0].slice(4, 4), batch);
        assert_eq!(trailer.unwrap().rows, 8);

        // Small batches: cut at max_rows, same rows.
        let (_, batches, _) = read_all(&bytes, &fields, &[], 3).unwrap();
        let sizes: Vec<_> = batches.iter().map(RecordBatch::num_rows).collect();
        assert_eq!(sizes, [3, 3, 2]);
        assert_eq!(batches[0], batch.slice(0, 3));
        assert_eq!(batches[1].slice(0, 1), batch.slice(3, 1));

        // The written text is stable: writing what was read gives the same bytes.
        let again = write_stream(&header, &fields, &batches);
        assert_eq!(again, bytes);

        let verified = verify_stream(bytes.as_slice(), "test.jsonl").unwrap();
        assert_eq!(verified.header, header);
        assert_eq!(verified.rows, 8);
    }

    #[test]
    fn batches_are_cut_by_input_bytes() {
        let specs = all_types();
        let fields: Vec<&FieldSpec> = specs.iter().collect();
        let batch = all_types_batch(&fields);
        let bytes = write_stream(&header(specs.clone()), &fields, &[batch]);
        let (_, start) = JsonlReader::open(bytes.as_slice(), "t").unwrap();
        let mut reader = start.with_fields(&fields, &[]).unwrap();
        reader.batch_bytes = 1;
        let mut rows = vec![];
        while let Some(b) = reader.next_batch(1000).unwrap() {
            rows.push(b.num_rows());
        }
        assert_eq!(rows, [1, 1, 1, 1]);
        assert_eq!(reader.rows_read(), 4);
        assert_eq!(reader.line(), 6);
        assert!(reader.require_trailer().is_ok());
    }

    /// xorshift64*: deterministic pseudo-random bits without a dependency.
    struct Bits(u64);
    impl Bits {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn random_floats_read_back_bit_exact() {
        let mut bits = Bits(0x9e37_79b9_7f4a_7c15);
        let mut text = String::new();
        let mut n = 0;
        while n < 200_000 {
            let v = f32::from_bits(bits.next() as u32);
            if !v.is_finite() {
                continue;
            }
            text.clear();
            write_f32(&mut text, v);
            assert_eq!(parse_f32(&text).unwrap().to_bits(), v.to_bits(), "{text}");
            n += 1;
        }
        let mut n = 0;
        while n < 200_000 {
            let v = f64::from_bits(bits.next());
            if !v.is_finite() {
                continue;
            }
            text.clear();
            write_f64(&mut text, v);
            assert_eq!(parse_f64(&text).unwrap().to_bits(), v.to_bits(), "{text}");
            n += 1;
        }
        for v in [-0.0f32, f32::MIN_POSITIVE, 1e-45, f32::MAX, f32::MIN] {
            text.clear();
            write_f32(&mut text, v);
            assert_eq!(parse_f32(&text).unwrap().to_bits(), v.to_bits());
        }
        assert_eq!(parse_f32("\"NaN\"").unwrap().to_bits(), f32::NAN.to_bits());
        assert_eq!(parse_f64("\"-Infinity\"").unwrap(), f64::NEG_INFINITY);
        assert!(parse_f32("1e39").unwrap_err().contains("out of range"));
        assert!(parse_f32("\"nan\"").unwrap_err().contains("only \"NaN\""));
    }

    #[test]
    fn random_float_vectors_round_trip_through_the_stream() {
        let specs = vec![
            FieldSpec {
                is_primary_key: true,
                ..field("id", "Int64", &[])
            },
            field("v", "FloatVector", &[("dim", "1000")]),
            field("d", "Double", &[]),
        ];
        let fields: Vec<&FieldSpec> = specs.iter().collect();
        let mut bits = Bits(42);
        let rows = 100;
        let mut floats = Vec::with_capacity(rows * 1000);
        while floats.len() < rows * 1000 {
            let v = f32::from_bits(bits.next() as u32);
            if v.is_finite() {
                floats.push(v);
            }
        }
        let doubles: Vec<f64> = (0..rows)
            .map(|_| f64::from_bits(bits.next()))
            .map(|v| if v.is_finite() { v } else { -0.0 })
            .collect();
        let batch = RecordBatch::try_new(
            layout::arrow_schema(&fields).unwrap(),
            vec![
                Arc::new(Int64Array::from_iter_values(0..rows as i64)),
                list_from(
                    Arc::new(Float32Array::from(floats)),
                    &vec![Some(1000); rows],
                ),
                Arc::new(Float64Array::from(doubles)),
            ],
        )
        .unwrap();
        let bytes = write_stream(
            &header(specs.clone()),
            &fields,
            std::slice::from_ref(&batch),
        );
        let (_, batches, _) = read_all(&bytes, &fields, &[], 1000).unwrap();
        assert_eq!(batches, [batch]);
    }

    fn small_fields() -> Vec<FieldSpec> {
        vec![
            FieldSpec {
                is_primary_key: true,
                ..field("id", "Int64", &[])
            },
            field("title", "VarChar", &[("max_length", "5")]),
            field("n", "Int8", &[]),
            field("vec", "FloatVector", &[("dim", "3")]),
        ]
    }

    #[test]
    fn headerless_rows_are_read() {
        let specs = small_fields();
        let fields: Vec<&FieldSpec> = specs.iter().collect();
        let input = "{\"id\":1,\"title\":\"a\",\"n\":1,\"vec\":[1,2,3]}\n\n\
                     {\"vec\":[\"NaN\",0.5,-1e-3],\"n\":-2,\"title\":\"b\\u00e9\",\"id\":2}";
        let (header, start) = JsonlReader::open(input.as_bytes(), "t").unwrap();
        assert!(header.is_none());
        let mut reader = start.with_fields(&fields, &[]).unwrap();
        let batch = reader.next_batch(10).unwrap().unwrap();
        assert!(reader.next_batch(10).unwrap().is_none());
        assert_eq!(reader.rows_read(), 2);
        assert_eq!(reader.line(), 3);
        assert!(reader.trailer().is_none());
        assert_eq!(
            reader.require_trailer().unwrap_err().to_string(),
            "t: line 4: truncated: no trailer after line 3"
        );
        let titles = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(titles.value(1), "bé");
        let vec = batch
            .column(3)
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap();
        let row: Vec<f32> = vec
            .value(1)
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap()
            .values()
            .to_vec();
        assert!(row[0].is_nan());
        assert_eq!(&row[1..], [0.5, -1e-3]);

        // Empty input: no rows, no header.
        let (header, start) = JsonlReader::open(&b""[..], "t").unwrap();
        assert!(header.is_none());
        let mut reader = start.with_fields(&fields, &[]).unwrap();
        assert!(reader.next_batch(10).unwrap().is_none());
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let specs = small_fields();
        let ok = r#"{"id":1,"title":"a","n":1,"vec":[1,2,3]}"#;
        let cases = [
            (
                r#"{"id":2,"title":"a","n":1,"vec":[1,2]}"#,
                r#"test.jsonl: line 2: field "vec": expected 3 numbers, got 2"#,
            ),
            (
                r#"{"id":2,"title":"a","n":300,"vec":[1,2,3]}"#,
                r#"test.jsonl: line 2: field "n": 300 is out of range for Int8"#,
            ),
            (
                r#"{"id":2,"title":"a","n":1.5,"vec":[1,2,3]}"#,
                r#"test.jsonl: line 2: field "n": expected an integer (Int8), got 1.5"#,
            ),
            (
                r#"{"id":99999999999999999999,"title":"a","n":1,"vec":[1,2,3]}"#,
                r#"test.jsonl: line 2: field "id": 99999999999999999999 is out of range for Int64"#,
            ),
            (
                r#"{"id":2,"n":1,"vec":[1,2,3]}"#,
                r#"test.jsonl: line 2: field "title": missing (the field is not nullable)"#,
            ),
            (
                r#"{"id":2,"title":null,"n":1,"vec":[1,2,3]}"#,
                r#"test.jsonl: line 2: field "title": null, but the field is not nullable"#,
            ),
            (
                r#"{"id":2,"title":"toolong","n":1,"vec":[1,2,3]}"#,
                r#"test.jsonl: line 2: field "title": string of 7 bytes is longer than max_length 5"#,
            ),
            (
                r#"{"id":2,"title":"a","n":1,"vec":[1,2,3],"zzz":0}"#,
                r#"test.jsonl: line 2: unknown field "zzz" (and the collection has no dynamic field)"#,
            ),
            (
                r#"{"id":2,"id":3,"title":"a","n":1,"vec":[1,2,3]}"#,
                r#"test.jsonl: line 2: field "id" appears twice"#,
            ),
            (
                r#"{"id":2,"title":"a","n":1,"vec":[1,"x",3]}"#,
                r#"test.jsonl: line 2: field "vec": element 1: expected a number, got the string "x" (only "NaN", "Infinity" and "-Infinity" are allowed)"#,
            ),
            (
                r#"{"id":2,"title":"a","n":1,"vec":"1,2,3"}"#,
                r#"test.jsonl: line 2: field "vec": expected an array of 3 numbers, got a string"#,
            ),
            (
                r#"{"id":2,"title":"a","n":true,"vec":[1,2,3]}"#,
                r#"test.jsonl: line 2: field "n": expected an integer (Int8), got a boolean"#,
            ),
        ];
        for (line, expected) in cases {
            let input = format!("{ok}\n{line}\n");
            let fields: Vec<&FieldSpec> = specs.iter().collect();
            let err = read_all(input.as_bytes(), &fields, &[], 100).unwrap_err();
            assert_eq!(err.to_string(), expected);
        }
        let err = read_error(&format!("{ok}\n{{\"id\":2,\"title\":\"a\""), &specs);
        assert!(
            err.starts_with("test.jsonl: line 2: invalid JSON row: EOF"),
            "{err}"
        );
        let err = read_error("[1,2]", &specs);
        assert!(
            err.contains("line 1: invalid JSON row: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn reader_errors_name_the_source() {
        let specs = small_fields();
        let fields: Vec<&FieldSpec> = specs.iter().collect();
        let input = "{\"id\":1}\n";
        let (_, start) = JsonlReader::open(input.as_bytes(), "docs/part-00001.jsonl").unwrap();
        let mut reader = start.with_fields(&fields, &[]).unwrap();
        let err = reader.next_batch(10).unwrap_err().to_string();
        assert_eq!(
            err,
            r#"docs/part-00001.jsonl: line 1: field "title": missing (the field is not nullable)"#
        );
        // The reader does not go on after an error.
        assert!(reader.next_batch(10).is_err());
    }

    #[test]
    fn sparse_vectors_are_normalized_and_checked() {
        let mut pairs = vec![];
        let mut out = String::new();
        let mut canonical =
            |raw: &str| sparse_text(raw, &mut pairs, &mut out).map(|()| out.clone());
        assert_eq!(
            canonical(r#"{"7": 1.5, "2": 0.25}"#).unwrap(),
            r#"{"2":0.25,"7":1.5}"#
        );
        assert_eq!(
            canonical(r#"{"indices": [9, 3], "values": [1, 0.1]}"#).unwrap(),
            r#"{"3":0.1,"9":1.0}"#
        );
        assert_eq!(canonical(r#"{"values":[],"indices":[]}"#).unwrap(), "{}");
        assert_eq!(canonical("{}").unwrap(), "{}");
        assert_eq!(canonical(r#""{\"1\":2}""#).unwrap(), r#"{"1":2.0}"#);
        assert_eq!(
            canonical(r#"{"4294967295":0.1}"#).unwrap(),
            r#"{"4294967295":0.1}"#
        );
        let cases = [
            (
                r#"{"x":1}"#,
                "sparse index \"x\" is not a non-negative integer",
            ),
            (
                r#"{"-1":1}"#,
                "sparse index \"-1\" is not a non-negative integer",
            ),
            (
                r#"{"4294967296":1}"#,
                "sparse index 4294967296 is out of range (u32)",
            ),
            (r#"{"1":1,"01":2}"#, "sparse index 1 appears twice"),
            (r#"{"1":"NaN"}"#, "sparse value \"NaN\" is not finite"),
            (r#"{"1":"a"}"#, "expected a number, got the string \"a\""),
            (
                r#"{"indices":[1,2],"values":[1]}"#,
                "2 indices but 1 values",
            ),
            (
                r#"{"indices":[-1],"values":[1]}"#,
                "indices: element 0: -1 is out of range",
            ),
            (r#"[1,2]"#, "expected an object, got an array"),
        ];
        for (raw, expected) in cases {
            let err = sparse_text(raw, &mut vec![], &mut String::new()).unwrap_err();
            assert!(err.starts_with(expected), "{raw}: {err}");
        }
        // In a row: the field and line are named.
        let specs = vec![
            field("id", "Int64", &[]),
            field("sv", "SparseFloatVector", &[]),
        ];
        let err = read_error("{\"id\":1,\"sv\":{\"1\":1,\"1\":2}}", &specs);
        assert_eq!(
            err,
            r#"test.jsonl: line 1: field "sv": sparse index 1 appears twice"#
        );
    }

    #[test]
    fn json_fields_keep_text_and_validate_strings() {
        let specs = vec![
            field("id", "Int64", &[]),
            field("j", "JSON", &[]),
            nullable(field("nj", "JSON", &[])),
        ];
        let fields: Vec<&FieldSpec> = specs.iter().collect();
        let input = concat!(
            r#"{"id":1,"j":{"b":1, "a":[1.50, 1e400000]},"nj":null}"#,
            "\n",
            r#"{"id":2,"j":"{\"a\": 1}","nj":"\"s\""}"#,
            "\n",
            r#"{"id":3,"j":null}"#,
            "\n",
        );
        let (_, batches, _) =
            read_all(input.as_bytes(), &fields, &[], 10).unwrap_or_else(|e| panic!("{e}"));
        let j = batches[0]
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        // Verbatim text: key order, number text and spacing kept.
        assert_eq!(j.value(0), r#"{"b":1, "a":[1.50, 1e400000]}"#);
        assert_eq!(j.value(1), r#"{"a": 1}"#);
        assert_eq!(j.value(2), "null");
        let nj = batches[0]
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert!(nj.is_null(0));
        assert_eq!(nj.value(1), r#""s""#);
        assert!(nj.is_null(2));
        let err = read_error(r#"{"id":1,"j":"not json","nj":1}"#, &specs);
        assert!(
            err.starts_with(r#"test.jsonl: line 1: field "j": a string that is not JSON text"#),
            "{err}"
        );
        let err = read_error(r#"{"id":1,"nj":1}"#, &specs);
        assert_eq!(
            err,
            r#"test.jsonl: line 1: field "j": missing (the field is not nullable)"#
        );
    }

    #[test]
    fn dynamic_keys_merge_ignored_fields_and_defaults() {
        let specs = [
            FieldSpec {
                is_primary_key: true,
                auto_id: true,
                ..field("id", "Int64", &[])
            },
            FieldSpec {
                default_value: Some(serde_json::json!({"long_data": 7})),
                ..field("count", "Int64", &[])
            },
            FieldSpec {
                default_value: Some(serde_json::json!({"string_data": "none"})),
                ..field("tag", "VarChar", &[("max_length", "8")])
            },
            FieldSpec {
                default_value: Some(serde_json::json!({"float_data": 0.1})),
                ..nullable(field("score", "Float", &[]))
            },
            FieldSpec {
                is_dynamic: true,
                ..field(DYNAMIC_FIELD, "JSON", &[])
            },
        ];
        // The auto-id key is left out by the caller (`--new-ids`).
        let fields: Vec<&FieldSpec> = specs[1..].iter().collect();
        let input = concat!(
            r#"{"id":1,"x":1,"count":3,"$meta":{"y":[2]},"z":"é"}"#,
            "\n",
            r#"{"id":2,"count":null,"tag":"t"}"#,
            "\n",
            r#"{"$meta":"{\"q\":{}}","score":0.5}"#,
            "\n",
        );
        let (_, batches, _) =
            read_all(input.as_bytes(), &fields, &["id"], 10).unwrap_or_else(|e| panic!("{e}"));
        let b = &batches[0];
        let count = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(count.values().to_vec(), [3, 7, 7]);
        let tag = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(
            tag.iter().collect::<Vec<_>>(),
            [Some("none"), Some("t"), Some("none")]
        );
        // Nullable with a default: stays null, Milvus fills the default.
        let score = b.column(2).as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(score.iter().collect::<Vec<_>>(), [None, None, Some(0.5)]);
        let meta = b.column(3).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(
            meta.iter().collect::<Vec<_>>(),
            [
                Some(r#"{"x":1,"y":[2],"z":"é"}"#),
                Some("{}"),
                Some(r#"{"q":{}}"#)
            ]
        );
        let err = read_error(r#"{"count":1,"x":1,"$meta":{"x":2}}"#, &specs[1..]);
        assert_eq!(
            err,
            r#"test.jsonl: line 1: dynamic field: key "x" appears twice"#
        );
        let err = read_error(r#"{"count":1,"$meta":[1]}"#, &specs[1..]);
        assert_eq!(
            err,
            r#"test.jsonl: line 1: dynamic field: "$meta": expected an object, got an array"#
        );
        // Without the ignore list, the auto-id key is a dynamic key.
        let (_, batches, _) = read_all(b"{\"id\":5}", &fields, &[], 10).unwrap();
        let meta = batches[0]
            .column(3)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(meta.value(0), r#"{"id":5}"#);
    }

    #[test]
    fn arrays_and_vectors_are_checked() {
        let specs = vec![
            field("id", "Int64", &[]),
            array(
                "a",
                "VarChar",
                &[("max_capacity", "2"), ("max_length", "3")],
            ),
            field("bv", "BinaryVector", &[("dim", "16")]),
            field("i8v", "Int8Vector", &[("dim", "2")]),
            field("hv", "Float16Vector", &[("dim", "2")]),
        ];
        let ok = r#"{"id":1,"a":["x"],"bv":[1,2],"i8v":[1,2],"hv":[0.5,1]}"#;
        assert!(read_all(ok.as_bytes(), &specs.iter().collect::<Vec<_>>(), &[], 10).is_ok());
        let cases = [
            (
                r#""a":["x","y","z"]"#,
                r#"field "a": array of 3 elements is longer than max_capacity 2"#,
            ),
            (
                r#""a":["xxxx"]"#,
                r#"field "a": element 0: string of 4 bytes is longer than max_length 3"#,
            ),
            (
                r#""a":[null]"#,
                r#"field "a": element 0: expected a string, got null"#,
            ),
            (
                r#""bv":[1,256]"#,
                r#"field "bv": element 1: 256 is out of range for a byte (0..=255)"#,
            ),
            (
                r#""bv":[1]"#,
                r#"field "bv": expected 2 byte values, got 1"#,
            ),
            (
                r#""i8v":[1,-129]"#,
                r#"field "i8v": element 1: -129 is out of range for Int8"#,
            ),
            (
                r#""hv":[1,2,3]"#,
                r#"field "hv": expected 2 numbers, got 3"#,
            ),
            (
                r#""hv":[1,70000]"#,
                r#"field "hv": element 1: 70000 is out of range for a half-precision float"#,
            ),
        ];
        for (member, expected) in cases {
            let key = &member[..member.find(':').unwrap()];
            let mut row: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(ok).unwrap();
            let (k, v) = member.split_once(':').unwrap();
            assert_eq!(key, k);
            row.insert(
                serde_json::from_str(k).unwrap(),
                serde_json::from_str(v).unwrap(),
            );
            let line = serde_json::to_string(&row).unwrap();
            let err = read_error(&line, &specs);
            assert_eq!(err, format!("test.jsonl: line 1: {expected}"), "{line}");
        }
    }

    #[test]
    fn trailer_is_checked_while_reading() {
        let specs = small_fields();
        let fields: Vec<&FieldSpec> = specs.iter().collect();
        let batch = RecordBatch::try_new(
            layout::arrow_schema(&fields).unwrap(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec!["abc", "def"])),
                Arc::new(Int8Array::from(vec![1, 2])),
                list::<Float32Type>(vec![Some(vec![1.0, 2.0, 3.0]), Some(vec![4.0, 5.0, 6.0])]),
            ],
        )
        .unwrap();
        let bytes = write_stream(&header(specs.clone()), &fields, &[batch]);
        let text = String::from_utf8(bytes).unwrap();

        let flipped = text.replace("\"def\"", "\"deg\"");
        let err = read_all(flipped.as_bytes(), &fields, &[], 10)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("test.jsonl: line 4: checksum mismatch"),
            "{err}"
        );

        let extra = format!("{text}\n{text}");
        let err = read_all(extra.as_bytes(), &fields, &[], 10)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "test.jsonl: line 6: unexpected data after the trailer");

        let trailing_blank = format!("{text}\n  \n");
        assert!(read_all(trailing_blank.as_bytes(), &fields, &[], 10).is_ok());

        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(2, lines[0]);
        let err = read_all(lines.join("\n").as_bytes(), &fields, &[], 10)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("test.jsonl: line 3: a header line in the middle"),
            "{err}"
        );

        let newer = text.replacen("\"format_version\":1", "\"format_version\":2", 1);
        let err = match JsonlReader::open(newer.as_bytes(), "test.jsonl") {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a newer format was accepted"),
        };
        assert_eq!(err, "test.jsonl: line 1: header: format version 2 is not supported (this build reads 1..=1)");
    }

    #[test]
    fn verify_stream_finds_damage() {
        let specs = small_fields();
        let fields: Vec<&FieldSpec> = specs.iter().collect();
        let batch = RecordBatch::try_new(
            layout::arrow_schema(&fields).unwrap(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec!["abc", "def", ""])),
                Arc::new(Int8Array::from(vec![1, 2, 3])),
                list::<Float32Type>(vec![
                    Some(vec![1.0; 3]),
                    Some(vec![2.0; 3]),
                    Some(vec![3.0; 3]),
                ]),
            ],
        )
        .unwrap();
        let bytes = write_stream(&header(specs.clone()), &fields, &[batch]);
        let text = String::from_utf8(bytes).unwrap();
        let ok = verify_stream(text.as_bytes(), "v.jsonl").unwrap();
        assert_eq!(ok.rows, 3);
        assert_eq!(ok.sha256.len(), 64);

        let verify = |s: &str| {
            verify_stream(s.as_bytes(), "v.jsonl")
                .unwrap_err()
                .to_string()
        };
        let lines: Vec<&str> = text.lines().collect();

        // (a) Truncated: the trailer is gone.
        let truncated = lines[..4].join("\n") + "\n";
        assert_eq!(
            verify(&truncated),
            "v.jsonl: line 5: truncated: no trailer after line 4"
        );

        // (b) One byte flipped in a row.
        let mut flipped = text.clone().into_bytes();
        let at = text.find("def").unwrap();
        flipped[at] ^= 0x01;
        let err = verify(std::str::from_utf8(&flipped).unwrap());
        assert!(
            err.starts_with("v.jsonl: line 5: checksum mismatch: the trailer says sha256 "),
            "{err}"
        );

        // (c) Wrong count.
        let wrong = text.replace("\"rows\":3", "\"rows\":4");
        assert_eq!(
            verify(&wrong),
            "v.jsonl: line 5: row count mismatch: the trailer says 4 rows, the stream has 3"
        );
        let dropped = [lines[0], lines[1], lines[3], lines[4]].join("\n");
        assert!(verify(&dropped).contains("row count mismatch"));

        // No header; data after the trailer; empty input.
        assert_eq!(
            verify(&lines[1..].join("\n")),
            "v.jsonl: line 1: no header: the first line is not a {\"$milvus_dump\":...} line"
        );
        assert_eq!(
            verify(&format!("{text}{}\n", lines[1])),
            "v.jsonl: line 6: unexpected data after the trailer"
        );
        assert_eq!(
            verify(""),
            "v.jsonl: line 1: no header: the input has no lines"
        );
    }

    #[test]
    fn first_line_is_classified() {
        let specs = small_fields();
        let h = header(specs);
        let line = serde_json::to_vec(&serde_json::json!({ HEADER_KEY: &h })).unwrap();
        match classify_first_line(&line, "x").unwrap() {
            FirstLine::Header(read) => assert_eq!(*read, h),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify_first_line(br#"{"id":1}"#, "x").unwrap(),
            FirstLine::Row
        ));
        assert!(matches!(
            classify_first_line(br#"{"$milvus_dump_end":{"rows":0,"sha256":"e3"}}"#, "x").unwrap(),
            FirstLine::Trailer(_)
        ));
        assert!(classify_first_line(b"nope", "x").is_err());
    }
}
