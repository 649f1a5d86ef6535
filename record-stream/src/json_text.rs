//! Raw JSON text, read without building values: a line parsed once into its members (borrowed key, raw
//! value text), and values decoded from their own text (floats too, so an
//! `f32` reads back bit-exact).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::Result;
use crate::header::{Header, HEADER_KEY};
use crate::jsonl::{Trailer, TRAILER_KEY};

// ---------------------------------------------------------------------------
// Parsing a line into its members.

/// An object's members in input order: key (borrowed unless it had escapes)
/// and the raw text of the value.
pub(crate) type Members<'a> = Vec<(Cow<'a, str>, &'a RawValue)>;

/// What a line is.
pub(crate) enum Kind<'a> {
    Header(&'a RawValue),
    Trailer(&'a RawValue),
    Row(Members<'a>),
}

pub(crate) fn classify(text: &[u8]) -> std::result::Result<Kind<'_>, String> {
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

pub(crate) fn parse_header(raw: &RawValue) -> std::result::Result<Header, String> {
    let value: serde_json::Value =
        serde_json::from_str(raw.get()).map_err(|e| format!("header: {e}"))?;
    Header::from_json(value).map_err(|e| e.to_string())
}

pub(crate) fn parse_trailer(raw: &RawValue) -> std::result::Result<Trailer, String> {
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
pub(crate) fn parse_object(text: &str) -> std::result::Result<Members<'_>, String> {
    match serde_json::from_str::<Object>(text) {
        Ok(Object(members)) => Ok(members),
        Err(_) => Err(format!("expected an object, got {}", kind_of(text))),
    }
}

/// Calls `f` on the raw text of every element of the JSON array `raw`;
/// returns the element count. `f`'s error is returned as is, prefixed with
/// the element's position.
pub(crate) fn for_each_element<'a>(
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
pub(crate) fn kind_of(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

pub(crate) fn parse_bool(raw: &str) -> std::result::Result<bool, String> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected true or false, got {}", kind_of(raw))),
    }
}

pub(crate) fn parse_int<T: TryFrom<i64>>(raw: &str, what: &str) -> std::result::Result<T, String> {
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
pub(crate) fn parse_f32(raw: &str) -> std::result::Result<f32, String> {
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

pub(crate) fn parse_f64(raw: &str) -> std::result::Result<f64, String> {
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
pub(crate) fn parse_str(raw: &str) -> std::result::Result<Cow<'_, str>, String> {
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
