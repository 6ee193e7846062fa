//! Same API on both sides: the body is not converted. Its top-level members are read as raw
//! JSON (no `Value` tree) so `model` can be replaced and every other byte kept.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The top-level members of an object, in order, as raw JSON.
pub(crate) type Members = Vec<(String, Box<RawValue>)>;

/// The top-level members, the `model` and the `stream` flag.
pub(crate) fn fields(body: &[u8]) -> Result<(Members, String, bool), serde_json::Error> {
    struct Visit;
    impl<'de> Visitor<'de> for Visit {
        type Value = Members;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut members = Vec::new();
            while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                members.push(entry);
            }
            Ok(members)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let members = deserializer.deserialize_map(Visit)?;
    deserializer.end()?;
    let model = members
        .iter()
        .find(|(key, _)| key == "model")
        .and_then(|(_, raw)| serde_json::from_str::<String>(raw.get()).ok())
        .unwrap_or_default();
    let stream = members.iter().any(|(key, raw)| key == "stream" && raw.get() == "true");
    Ok((members, model, stream))
}

/// The body again with `model` replaced (or added last).
pub(crate) fn with_model(members: &[(String, Box<RawValue>)], model: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        members.iter().map(|(key, raw)| key.len() + raw.get().len() + 4).sum::<usize>() + 16,
    );
    out.push(b'{');
    let mut replaced = false;
    for (index, (key, raw)) in members.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        super::sse::write_json(&mut out, key);
        out.push(b':');
        if key == "model" {
            super::sse::write_json(&mut out, &model);
            replaced = true;
        } else {
            out.extend_from_slice(raw.get().as_bytes());
        }
    }
    if !replaced {
        if !members.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(b"\"model\":");
        super::sse::write_json(&mut out, &model);
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_replaced_other_bytes_kept() {
        let body = br#"{"model":"a","input":[{"n": 1.50}],"stream":true}"#;
        let (members, model, stream) = fields(body).unwrap();
        assert_eq!((model.as_str(), stream), ("a", true));
        assert_eq!(with_model(&members, "b"), br#"{"model":"b","input":[{"n": 1.50}],"stream":true}"#);
        let (members, _, stream) = fields(br#"{"x":1}"#).unwrap();
        assert!(!stream);
        assert_eq!(with_model(&members, "m"), br#"{"x":1,"model":"m"}"#);
        assert!(fields(b"[1]").is_err());
        assert!(fields(b"{} x").is_err());
    }
}
