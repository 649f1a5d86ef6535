//! Rows into columns: each member of a row to its field's column, the
//! rest into the dynamic field.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use arrow::datatypes::SchemaRef;
use serde_json::value::RawValue;

use super::columns::*;
use crate::error::{Error, Result};
use crate::header::{FieldSpec, DYNAMIC_FIELD};
use crate::json_text::{parse_object, parse_str, Members};
use crate::jsonl::write_json_string;

/// Decodes rows into the columns.
pub(super) struct Decoder {
    pub(super) columns: Vec<Column>,
    /// Column index by field name (the dynamic field left out).
    pub(super) index: HashMap<String, usize>,
    pub(super) ignored: HashSet<String>,
    /// The dynamic column and its field's name.
    pub(super) dynamic: Option<(usize, String)>,
    /// Per column: the member index of its value in the current row.
    pub(super) slots: Vec<usize>,
    /// Member indexes of the current row's dynamic keys.
    pub(super) dynamic_members: Vec<usize>,
    /// Byte ranges of the dynamic keys written into `scratch.text`.
    pub(super) key_ranges: Vec<(usize, usize)>,
    pub(super) scratch: Scratch,
}

pub(super) const NO_SLOT: usize = usize::MAX;

impl Decoder {
    pub(super) fn new(fields: &[&FieldSpec], schema: &SchemaRef, ignored: &[&str]) -> Result<Self> {
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
    pub(super) fn is_meta_key(dynamic: &Option<(usize, String)>, key: &str) -> bool {
        key == DYNAMIC_FIELD || dynamic.as_ref().is_some_and(|(_, name)| name == key)
    }

    /// Appends one row to every column.
    pub(super) fn row(&mut self, members: &Members) -> std::result::Result<(), String> {
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
    pub(super) fn dynamic_object(&mut self, members: &Members) -> std::result::Result<(), String> {
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
