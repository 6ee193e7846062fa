//! The command line as documented: every subcommand has help with examples, and the
//! README names every subcommand a user can type.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use clap::CommandFactory;

/// The whole command tree, every deferred subcommand's arguments built (building adds
/// clap's own `help` subcommands, which the walks below skip).
fn command_tree() -> clap::Command {
    let mut command = aigate::cli::Cli::command();
    command.build();
    command
}

fn visible_leaves(command: &clap::Command, prefix: &str, into: &mut Vec<String>) {
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set() && sub.get_name() != "help") {
        let name = format!("{prefix} {}", sub.get_name()).trim().to_string();
        if sub.get_subcommands().next().is_some() {
            visible_leaves(sub, &name, into);
        } else {
            into.push(name);
        }
    }
}

#[test]
fn readme_names_every_subcommand() {
    let readme = fs_err::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut leaves = Vec::new();
    visible_leaves(&command_tree(), "", &mut leaves);
    let missing: Vec<&String> =
        leaves.iter().filter(|leaf| !readme.contains(&format!("aigate {leaf}"))).collect();
    assert!(missing.is_empty(), "README.md does not mention: {missing:?}");
}

#[test]
fn every_subcommand_has_help_with_examples() {
    let mut leaves = Vec::new();
    visible_leaves(&command_tree(), "", &mut leaves);
    let mut without_examples = Vec::new();
    for leaf in &leaves {
        let mut args: Vec<&str> = leaf.split(' ').collect();
        args.push("--help");
        let output =
            assert_cmd::Command::cargo_bin("aigate").unwrap().args(&args).env_clear().output().unwrap();
        assert!(output.status.success(), "aigate {leaf} --help failed");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.starts_with(char::is_alphabetic), "aigate {leaf} --help: {text}");
        if !text.contains("Examples:") {
            without_examples.push(leaf.clone());
        }
    }
    assert!(without_examples.is_empty(), "no Examples block: {without_examples:?}");
}

fn leaf_commands(command: &clap::Command, prefix: &str, into: &mut Vec<(String, clap::Command)>) {
    for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
        let name = format!("{prefix} {}", sub.get_name()).trim().to_string();
        if sub.get_subcommands().next().is_some() {
            leaf_commands(sub, &name, into);
        } else {
            into.push((name, sub.clone()));
        }
    }
}

/// Issue 10 #20: one spelling for "every client": each command with `--client` takes
/// `--client all` and `--all`.
#[test]
fn every_command_with_client_takes_all_both_ways() {
    let mut leaves = Vec::new();
    leaf_commands(&command_tree(), "", &mut leaves);
    let mut missing = Vec::new();
    let mut checked = 0;
    for (name, command) in &leaves {
        let Some(client) = command.get_arguments().find(|arg| arg.get_long() == Some("client")) else {
            continue;
        };
        checked += 1;
        let takes_all_value = client.get_possible_values().iter().any(|value| value.get_name() == "all");
        let has_all_flag = command.get_arguments().any(|arg| arg.get_long() == Some("all"));
        if !takes_all_value || !has_all_flag {
            missing.push(name.clone());
        }
    }
    assert!(checked >= 10, "only {checked} commands take --client");
    assert!(missing.is_empty(), "without --client all / --all: {missing:?}");
}

/// Issue 10 #21: every command that writes takes `--dry-run`.
#[test]
fn every_writer_takes_dry_run() {
    let writers = [
        "use gateway",
        "use official",
        "mcp add",
        "mcp remove",
        "mcp enable",
        "mcp disable",
        "mcp sync",
        "skill add",
        "skill remove",
        "skill enable",
        "skill disable",
        "restore",
        "backup create",
        "provider add",
        "provider remove",
    ];
    let mut leaves = Vec::new();
    leaf_commands(&command_tree(), "", &mut leaves);
    let mut missing = Vec::new();
    for writer in writers {
        let command = leaves.iter().find(|(name, _)| name == writer).map(|(_, command)| command);
        let has = command
            .is_some_and(|command| command.get_arguments().any(|arg| arg.get_long() == Some("dry-run")));
        if !has {
            missing.push(writer);
        }
    }
    assert!(missing.is_empty(), "writers without --dry-run: {missing:?}");
}
