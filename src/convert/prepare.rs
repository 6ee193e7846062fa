//! The passes every converted request goes through between decode and encode
//! (conversion.md §1.3 post-pass): images for blind upstreams, orphan tool results, missing
//! tool results, and merging neighbours of the same role.

use std::collections::HashSet;

use super::ir::{Message, Part, Request, Role, ToolResult};
use super::quirks::Quirks;

/// The text that replaces an image for an upstream that cannot read images.
pub(crate) const IMAGE_NOTICE: &str = "[image omitted: the upstream model cannot read images]";

pub(crate) fn prepare(request: &mut Request, quirks: &Quirks) {
    if !quirks.vision {
        for message in &mut request.messages {
            strip_images(&mut message.parts);
        }
    }
    drop_orphan_results(&mut request.messages);
    synthesize_missing_results(&mut request.messages);
    merge_neighbours(&mut request.messages);
}

fn strip_images(parts: &mut [Part]) {
    for part in parts {
        match part {
            Part::Image(_) => *part = Part::Text(IMAGE_NOTICE.to_string()),
            Part::ToolResult(result) => strip_images(&mut result.content),
            Part::Text(_) | Part::ToolCall(_) | Part::Reasoning(_) => {}
        }
    }
}

/// (a) A tool result whose id matches no earlier tool call is dropped (DeepSeek 400).
fn drop_orphan_results(messages: &mut Vec<Message>) {
    let mut seen: HashSet<String> = HashSet::new();
    for message in messages.iter_mut() {
        match message.role {
            Role::Assistant => {
                for part in &message.parts {
                    if let Part::ToolCall(call) = part {
                        seen.insert(call.id.clone());
                    }
                }
            }
            Role::Tool => {
                message
                    .parts
                    .retain(|part| matches!(part, Part::ToolResult(result) if seen.contains(&result.id)));
            }
            Role::System | Role::User => {}
        }
    }
    messages.retain(|message| !message.parts.is_empty());
}

/// (b) A tool call with no result before the next non-tool message gets an empty result,
/// unless it is in the very last message (the client is about to answer it).
fn synthesize_missing_results(messages: &mut Vec<Message>) {
    let mut index = 0;
    while index < messages.len() {
        if messages[index].role != Role::Assistant || !messages[index].has_tool_calls() {
            index += 1;
            continue;
        }
        let mut end = index + 1;
        let mut answered: HashSet<String> = HashSet::new();
        while end < messages.len() && messages[end].role == Role::Tool {
            for part in &messages[end].parts {
                if let Part::ToolResult(result) = part {
                    answered.insert(result.id.clone());
                }
            }
            end += 1;
        }
        let is_tail = index + 1 == messages.len();
        if !is_tail {
            let missing: Vec<Part> = messages[index]
                .parts
                .iter()
                .filter_map(|part| match part {
                    Part::ToolCall(call) if !answered.contains(&call.id) => {
                        Some(Part::ToolResult(ToolResult {
                            id: call.id.clone(),
                            content: Vec::new(),
                            is_error: false,
                            kind: call.kind,
                        }))
                    }
                    _ => None,
                })
                .collect();
            if !missing.is_empty() {
                messages.insert(end, Message::new(Role::Tool, missing));
                end += 1;
            }
        }
        index = end;
    }
}

/// (c) Consecutive user, tool or assistant messages become one (parts kept, images too).
fn merge_neighbours(messages: &mut Vec<Message>) {
    let mut merged: Vec<Message> = Vec::with_capacity(messages.len());
    for message in messages.drain(..) {
        if message.parts.is_empty() {
            continue;
        }
        if let Some(last) = merged.last_mut() {
            if last.role == message.role && matches!(message.role, Role::User | Role::Tool | Role::Assistant)
            {
                last.parts.extend(message.parts);
                continue;
            }
        }
        merged.push(message);
    }
    *messages = merged;
}
