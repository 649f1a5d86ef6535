//! Milvus's JSON import document, `{"rows": [{...}, ...]}` (pymilvus's
//! BulkWriter writes it, pretty-printed or compact), read as JSONL: one row
//! a line, in constant memory.

use std::io::{self, BufRead, Read};

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
    /// Reads the document from `inner`.
    pub fn new(inner: R) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rows_document_reads_as_one_row_per_line() {
        let doc = "{\n  \"rows\": [\n    {\n      \"id\": 1,\n      \"s\": \"a,]\\\"}\\n\",\n      \"v\": [1, -2, NaN, -Infinity, Infinity]\n    },\n    {\"id\": 2, \"o\": {\"k\": [3]}}\n  ]\n}\n";
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
        let mut truncated = String::new();
        assert!(RowsDocument::new(&b"{\"rows\": [{\"id\": 1},"[..])
            .read_to_string(&mut truncated)
            .is_err());
    }
}
