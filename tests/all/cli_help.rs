//! The command line as documented: every subcommand has help with examples, and the
//! README names every subcommand a user can type.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic on setup failure")]

use clap::CommandFactory;

fn visible_leaves(command: &clap::Command, prefix: &str, into: &mut Vec<String>) {
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
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
    visible_leaves(&aigate::cli::Cli::command(), "", &mut leaves);
    let missing: Vec<&String> =
        leaves.iter().filter(|leaf| !readme.contains(&format!("aigate {leaf}"))).collect();
    assert!(missing.is_empty(), "README.md does not mention: {missing:?}");
}

#[test]
fn every_subcommand_has_help_with_examples() {
    let mut leaves = Vec::new();
    visible_leaves(&aigate::cli::Cli::command(), "", &mut leaves);
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
