//! What a window is sent of a tool result or a resource: MCP's own JSON, with every long text
//! cut, every large binary left out and every long list shortened, and a note of what was cut.
//! The whole stays with the engine (the call history, a fresh read) and is saved to a file on
//! request, so a 10 MB answer never crosses into the UI.

use serde::Serialize;
use serde_json::Value;

/// Longest text (in bytes) a window is sent of one string; more is cut at a char boundary.
pub const TEXT_LIMIT: usize = 256 * 1024;
/// Largest base64 payload (`data` of an image or audio block, a resource's `blob`) sent whole;
/// a bigger one is left out, since half an image shows nothing.
pub const BLOB_LIMIT: usize = 4 * 1024 * 1024;
/// Most items a window is sent of one JSON array.
pub const ITEMS_LIMIT: usize = 1000;

/// What was left out: the JSON's size as the server sent it, and as the window gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Cut {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total_bytes: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub shown_bytes: u64,
}

/// A value shortened for a window, with what was cut (`None` when nothing was).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Preview {
    pub value: Value,
    pub cut: Option<Cut>,
}

/// Shortens `value` in place for a window; `Some` says it was cut and by how much.
pub fn shorten(value: &mut Value) -> Option<Cut> {
    shorten_with(value, WINDOW)
}

pub fn preview(mut value: Value) -> Preview {
    let cut = shorten(&mut value);
    Preview { value, cut }
}

fn json_len(value: &Value) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// How much of a value a reader is sent.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub text: usize,
    pub blob: usize,
    pub items: usize,
}

/// What a window is sent of a tool result or a resource.
pub const WINDOW: Limits = Limits {
    text: TEXT_LIMIT,
    blob: BLOB_LIMIT,
    items: ITEMS_LIMIT,
};

/// `shorten` with other limits (the notifications journal keeps less of each).
pub fn shorten_with(value: &mut Value, limits: Limits) -> Option<Cut> {
    let total = json_len(value);
    if !shorten_in(value, None, limits) {
        return None;
    }
    Some(Cut {
        total_bytes: total,
        shown_bytes: json_len(value),
    })
}

/// `key` is the name this value has in its parent object, if any. True when anything was cut.
fn shorten_in(value: &mut Value, key: Option<&str>, limits: Limits) -> bool {
    match value {
        // Base64 is whole or left out: half an image shows nothing.
        Value::String(s) if matches!(key, Some("data" | "blob")) => {
            if s.len() > limits.blob {
                s.clear();
                true
            } else {
                false
            }
        }
        Value::String(s) if s.len() > limits.text => {
            let mut end = limits.text;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            true
        }
        Value::Array(items) => {
            let mut cut = items.len() > limits.items;
            items.truncate(limits.items);
            for item in items.iter_mut() {
                cut |= shorten_in(item, None, limits);
            }
            cut
        }
        Value::Object(map) => {
            let mut cut = false;
            for (k, v) in map.iter_mut() {
                cut |= shorten_in(v, Some(k), limits);
            }
            cut
        }
        _ => false,
    }
}

/// The bytes a resource's contents stand for: texts as UTF-8 and blobs decoded, in order (what
/// "save to a file" writes).
pub fn resource_bytes(read_result: &Value) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let mut bytes = Vec::new();
    for c in read_result
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(text) = c.get("text").and_then(Value::as_str) {
            bytes.extend_from_slice(text.as_bytes());
        } else if let Some(blob) = c.get("blob").and_then(Value::as_str) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(blob)
                .map_err(|e| format!("the server sent a blob that is not base64: {e}"))?;
            bytes.extend(decoded);
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_small_value_is_left_alone() {
        let mut v =
            json!({"content": [{"type": "text", "text": "hi"}], "structuredContent": [1, 2]});
        let before = v.clone();
        assert_eq!(shorten(&mut v), None);
        assert_eq!(v, before);
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary_and_big_binaries_are_left_out() {
        // 'é' is two bytes: the cut must not split one.
        let long = "é".repeat(TEXT_LIMIT);
        let image = "A".repeat(BLOB_LIMIT + 4);
        // Bigger than a text may be, small enough to show: kept whole.
        let screenshot = "B".repeat(TEXT_LIMIT * 4);
        let mut v = json!({"content": [
            {"type": "text", "text": long},
            {"type": "image", "mimeType": "image/png", "data": image},
            {"type": "image", "mimeType": "image/png", "data": screenshot},
            {"type": "resource", "resource": {"uri": "x:", "blob": image}},
        ], "structuredContent": {"rows": (0..5000).collect::<Vec<_>>()}});
        let total = json_len(&v);
        let cut = shorten(&mut v).unwrap();
        assert_eq!(cut.total_bytes, total);
        assert!(cut.shown_bytes < (TEXT_LIMIT * 6) as u64, "{cut:?}");
        let text = v["content"][0]["text"].as_str().unwrap();
        assert!(text.len() <= TEXT_LIMIT && text.len() > TEXT_LIMIT - 2);
        assert!(text.chars().all(|c| c == 'é'));
        assert_eq!(v["content"][1]["data"], "");
        assert!(
            v["content"][2]["data"].as_str() == Some(screenshot.as_str()),
            "an image that fits is kept whole"
        );
        assert_eq!(v["content"][3]["resource"]["blob"], "");
        assert_eq!(
            v["structuredContent"]["rows"].as_array().unwrap().len(),
            ITEMS_LIMIT
        );
        assert_eq!(
            v["content"][1]["mimeType"], "image/png",
            "the rest of a block stays"
        );
    }

    #[test]
    fn a_resource_is_saved_as_its_text_and_decoded_blobs() {
        let read = json!({"contents": [
            {"uri": "a", "text": "héllo "},
            {"uri": "b", "blob": "AAEC"},
        ]});
        assert_eq!(resource_bytes(&read).unwrap(), b"h\xc3\xa9llo \x00\x01\x02");
        let bad = json!({"contents": [{"uri": "b", "blob": "not base64!"}]});
        assert!(resource_bytes(&bad).unwrap_err().contains("not base64"));
    }
}
