//! Sparse vectors: the one reader of their JSON forms, for every input (a
//! JSONL row, a Parquet or Arrow text column), their canonical text (what
//! milvus-dump writes) and the bytes Milvus takes.
//!
//! Accepted: `{"index": value, ...}` in any order, `{"indices": [..],
//! "values": [..]}`, or either as a JSON string. Indices are `u32` (written
//! as non-negative integers), values finite `f32` read from their own text
//! (bit-exact); an index may appear once.

use crate::json_text::{for_each_element, parse_f32, parse_int, parse_object, parse_str};
use crate::jsonl::write_f32;

/// Reads a sparse vector's JSON text into `pairs` (cleared first), by
/// ascending index.
pub fn parse(raw: &str, pairs: &mut Vec<(u32, f32)>) -> Result<(), String> {
    let raw = raw.trim();
    if raw.starts_with('"') {
        let inner = parse_str(raw)?;
        return parse(&inner, pairs);
    }
    let members = parse_object(raw)?;
    pairs.clear();
    let value = |raw: &str| -> Result<f32, String> {
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
    Ok(())
}

/// The canonical text of `pairs` (ascending by index) into `out` (cleared
/// first): `{"index": value, ...}`, values in shortest round-trip form.
pub fn write_canonical(pairs: impl IntoIterator<Item = (u32, f32)>, out: &mut String) {
    out.clear();
    out.push('{');
    let mut int = itoa::Buffer::new();
    for (i, (index, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(int.format(index));
        out.push_str("\":");
        write_f32(out, v);
    }
    out.push('}');
}

/// Milvus's bytes of a sparse row: (u32 index, f32 value) pairs, little-endian.
pub fn to_bytes(pairs: &[(u32, f32)]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(pairs.len() * 8);
    for (i, v) in pairs {
        bytes.extend_from_slice(&i.to_le_bytes());
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}

/// The pairs of Milvus's bytes of a sparse row; `None` unless they are whole
/// (u32, f32) pairs.
pub fn from_bytes(row: &[u8]) -> Option<impl Iterator<Item = (u32, f32)> + '_> {
    row.len().is_multiple_of(8).then(|| {
        row.chunks_exact(8).map(|pair| {
            (
                u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]),
                f32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_reads_to_the_canonical_text_and_bad_ones_are_named() {
        let mut pairs = vec![];
        let mut out = String::new();
        let mut canonical = |raw: &str| {
            parse(raw, &mut pairs).map(|()| {
                write_canonical(pairs.iter().copied(), &mut out);
                out.clone()
            })
        };
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
            let err = parse(raw, &mut vec![]).unwrap_err();
            assert!(err.starts_with(expected), "{raw}: {err}");
        }
    }

    #[test]
    fn bytes_round_trip() {
        let pairs = [(3, 0.5f32), (9, -1.25)];
        let bytes = to_bytes(&pairs);
        assert_eq!(bytes.len(), 16);
        assert_eq!(
            from_bytes(&bytes).map(Iterator::collect::<Vec<_>>),
            Some(pairs.to_vec())
        );
        assert!(from_bytes(&bytes[..7]).is_none());
    }
}
