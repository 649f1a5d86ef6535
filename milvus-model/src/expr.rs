//! Building Milvus boolean expressions safely.

/// A string literal for a Milvus expression: double-quoted, with backslash,
/// quote and control characters escaped (the parser unquotes Go-style).
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `(a) and (b)`, leaving out empty sides.
pub fn and(a: &str, b: &str) -> String {
    match (a.trim().is_empty(), b.trim().is_empty()) {
        (true, true) => String::new(),
        (true, false) => b.to_string(),
        (false, true) => a.to_string(),
        (false, false) => format!("({a}) and ({b})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_quotes_backslashes_and_controls() {
        assert_eq!(string_literal("plain"), r#""plain""#);
        assert_eq!(string_literal(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(string_literal("l1\nl2\u{1}"), r#""l1\nl2\u0001""#);
        assert_eq!(string_literal("ünï"), "\"ünï\"");
    }

    #[test]
    fn and_skips_empty_sides() {
        assert_eq!(and("", "id > 3"), "id > 3");
        assert_eq!(and("x == 1", ""), "x == 1");
        assert_eq!(and("x == 1", "id > 3"), "(x == 1) and (id > 3)");
    }
}
