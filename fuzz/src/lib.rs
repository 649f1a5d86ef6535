//! What the fuzz targets run: the tools' own reading paths, from bytes.
//!
//! Every reader must turn any input into rows or a clear error naming the
//! input; a panic, an allocation past libFuzzer's limit or a hang is a
//! finding. The errors are also checked here: each must name the input.

use bytes::Bytes;
use locations::{Decoder, Spool};
use record_stream::header::{FieldSpec, Header, HEADER_KEY};
use record_stream::layout;

/// The name every error must carry.
const INPUT: &str = "fuzz-input";

/// The collection headerless inputs are loaded into: the seeds' own
/// (every field type), as `milvus-dump --schema-only` printed it.
fn known_fields() -> Vec<FieldSpec> {
    let header = parse_header(include_bytes!("../seeds/header/types-header.json"))
        .expect("the seeds' header parses");
    layout::stream_fields(&header.collection, &header.scope)
        .into_iter()
        .cloned()
        .collect()
}

fn named(error: impl std::fmt::Display) {
    let message = error.to_string();
    assert!(
        message.contains(INPUT),
        "an error that does not name its input: {message}"
    );
}

/// A stream or part, as milvus-load and backup-verify read one: the format
/// by content, the header's fields (or, without a header, the target's),
/// every batch, then the trailer or footer check.
pub fn read_input(data: &[u8]) {
    let decoder = match Decoder::open_bytes(Bytes::copy_from_slice(data), INPUT, &Spool::default())
    {
        Ok(decoder) => decoder,
        Err(e) => return named(e),
    };
    let fields = match decoder.header() {
        Some(header) => layout::stream_fields(&header.collection, &header.scope)
            .into_iter()
            .cloned()
            .collect(),
        None => known_fields(),
    };
    let mut batches = match decoder.batches(&fields, &[], 64) {
        Ok(batches) => batches,
        Err(e) => return named(e),
    };
    for batch in batches.by_ref() {
        if let Err(e) = batch {
            return named(e);
        }
    }
    if let Err(e) = batches.finish() {
        named(e);
    }
}

/// A header as `milvus-load --schema FILE` reads one (bare, or under
/// "header" as `--schema-only` prints it).
fn parse_header(data: &[u8]) -> Option<Header> {
    let value: serde_json::Value = serde_json::from_slice(data).ok()?;
    let value = value.get(HEADER_KEY).cloned().unwrap_or(value);
    Header::from_json(value).ok()
}

/// A header, then what the tools make of it: the stream's fields and their
/// Arrow schema, each field's type parameters.
pub fn read_header(data: &[u8]) {
    let Some(header) = parse_header(data) else {
        return;
    };
    let fields = layout::stream_fields(&header.collection, &header.scope);
    let _ = layout::arrow_schema(&fields);
    for field in &fields {
        let _ = (field.dim(), field.array_element_type());
    }
}

/// A set's manifest, as every tool opens a set: parsed, its collection
/// picked, each collection's schema made.
pub fn read_manifest(data: &[u8]) {
    let manifest = match locations::set::parse_manifest(data, INPUT) {
        Ok(manifest) => manifest,
        Err(e) => return named(e),
    };
    if let Err(e) = locations::set::pick(&manifest, None, INPUT) {
        named(e);
    }
    for entry in &manifest.collections {
        let fields = layout::stream_fields(&entry.header.collection, &entry.header.scope);
        let _ = layout::arrow_schema(&fields);
    }
}
