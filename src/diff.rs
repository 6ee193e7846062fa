//! Unified diffs of file versions, for `--dry-run` and `backup diff`.

/// A unified diff between two versions of a file (`None`: the file does not exist).
pub fn unified_diff(label: &str, old: Option<&[u8]>, new: Option<&[u8]>) -> String {
    let old_text = old.map(String::from_utf8_lossy).unwrap_or_default();
    let new_text = new.map(String::from_utf8_lossy).unwrap_or_default();
    let old_label = if old.is_some() { label.to_string() } else { "/dev/null".to_string() };
    let new_label = if new.is_some() { label.to_string() } else { "/dev/null".to_string() };
    let diff = similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref());
    let mut text = diff.unified_diff().context_radius(3).header(&old_label, &new_label).to_string();
    if text.is_empty() && old != new {
        text = format!("--- {old_label}\n+++ {new_label}\n(file mode or bytes differ outside text lines)\n");
    }
    text
}
