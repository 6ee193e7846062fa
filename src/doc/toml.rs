//! TOML bodies: reading and editing a `toml_edit::DocumentMut` through every form the
//! same data can take (`[a.b]` headers, root dotted keys, inline tables, sub-tables of
//! dotted tables).
//!
//! Invariants:
//! - Replacing a value keeps the key's decor and the value's decor (leading space,
//!   same-line comment).
//! - A new object under a standard table (or the root) becomes a standard table whose
//!   nested objects are inline; under an inline table it is inserted into that inline
//!   table; under a dotted table it stays dotted. Missing parents are created implicit
//!   (standard), dotted or inline to match their own parent, so an implicit parent left
//!   empty prints nothing.
//! - New tables are left without a position: toml_edit then prints them right after the
//!   last table of the same parent (or at the end), and root keys always print before
//!   the first header, so an edit never produces a root key inside a table.
//! - Nothing here reads or writes files.

use serde_json::Value as JsonValue;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

/// An edit the document's shape does not allow (a parent that is not a table, a null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EditConflict(pub(crate) String);

/// A TOML parse failure: byte offset into the normalised text, message, and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TomlFailure {
    pub(crate) offset: usize,
    pub(crate) message: String,
    pub(crate) kind: TomlFailureKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TomlFailureKind {
    Syntax,
    /// A duplicate key or table (toml_edit reports both as "duplicate key").
    DuplicateKey,
    /// toml_edit's own nesting limit, which keeps hostile input off the stack.
    TooDeep,
}

/// What a `set` did: whether anything changed and which parents it had to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SetOutcome {
    pub(crate) changed: bool,
    pub(crate) created_parents: Vec<Vec<String>>,
}

pub(crate) fn parse(text: &str) -> Result<DocumentMut, TomlFailure> {
    // TOML allows no control character but tab anywhere (not in strings, not in
    // comments); toml_parser reads a lone form feed as a key, so name it here.
    if let Some(offset) = text.find(['\u{b}', '\u{c}']) {
        let name =
            if text.as_bytes()[offset] == 0x0c { "form feed (U+000C)" } else { "vertical tab (U+000B)" };
        return Err(TomlFailure {
            offset,
            message: format!("a {name} is not allowed in TOML"),
            kind: TomlFailureKind::Syntax,
        });
    }
    text.parse::<DocumentMut>().map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        let mut message = error.message().trim().lines().last().unwrap_or_default().to_string();
        let kind = if message.starts_with("duplicate key") {
            TomlFailureKind::DuplicateKey
        } else if message.contains("recursion") {
            TomlFailureKind::TooDeep
        } else {
            TomlFailureKind::Syntax
        };
        if let Some(key) =
            text.get(span.clone()).filter(|key| kind == TomlFailureKind::DuplicateKey && !key.is_empty())
        {
            message = format!("duplicate key `{key}`");
        }
        TomlFailure { offset: span.start, kind, message }
    })
}

/// The item at `key_path` (the whole document for an empty path).
pub(crate) fn get(document: &DocumentMut, key_path: &[&str]) -> Option<JsonValue> {
    let Some((last, parents)) = key_path.split_last() else {
        return Some(table_to_json(document.as_table()));
    };
    let mut current = document.as_item();
    for key in parents {
        current = current.as_table_like()?.get(key)?;
    }
    item_to_json(current.as_table_like()?.get(last)?)
}

/// Child keys of the table or inline table at `key_path`, in file order.
pub(crate) fn keys(document: &DocumentMut, key_path: &[&str]) -> Vec<String> {
    let mut current = document.as_item();
    for key in key_path {
        match current.as_table_like().and_then(|table| table.get(key)) {
            Some(item) => current = item,
            None => return Vec::new(),
        }
    }
    match current.as_table_like() {
        Some(table) => {
            table.iter().filter(|(_, item)| !item.is_none()).map(|(key, _)| key.to_string()).collect()
        }
        None => Vec::new(),
    }
}

/// Set `key_path` to `value`, creating missing parents. The caller handles the
/// object-onto-object case (it recurses key by key so existing formatting survives).
pub(crate) fn set(
    document: &mut DocumentMut,
    key_path: &[&str],
    value: &JsonValue,
) -> Result<SetOutcome, EditConflict> {
    let Some((last, parents)) = key_path.split_last() else {
        return Err(EditConflict("the document itself cannot be replaced".to_string()));
    };
    let mut outcome = SetOutcome::default();
    let mut container = Container::Table(document.as_table_mut());
    for (depth, key) in parents.iter().enumerate() {
        let (next, created) = container.child_or_create(key, &key_path[..=depth])?;
        if created {
            outcome.created_parents.push(key_path[..=depth].iter().map(ToString::to_string).collect());
        }
        container = next;
    }
    outcome.changed = container.set_leaf(last, value, key_path)?;
    Ok(outcome)
}

/// Remove `key_path`, returning what was there.
pub(crate) fn remove(
    document: &mut DocumentMut,
    key_path: &[&str],
) -> Result<Option<JsonValue>, EditConflict> {
    let Some((last, parents)) = key_path.split_last() else {
        return Err(EditConflict("the document itself cannot be removed".to_string()));
    };
    let mut container = Container::Table(document.as_table_mut());
    for key in parents {
        match container.child(key) {
            Some(next) => container = next,
            None => return Ok(None),
        }
    }
    Ok(container.remove(last))
}

/// The whole table as JSON.
pub(crate) fn table_to_json(table: &Table) -> JsonValue {
    JsonValue::Object(
        table.iter().filter_map(|(key, item)| Some((key.to_string(), item_to_json(item)?))).collect(),
    )
}

/// A table-like container on the way down a key path.
enum Container<'doc> {
    Table(&'doc mut Table),
    Inline(&'doc mut InlineTable),
}

impl<'doc> Container<'doc> {
    /// The existing child table at `key`, if it is one.
    fn child(self, key: &str) -> Option<Container<'doc>> {
        match self {
            Container::Table(table) => match table.get_mut(key)? {
                Item::Table(child) => Some(Container::Table(child)),
                Item::Value(Value::InlineTable(child)) => Some(Container::Inline(child)),
                Item::Value(_) | Item::ArrayOfTables(_) | Item::None => None,
            },
            Container::Inline(table) => match table.get_mut(key)? {
                Value::InlineTable(child) => Some(Container::Inline(child)),
                Value::String(_)
                | Value::Integer(_)
                | Value::Float(_)
                | Value::Boolean(_)
                | Value::Datetime(_)
                | Value::Array(_) => None,
            },
        }
    }

    /// The child table at `key`, created in this container's own style when missing.
    /// Returns whether it was created.
    fn child_or_create(self, key: &str, path: &[&str]) -> Result<(Container<'doc>, bool), EditConflict> {
        let not_a_table = || EditConflict(format!("`{}` exists and is not a table", display_key_path(path)));
        match self {
            Container::Table(table) => {
                let created = match table.get(key) {
                    None | Some(Item::None) => {
                        let mut child = Table::new();
                        if table.is_dotted() {
                            child.set_dotted(true);
                        } else {
                            child.set_implicit(true);
                        }
                        table.insert(key, Item::Table(child));
                        true
                    }
                    Some(Item::Table(_) | Item::Value(Value::InlineTable(_))) => false,
                    Some(Item::Value(_) | Item::ArrayOfTables(_)) => return Err(not_a_table()),
                };
                match table.get_mut(key) {
                    Some(Item::Table(child)) => Ok((Container::Table(child), created)),
                    Some(Item::Value(Value::InlineTable(child))) => Ok((Container::Inline(child), created)),
                    Some(Item::Value(_) | Item::ArrayOfTables(_) | Item::None) | None => Err(not_a_table()),
                }
            }
            Container::Inline(table) => {
                let created = if table.contains_key(key) {
                    false
                } else {
                    inline_append(table, key, Value::InlineTable(InlineTable::new()));
                    true
                };
                match table.get_mut(key) {
                    Some(Value::InlineTable(child)) => Ok((Container::Inline(child), created)),
                    Some(_) | None => Err(not_a_table()),
                }
            }
        }
    }

    /// Set `key` in this container. Returns whether the document changed.
    fn set_leaf(self, key: &str, value: &JsonValue, path: &[&str]) -> Result<bool, EditConflict> {
        let conflict = |message: String| EditConflict(format!("`{}`: {message}", display_key_path(path)));
        match self {
            Container::Table(table) => {
                if let Some(existing) = table.get(key).and_then(item_to_json) {
                    if existing == *value {
                        return Ok(false);
                    }
                }
                match table.get_mut(key) {
                    Some(Item::Value(old)) => {
                        let mut new_value = json_to_value(value).map_err(conflict)?;
                        *new_value.decor_mut() = old.decor().clone();
                        *old = new_value;
                    }
                    Some(item @ (Item::Table(_) | Item::ArrayOfTables(_))) => {
                        // The caller recursed for object onto table; anything else replaces
                        // the table with a plain value at the same key, whose key then
                        // needs the `key = ` spacing a header key did not have.
                        *item = Item::Value(json_to_value(value).map_err(conflict)?);
                        if let Some(mut key_decor) = table.key_mut(key) {
                            key_decor.leaf_decor_mut().clear();
                        }
                    }
                    Some(Item::None) | None => {
                        let item = if table.is_dotted() {
                            new_dotted_item(value).map_err(conflict)?
                        } else {
                            new_standard_item(value).map_err(conflict)?
                        };
                        table.insert(key, item);
                    }
                }
                Ok(true)
            }
            Container::Inline(table) => {
                let new_value = json_to_value(value).map_err(conflict)?;
                match table.get_mut(key) {
                    Some(old) => {
                        if value_to_json(old) == *value {
                            return Ok(false);
                        }
                        let mut new_value = new_value;
                        *new_value.decor_mut() = old.decor().clone();
                        *old = new_value;
                    }
                    None => inline_append(table, key, new_value),
                }
                Ok(true)
            }
        }
    }

    fn remove(self, key: &str) -> Option<JsonValue> {
        match self {
            Container::Table(table) => table.remove(key).as_ref().and_then(item_to_json),
            Container::Inline(table) => inline_remove(table, key).as_ref().map(value_to_json),
        }
    }
}

/// Append to an inline table so it reads like the rest: the space that closed the
/// table (`1 }`) moves from the old last value to the new one (`1, b = 2 }`).
fn inline_append(table: &mut InlineTable, key: &str, mut value: Value) {
    // `{ }` already has its space inside (the preamble); `{}` has none.
    let opening_space =
        if table.is_empty() && table.trailing().as_str().is_some_and(|space| !space.is_empty()) {
            ""
        } else {
            " "
        };
    let closing_space = table.iter_mut().last().and_then(|(_, last)| {
        let suffix = last.decor().suffix().and_then(|suffix| suffix.as_str()).map(ToString::to_string);
        last.decor_mut().set_suffix("");
        suffix
    });
    value.decor_mut().set_prefix(" ");
    value.decor_mut().set_suffix(closing_space.unwrap_or_else(|| " ".to_string()));
    table.insert(key, value);
    if let Some(mut new_key) = table.key_mut(key) {
        new_key.leaf_decor_mut().set_prefix(opening_space);
        new_key.leaf_decor_mut().set_suffix(" ");
    }
}

/// Remove from an inline table; when the last entry goes, the space before `}` goes
/// back to the new last entry (the reverse of [`inline_append`]).
fn inline_remove(table: &mut InlineTable, key: &str) -> Option<Value> {
    let was_last = table.iter().last().is_some_and(|(last_key, _)| last_key == key);
    let removed = table.remove(key)?;
    if was_last {
        let closing_space =
            removed.decor().suffix().and_then(|suffix| suffix.as_str()).map(ToString::to_string);
        if let (Some((_, new_last)), Some(closing_space)) = (table.iter_mut().last(), closing_space) {
            new_last.decor_mut().set_suffix(closing_space);
        }
    }
    Some(removed)
}

/// A new key under a standard table or the root: objects become standard tables whose
/// own nested objects are inline; everything else is a `key = value` line.
fn new_standard_item(value: &JsonValue) -> Result<Item, String> {
    match value {
        JsonValue::Object(entries) => {
            let mut table = Table::new();
            for (key, entry) in entries {
                table.insert(key, Item::Value(json_to_value(entry)?));
            }
            Ok(Item::Table(table))
        }
        JsonValue::Null
        | JsonValue::Bool(_)
        | JsonValue::Number(_)
        | JsonValue::String(_)
        | JsonValue::Array(_) => Ok(Item::Value(json_to_value(value)?)),
    }
}

/// A new key under a dotted table: a non-empty object stays dotted (`a.b.c = 1`); an
/// empty one would print nothing as a dotted table, so it is written inline (`{}`).
fn new_dotted_item(value: &JsonValue) -> Result<Item, String> {
    match value {
        JsonValue::Object(entries) if !entries.is_empty() => {
            let mut table = Table::new();
            table.set_dotted(true);
            for (key, entry) in entries {
                table.insert(key, Item::Value(json_to_value(entry)?));
            }
            Ok(Item::Table(table))
        }
        JsonValue::Object(_)
        | JsonValue::Null
        | JsonValue::Bool(_)
        | JsonValue::Number(_)
        | JsonValue::String(_)
        | JsonValue::Array(_) => Ok(Item::Value(json_to_value(value)?)),
    }
}

/// A JSON value as a TOML value (objects become inline tables). TOML has no null and
/// no integers beyond i64, so those are refused rather than coerced.
pub(crate) fn json_to_value(value: &JsonValue) -> Result<Value, String> {
    Ok(match value {
        JsonValue::Null => return Err("TOML has no null value".to_string()),
        JsonValue::Bool(boolean) => Value::from(*boolean),
        JsonValue::Number(number) => {
            if let Some(integer) = number.as_i64() {
                Value::from(integer)
            } else if number.is_u64() {
                return Err(format!("{number} is too large for a TOML integer"));
            } else {
                Value::from(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        JsonValue::String(string) => Value::from(string.as_str()),
        JsonValue::Array(elements) => {
            Value::Array(elements.iter().map(json_to_value).collect::<Result<Array, String>>()?)
        }
        JsonValue::Object(entries) => {
            let mut table = InlineTable::new();
            for (key, entry) in entries {
                table.insert(key, json_to_value(entry)?);
            }
            Value::InlineTable(table)
        }
    })
}

fn item_to_json(item: &Item) -> Option<JsonValue> {
    match item {
        Item::None => None,
        Item::Value(value) => Some(value_to_json(value)),
        Item::Table(table) => Some(table_to_json(table)),
        Item::ArrayOfTables(array) => Some(JsonValue::Array(array.iter().map(table_to_json).collect())),
    }
}

/// A TOML value as JSON. Datetimes become their TOML text; non-finite floats (which
/// JSON cannot hold) become the strings `inf`, `-inf` and `nan`.
fn value_to_json(value: &Value) -> JsonValue {
    match value {
        Value::String(string) => JsonValue::String(string.value().clone()),
        Value::Integer(integer) => JsonValue::from(*integer.value()),
        Value::Float(float) => serde_json::Number::from_f64(*float.value())
            .map_or_else(|| JsonValue::String(float.value().to_string()), JsonValue::Number),
        Value::Boolean(boolean) => JsonValue::Bool(*boolean.value()),
        Value::Datetime(datetime) => JsonValue::String(datetime.value().to_string()),
        Value::Array(array) => JsonValue::Array(array.iter().map(value_to_json).collect()),
        Value::InlineTable(table) => JsonValue::Object(
            table.iter().map(|(key, entry)| (key.to_string(), value_to_json(entry))).collect(),
        ),
    }
}

fn display_key_path(path: &[&str]) -> String {
    path.iter().map(|key| toml_edit::Key::new(*key).to_string()).collect::<Vec<_>>().join(".")
}
