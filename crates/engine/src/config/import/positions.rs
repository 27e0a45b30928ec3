//! Where things are in a config file: byte offsets to lines, and where each object key sits,
//! so an error can name the line of a value serde accepted.

/// Byte offsets where each line starts.
pub(super) struct Lines(Vec<usize>);

impl Lines {
    pub(super) fn new(text: &[u8]) -> Lines {
        Lines(
            std::iter::once(0)
                .chain(
                    text.iter()
                        .enumerate()
                        .filter(|(_, b)| **b == b'\n')
                        .map(|(i, _)| i + 1),
                )
                .collect(),
        )
    }

    /// 1-based line and column of a byte offset.
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.0.partition_point(|start| *start <= offset);
        (line, offset - self.0[line - 1] + 1)
    }
}

/// Every object key in the document with its path and the byte offset of its opening quote.
/// serde does not report positions of values it accepted, so a semantic error ("no command")
/// finds its line here. Built only from text serde_json has already accepted.
pub(super) struct KeyIndex(Vec<(Vec<String>, usize)>);

impl KeyIndex {
    pub(super) fn build(text: &[u8]) -> KeyIndex {
        let mut scan = KeyScan {
            text,
            pos: 0,
            keys: Vec::new(),
        };
        scan.value(&mut Vec::new());
        KeyIndex(scan.keys)
    }

    /// The offset of the `nth` key with exactly this path.
    pub(super) fn find(&self, path: &[&str], nth: usize) -> Option<usize> {
        self.0
            .iter()
            .filter(|(p, _)| p.iter().map(String::as_str).eq(path.iter().copied()))
            .nth(nth)
            .map(|(_, o)| *o)
    }

    /// The keys directly inside the `nth` object at `path`.
    pub(super) fn children(&self, path: &[&str], nth: usize) -> Vec<String> {
        let Some(start) = self.find(path, nth) else {
            return Vec::new();
        };
        let end = self.find(path, nth + 1).unwrap_or(usize::MAX);
        self.0
            .iter()
            .filter(|(p, o)| {
                *o > start
                    && *o < end
                    && p.len() == path.len() + 1
                    && p.iter().map(String::as_str).zip(path).all(|(a, b)| a == *b)
            })
            .map(|(p, _)| p[path.len()].clone())
            .collect()
    }
}

pub(super) struct KeyScan<'t> {
    text: &'t [u8],
    pos: usize,
    keys: Vec<(Vec<String>, usize)>,
}

impl KeyScan<'_> {
    pub(super) fn peek(&mut self) -> Option<u8> {
        while self.text.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
        self.text.get(self.pos).copied()
    }

    pub(super) fn value(&mut self, path: &mut Vec<String>) {
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                while let Some(b'"') = self.peek() {
                    let at = self.pos;
                    let key = self.string();
                    path.push(key);
                    self.keys.push((path.clone(), at));
                    if self.peek() == Some(b':') {
                        self.pos += 1;
                    }
                    self.value(path);
                    path.pop();
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    }
                }
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut index = 0;
                while !matches!(self.peek(), None | Some(b']')) {
                    path.push(format!("[{index}]"));
                    let before = self.pos;
                    self.value(path);
                    path.pop();
                    index += 1;
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    } else if self.pos == before {
                        break;
                    }
                }
                if self.peek() == Some(b']') {
                    self.pos += 1;
                }
            }
            Some(b'"') => {
                self.string();
            }
            Some(_) => {
                while self
                    .text
                    .get(self.pos)
                    .is_some_and(|b| !b",}] \t\r\n".contains(b))
                {
                    self.pos += 1;
                }
            }
            None => {}
        }
    }

    /// Reads a string starting at its opening quote; returns its decoded text.
    pub(super) fn string(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        let mut escaped = false;
        while let Some(&b) = self.text.get(self.pos) {
            self.pos += 1;
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => break,
                _ => {}
            }
        }
        let raw = &self.text[start..self.pos];
        serde_json::from_slice(raw).unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_index_finds_nested_keys_in_order() {
        let text = br#"{"a": {"x": 1, "y": [ {"z": "\"q"} ], "x": 2}, "b\u0041": true}"#;
        let keys = KeyIndex::build(text);
        assert_eq!(keys.find(&["a", "x"], 0), Some(7));
        assert_eq!(keys.find(&["a", "x"], 1), Some(38));
        assert_eq!(keys.find(&["a", "y", "[0]", "z"], 0), Some(23));
        assert!(keys.find(&["bA"], 0).is_some());
        assert_eq!(keys.children(&["a"], 0), ["x", "y", "x"]);
    }

    #[test]
    fn positions_are_one_based() {
        let lines = Lines::new(b"ab\ncd\n");
        assert_eq!(lines.position(0), (1, 1));
        assert_eq!(lines.position(1), (1, 2));
        assert_eq!(lines.position(3), (2, 1));
        assert_eq!(lines.position(6), (3, 1));
    }
}
