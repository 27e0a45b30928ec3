//! JSONC -> JSON, keeping every byte where it was so serde_json's lines and columns still
//! point into the person's file.

use std::io::Read;

use json_comments::CommentSettings;

/// Comments and trailing commas become spaces; newlines stay. `Err((offset, message))`.
pub(super) fn to_json(input: &[u8]) -> Result<Vec<u8>, (usize, &'static str)> {
    let mut out = Vec::with_capacity(input.len());
    // `#` is not a comment in JSONC; leave it to serde_json to reject.
    if CommentSettings::c_style()
        .strip_comments(input)
        .read_to_end(&mut out)
        .is_err()
    {
        return Err(comment_error(input));
    }
    debug_assert_eq!(out.len(), input.len());
    // json_comments blanks the newlines inside a /* block */ too; put them back, or every
    // line number after a multi-line comment would be off.
    for (o, i) in out.iter_mut().zip(input) {
        if matches!(i, b'\n' | b'\r') {
            *o = *i;
        }
    }
    // A UTF-8 byte-order mark, as Windows editors write it.
    if out.starts_with(b"\xEF\xBB\xBF") {
        out[..3].fill(b' ');
    }
    blank_trailing_commas(&mut out);
    Ok(out)
}

/// VS Code accepts `[1, 2,]` and `{"a": 1,}`. json_comments 0.2 has no option for that and
/// serde_json none either, so: a comma (outside strings) followed only by whitespace and
/// then `]` or `}` becomes a space. Comments are already spaces by now.
fn blank_trailing_commas(text: &mut [u8]) {
    let mut in_string = false;
    let mut escaped = false;
    for i in 0..text.len() {
        let b = text[i];
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' => {
                let next = text[i + 1..].iter().find(|b| !b.is_ascii_whitespace());
                if matches!(next, Some(b'}' | b']')) {
                    text[i] = b' ';
                }
            }
            _ => {}
        }
    }
}

/// json_comments reports a bad comment without a position; find it by feeding it one byte
/// at a time (only on this error path; config files are small).
fn comment_error(input: &[u8]) -> (usize, &'static str) {
    struct OneByte<'a>(&'a [u8]);
    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }
    let mut strip = CommentSettings::c_style().strip_comments(OneByte(input));
    let mut consumed = 0;
    let mut byte = [0u8; 1];
    loop {
        match strip.read(&mut byte) {
            Ok(0) => return (input.len(), "the file ends inside a comment"),
            Ok(_) => consumed += 1,
            Err(_) if consumed >= input.len() => {
                return (
                    input.len().saturating_sub(1),
                    "the file ends inside a /* comment */ or after a `/`",
                );
            }
            // The byte that failed follows a `/` that starts no comment.
            Err(_) => {
                return (
                    consumed.saturating_sub(1),
                    "`/` here starts no comment (use // or /* */)",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::to_json;

    #[test]
    fn keeps_every_byte_and_line_in_place() {
        let input = "{\n  // a comment, with a comma,\n  \"a\": [1, 2,], /* a\nblock */\n  \"b\": \"x, }\",\n}\n";
        let out = to_json(input.as_bytes()).unwrap();
        assert_eq!(out.len(), input.len());
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.lines().count(), input.lines().count());
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value, serde_json::json!({"a": [1, 2], "b": "x, }"}));
    }

    #[test]
    fn a_stray_slash_is_located() {
        let input = b"{\n  \"a\": 1 / 2\n}";
        let (offset, message) = to_json(input).unwrap_err();
        assert_eq!(input[offset], b'/', "{message}");
        let (offset, _) = to_json(b"{ /* never closed\n").unwrap_err();
        assert_eq!(offset, 17);
    }
}
