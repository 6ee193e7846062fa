//! What a request's body asks for: the model, the stream flag, and whether it carries an
//! image (only looked for when a link of the chain cannot read images).

use std::borrow::Cow;

use memchr::memmem;

/// The requested model, whether the body carries an image, and the stream flag. The image
/// check is structural (a content part whose `type` is an image type), so a tool property
/// named `image` is not an image; the tree is only built when an image type's name
/// appears, and the body is only scanned for images when `images_matter` (some link of
/// the chain cannot read them: the only use of the answer), else it is `false`.
pub(super) fn inspect_body(body: &[u8], images_matter: bool) -> (Option<String>, bool, bool) {
    let (model, stream) = skim_model_and_stream(body).unwrap_or_else(|| peek_model_and_stream(body));
    let model = model.map(Cow::into_owned);
    let may_have_images = images_matter && names_an_image_type(body);
    let has_images = may_have_images
        && serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|value| {
            ["input", "messages", "contents"].iter().any(|key| value.get(key).is_some_and(has_image_part))
        });
    (model, has_images, stream)
}

/// The top-level `model` and `stream` of a JSON body, read by serde: nothing of either
/// when the body is no object with a string (or `null`) model and a boolean (or `null`)
/// stream.
fn peek_model_and_stream(body: &[u8]) -> (Option<Cow<'_, str>>, bool) {
    #[derive(serde::Deserialize)]
    struct Peek<'a> {
        #[serde(borrow)]
        model: Option<Cow<'a, str>>,
        stream: Option<bool>,
    }
    match serde_json::from_slice::<Peek<'_>>(body) {
        Ok(peek) => (peek.model, peek.stream.unwrap_or(false)),
        Err(_) => (None, false),
    }
}

/// [`peek_model_and_stream`] by the skim (`skim::top_level`): the top level walked, and
/// only the two values read. `None` leaves the body to serde: the skim cannot vouch for it,
/// a key is there twice, or a value is not a plain string, boolean or `null` (an escape or
/// a control character in the model, anything else in the stream).
fn skim_model_and_stream(body: &[u8]) -> Option<(Option<Cow<'_, str>>, bool)> {
    let [model, stream] = super::super::skim::values_of(body, [b"model", b"stream"])?;
    let model = match model {
        None | Some(b"null") => None,
        Some([b'"', text @ .., b'"']) if !text.iter().any(|byte| *byte == b'\\' || *byte < 0x20) => {
            Some(Cow::Borrowed(std::str::from_utf8(text).ok()?))
        }
        Some(_) => return None,
    };
    let stream = match stream {
        None | Some(b"null" | b"false") => false,
        Some(b"true") => true,
        Some(_) => return None,
    };
    Some((model, stream))
}

/// Whether `"input_image"`, `"image_url"`, `"image"` or `"image/` is in the body: one scan
/// for `image` with a searcher made once (a searcher made per call costs more than the
/// scan of a small body), each hit looked at around.
fn names_an_image_type(body: &[u8]) -> bool {
    static IMAGE: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(b"image"));
    IMAGE.find_iter(body).any(|at| {
        let (before, after) = (&body[..at], &body[at + b"image".len()..]);
        if before.ends_with(b"\"input_") {
            after.starts_with(b"\"")
        } else {
            before.ends_with(b"\"") && [&b"\""[..], b"_url\"", b"/"].iter().any(|end| after.starts_with(end))
        }
    })
}

/// Whether a message list (or one message, or a content array) holds an image part:
/// Responses `input_image`, Chat `image_url`, Messages `image` (also inside tool results).
fn has_image_part(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Array(items) => items.iter().any(has_image_part),
        serde_json::Value::Object(map) => {
            let typed_image = map
                .get("type")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|kind| matches!(kind, "input_image" | "image_url" | "image"));
            // Gemini API: `{"inlineData": {"mimeType": "image/png", ...}}` (or `fileData`).
            let gemini_image = ["inlineData", "inline_data", "fileData", "file_data"].iter().any(|key| {
                map.get(*key)
                    .and_then(|data| data.get("mimeType").or_else(|| data.get("mime_type")))
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|mime| mime.starts_with("image/"))
            });
            typed_image
                || gemini_image
                || ["content", "output", "parts"].iter().any(|key| map.get(*key).is_some_and(has_image_part))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_inline_images_are_images() {
        let body = br#"{"contents":[{"role":"user","parts":[{"text":"what"},{"inlineData":{"mimeType":"image/png","data":"AA"}}]}]}"#;
        assert!(inspect_body(body, true).1);
        let pdf = br#"{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"application/pdf","data":"AA"}}]}]}"#;
        assert!(!inspect_body(pdf, true).1);
    }

    #[test]
    fn an_image_type_is_named_where_one_of_its_four_spellings_is() {
        let four = |body: &[u8]| {
            [&b"\"input_image\""[..], b"\"image_url\"", b"\"image\"", b"\"image/"]
                .iter()
                .any(|needle| memchr::memmem::find(body, needle).is_some())
        };
        for body in [
            &br#"{"type":"input_image"}"#[..],
            br#"{"type":"image_url"}"#,
            br#"{"type":"image"}"#,
            br#""image/png""#,
            br#"image"image/"#,
            br#"{"text":"an image, images, imagery"}"#,
            br#"{"x":"input_image_url","y":"image_urls","z":"myimage"}"#,
            br#""input_imageimage""#,
            b"image",
            b"",
        ] {
            assert_eq!(names_an_image_type(body), four(body), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn images_are_found_by_structure_not_by_name() {
        // A tool whose schema has a property named `image` carries no image.
        let tool = br#"{"model":"m","tools":[{"type":"function","function":{"name":"t","parameters":{"type":"object","properties":{"image":{"type":"string"},"image_url":{"type":"string"}}}}}],"messages":[{"role":"user","content":"describe \"image\""}]}"#;
        assert_eq!(inspect_body(tool, true), (Some("m".into()), false, false));
        let chat = br#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA"}}]}]}"#;
        assert!(inspect_body(chat, true).1);
        let responses = br#"{"input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"data:x"}]}]}"#;
        assert!(inspect_body(responses, true).1);
        let tool_result = br#"{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA"}}]}]}]}"#;
        assert!(inspect_body(tool_result, true).1);
    }

    #[test]
    fn the_skim_reads_model_and_stream_as_serde_does() {
        let documents: &[&[u8]] = &[
            br#"{"model": "mock-small", "input": "hi", "stream": false}"#,
            br#"{"stream":true,"model":"gpt-5","input":[{"role":"user","content":[{"type":"input_text","text":"\"model\": {[}]"}]}]}"#,
            br#" { "model" : "a\u00e9\"b" , "stream" : null , "tools" : [ { "name" : "model" } ] } "#,
            br#"{"model":null,"messages":[],"stream":true,"max_tokens":1e3}"#,
            br#"{"model":"m","model":"n"}"#,
            br#"{"model":5,"stream":true}"#,
            br#"{"model":"m","stream":"yes"}"#,
            br#"{"mo\u0064el":"m"}"#,
            b"{\"model\":\"caf\xc3\xa9\",\"stream\":true}",
            b"{\"model\":\"\xff\"}",
            b"{\"model\":\"a\tb\"}",
            b"{}",
            b"[]",
        ];
        let agree = |data: &[u8]| {
            let text = String::from_utf8_lossy(data);
            match (skim_model_and_stream(data), serde_json::from_slice::<serde_json::Value>(data).is_ok()) {
                (Some(skimmed), true) => assert_eq!(skimmed, peek_model_and_stream(data), "{text}"),
                (Some(_), false) => {
                    // Only a document whose brackets pair and strings end, ending with its object.
                    let end = data.iter().rposition(|byte| !byte.is_ascii_whitespace()).unwrap();
                    assert_eq!(data[end], b'}', "{text}");
                }
                (None, _) => {}
            }
        };
        for document in documents {
            agree(document);
            for end in 0..document.len() {
                agree(&document[..end]);
            }
            for at in 0..document.len() {
                for byte in *b"\"\\{}[],:0e-. \ntu\x01" {
                    let mut changed = document.to_vec();
                    changed[at] = byte;
                    agree(&changed);
                }
            }
        }
        assert_eq!(skim_model_and_stream(documents[0]), Some((Some("mock-small".into()), false)));
        assert_eq!(skim_model_and_stream(documents[1]), Some((Some("gpt-5".into()), true)));
        // Left to serde: an escape, a key twice, a value of another type, an escaped key.
        for left in [2, 4, 5, 6, 7, 10] {
            assert_eq!(skim_model_and_stream(documents[left]), None, "{left}");
        }
        assert_eq!(inspect_body(documents[2], false), (Some("a\u{e9}\"b".into()), false, false));
        assert_eq!(inspect_body(documents[5], false), (None, false, false));
    }

    #[test]
    fn body_inspection() {
        assert_eq!(inspect_body(br#"{"stream":true,"model":"m1"}"#, true), (Some("m1".into()), false, true));
        assert_eq!(
            inspect_body(br#"{"messages":[{"content":[{"type":"image","source":{}}]}]}"#, true),
            (None, true, false)
        );
        assert_eq!(inspect_body(b"garbage", true), (None, false, false));
        // With no link that cannot read images, the body is not looked through for them.
        let image = br#"{"model":"m","messages":[{"content":[{"type":"image","source":{}}]}]}"#;
        assert_eq!(inspect_body(image, false), (Some("m".into()), false, false));
        assert!(inspect_body(image, true).1);
    }
}
