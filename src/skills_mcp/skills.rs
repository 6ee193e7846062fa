//! Skills: SKILL.md frontmatter validation (product.md §8) and the shared store.
//!
//! A valid skill is a directory `<name>/` holding `SKILL.md` whose YAML frontmatter (a
//! `---` block at the very top; CRLF accepted) has
//! - `name`: lowercase letters, digits and single hyphens (`^[a-z0-9]+(-[a-z0-9]+)*$`),
//!   at most 64 characters, equal to the directory name;
//! - `description`: one line (after YAML parsing, so a folded `>-` block counts as one
//!   line), 1..=1024 characters.
//!
//! [`validate_skill_dir`] reports every problem it finds, not just the first; it never
//! writes anything. `aigate doctor` calls it too.

use std::path::Path;

use serde::Serialize;

/// The longest `name` every client accepts.
pub const MAX_NAME: usize = 64;
/// The longest `description` every client accepts.
pub const MAX_DESCRIPTION: usize = 1024;

/// One thing wrong with a skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A stable identifier: `missing-skill-md`, `unreadable`, `no-frontmatter`,
    /// `unterminated-frontmatter`, `bad-yaml`, `missing-name`, `bad-name`,
    /// `name-mismatch`, `missing-description`, `empty-description`,
    /// `multiline-description`, `description-too-long`.
    pub code: &'static str,
    /// What is wrong, for humans.
    pub message: String,
}

impl Problem {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What the frontmatter says.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Frontmatter {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// A skill directory read once: its `SKILL.md` text (when readable), what the
/// frontmatter says, and every problem (empty: valid).
#[derive(Debug, Clone, Default)]
pub struct SkillCheck {
    pub text: Option<String>,
    pub frontmatter: Frontmatter,
    pub problems: Vec<Problem>,
}

/// Read and check the skill in `dir`: `SKILL.md`, or `SKILL.md.disabled` for a disabled
/// skill.
pub fn check_skill_dir(dir: &Path) -> SkillCheck {
    let dir_name = dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let skill_md = dir.join("SKILL.md");
    let file = if skill_md.is_file() { skill_md } else { dir.join("SKILL.md.disabled") };
    let failed = |problem| SkillCheck { problems: vec![problem], ..SkillCheck::default() };
    if !file.is_file() {
        return failed(Problem::new("missing-skill-md", format!("`{dir_name}` has no SKILL.md")));
    }
    match fs_err::read(&file) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => {
                let (frontmatter, problems) = validate_skill_md(&text, &dir_name);
                SkillCheck { text: Some(text), frontmatter, problems }
            }
            Err(_) => failed(Problem::new("unreadable", "SKILL.md is not valid UTF-8")),
        },
        Err(error) => failed(Problem::new("unreadable", error.to_string())),
    }
}

/// Every problem of the skill in `dir` (empty: valid).
pub fn validate_skill_dir(dir: &Path) -> Vec<Problem> {
    check_skill_dir(dir).problems
}

/// Parse and check the text of a SKILL.md that lives in a directory called `dir_name`.
pub fn validate_skill_md(text: &str, dir_name: &str) -> (Frontmatter, Vec<Problem>) {
    let mut problems = Vec::new();
    let frontmatter = match frontmatter_yaml(text) {
        Ok(yaml) => match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&yaml) {
            Ok(serde_yaml_ng::Value::Mapping(mapping)) => Some(mapping),
            Ok(_) => {
                problems.push(Problem::new("bad-yaml", "the frontmatter is not a YAML mapping of keys"));
                None
            }
            Err(error) => {
                problems
                    .push(Problem::new("bad-yaml", format!("the frontmatter is not valid YAML: {error}")));
                None
            }
        },
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    let Some(mapping) = frontmatter else { return (Frontmatter::default(), problems) };
    let field = |key: &str| mapping.get(serde_yaml_ng::Value::String(key.to_string()));
    let mut result = Frontmatter::default();

    match field("name") {
        None | Some(serde_yaml_ng::Value::Null) => {
            problems.push(Problem::new("missing-name", "the frontmatter has no `name`"));
        }
        Some(serde_yaml_ng::Value::String(name)) => {
            result.name = Some(name.clone());
            if !valid_name(name) {
                problems.push(Problem::new(
                    "bad-name",
                    format!(
                        "`name` must be lowercase letters, digits and hyphens (at most {MAX_NAME}), not `{name}`"
                    ),
                ));
            }
            if name != dir_name {
                problems.push(Problem::new(
                    "name-mismatch",
                    format!("`name` is `{name}` but the directory is `{dir_name}`; they must be equal"),
                ));
            }
        }
        Some(_) => problems.push(Problem::new("bad-name", "`name` must be a string")),
    }

    match field("description") {
        None | Some(serde_yaml_ng::Value::Null) => {
            problems.push(Problem::new("missing-description", "the frontmatter has no `description`"));
        }
        Some(serde_yaml_ng::Value::String(description)) => {
            result.description = Some(description.clone());
            let length = description.chars().count();
            if description.trim().is_empty() {
                problems.push(Problem::new("empty-description", "`description` is empty"));
            } else if description.trim_end_matches('\n').contains('\n') {
                problems.push(Problem::new(
                    "multiline-description",
                    "`description` must be one line (a folded `>-` block is fine)",
                ));
            }
            if length > MAX_DESCRIPTION {
                problems.push(Problem::new(
                    "description-too-long",
                    format!("`description` is {length} characters; the limit is {MAX_DESCRIPTION}"),
                ));
            }
        }
        Some(_) => problems.push(Problem::new("missing-description", "`description` must be a string")),
    }
    (result, problems)
}

/// A skill name every client accepts.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.split('-').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// The YAML between the opening and closing `---` lines.
fn frontmatter_yaml(text: &str) -> Result<String, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line));
    if lines.next().map(str::trim_end) != Some("---") {
        return Err(Problem::new(
            "no-frontmatter",
            "SKILL.md has no YAML frontmatter (a `---` block at the top)",
        ));
    }
    let mut yaml = String::new();
    for line in lines {
        if line.trim_end() == "---" {
            return Ok(yaml);
        }
        yaml.push_str(line);
        yaml.push('\n');
    }
    Err(Problem::new("unterminated-frontmatter", "the frontmatter has no closing `---` line"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn codes(dir: &str) -> Vec<&'static str> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/skills").join(dir);
        validate_skill_dir(&root).into_iter().map(|problem| problem.code).collect()
    }

    #[test]
    fn shared_fixtures_are_judged_as_the_manifest_says() {
        assert_eq!(codes("pdf-tools"), Vec::<&str>::new());
        assert_eq!(codes("review-helper"), Vec::<&str>::new());
        assert_eq!(codes("crlf-skill"), Vec::<&str>::new());
        assert_eq!(codes("Bad_Name"), vec!["bad-name"]);
        assert_eq!(codes("name-mismatch"), vec!["name-mismatch"]);
        assert_eq!(codes("no-frontmatter"), vec!["no-frontmatter"]);
        assert_eq!(codes("too-long-description"), vec!["description-too-long"]);
    }

    #[test]
    fn folded_description_is_one_line_and_literal_block_is_not() {
        let folded = "---\nname: a\ndescription: >-\n  one\n  two\n---\n";
        assert_eq!(validate_skill_md(folded, "a").0.description.as_deref(), Some("one two"));
        assert!(validate_skill_md(folded, "a").1.is_empty());
        let literal = "---\nname: a\ndescription: |\n  one\n  two\n---\n";
        assert_eq!(validate_skill_md(literal, "a").1[0].code, "multiline-description");
    }

    #[test]
    fn every_problem_is_reported() {
        let text = "---\nname: Bad_Name\n---\n";
        let codes: Vec<_> =
            validate_skill_md(text, "other").1.into_iter().map(|problem| problem.code).collect();
        assert_eq!(codes, vec!["bad-name", "name-mismatch", "missing-description"]);
        assert!(valid_name("a-1"));
        assert!(!valid_name("a--b"));
        assert!(!valid_name("-a"));
        assert!(!valid_name(&"a".repeat(65)));
    }
}
