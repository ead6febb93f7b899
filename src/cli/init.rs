//! `llm-contract init`: scaffolds a suite in a user's repository. It writes the standard cases
//! (the ones built into this crate, of the chosen families), a target, the `cargo test` harness
//! file, a scheduled CI workflow using the llm-contract action, and a README paragraph; it
//! prints the `Cargo.toml` lines to add (a user's `Cargo.toml` is never edited). No existing
//! file is overwritten without `--force`; the result is linted before the command returns.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::contract::builtin;
use crate::contract::suite::{Paths, Suite};
use crate::model::error::did_you_mean;

use super::out::{errln, outln};

/// The family whose cases `init` writes when none is named.
pub const DEFAULT_FAMILY: &str = "chat_completions";

/// The GitHub Action the scaffolded workflow uses (`action.yml` at this repository's root).
pub const DEFAULT_ACTION: &str = "llm-contract/llm-contract@v0";

#[derive(Args, Debug, Clone)]
pub struct InitArgs {
    /// The repository to scaffold the suite in (its root: contracts/, tests/, .github/ go there).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The target's name (a folder of fixtures): [a-z0-9_-].
    #[arg(long)]
    target: String,
    /// The endpoint's base URL, e.g. https://gateway.example.com/v1.
    #[arg(long)]
    base_url: String,
    /// The environment variable that holds the API key (its name; the key is never written).
    #[arg(long)]
    api_key_env: String,
    /// The model id the cases send as ${model} (and every other model variable, to change).
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    /// The families whose standard cases to write (repeatable; `all` for every one).
    #[arg(long = "family", value_name = "FAMILY", default_value = DEFAULT_FAMILY)]
    families: Vec<String>,
    /// What follows `llm-contract = ` in the printed dev-dependency line (default: this
    /// version, from crates.io), e.g. '{ git = "https://…" }' or '{ path = "../llm-contract" }'.
    #[arg(long, value_name = "SPEC")]
    dependency: Option<String>,
    /// The GitHub Action the workflow uses, as owner/repo@ref.
    #[arg(long, default_value = DEFAULT_ACTION)]
    action: String,
    /// Overwrite files that exist.
    #[arg(long)]
    force: bool,
}

/// Why a scaffold cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    #[error("--target `{0}`: a target's name is {rule}", rule = crate::contract::names::RULE)]
    TargetName(String),
    #[error("--api-key-env `{0}`: an environment variable's name is [A-Za-z_][A-Za-z0-9_]*")]
    KeyVar(String),
    #[error("--base-url `{0}`: {1}")]
    BaseUrl(String, &'static str),
    #[error("--{0}: one line of printable text")]
    Text(&'static str),
    #[error("--family `{name}`: no such family{hint} (families: {known}, or all)")]
    Family {
        name: String,
        hint: String,
        known: String,
    },
}

/// What `init` writes: each file's path under the directory and its text.
#[derive(Debug)]
pub struct Scaffold {
    pub files: Vec<(PathBuf, String)>,
    /// The lines for the user's `Cargo.toml`.
    pub cargo_toml: String,
}

fn printable_line(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control)
}

/// A YAML scalar holding `s` exactly (quoted where YAML needs it).
fn yaml_str(s: &str) -> String {
    serde_yaml::to_string(s)
        .map(|t| t.trim_end().to_string())
        .unwrap_or_else(|_| format!("{s:?}"))
}

fn check(args: &InitArgs) -> Result<Vec<&'static str>, InitError> {
    if !crate::contract::names::is_safe(&args.target) {
        return Err(InitError::TargetName(args.target.clone()));
    }
    let var = &args.api_key_env;
    let mut chars = var.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(InitError::KeyVar(var.clone()));
    }
    let url = &args.base_url;
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Err(InitError::BaseUrl(
            url.clone(),
            "must start with http:// or https://",
        ));
    };
    if !printable_line(url) || url.contains(' ') {
        return Err(InitError::BaseUrl(url.clone(), "one URL, no spaces"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err(InitError::BaseUrl(url.clone(), "no host"));
    }
    if authority.contains('@') {
        return Err(InitError::BaseUrl(
            url.clone(),
            "credentials do not belong in a base URL: the key comes from --api-key-env",
        ));
    }
    if !printable_line(&args.model) {
        return Err(InitError::Text("model"));
    }
    if !printable_line(&args.action) {
        return Err(InitError::Text("action"));
    }
    if args
        .dependency
        .as_deref()
        .is_some_and(|d| !printable_line(d))
    {
        return Err(InitError::Text("dependency"));
    }
    let known = builtin::families();
    let mut chosen = Vec::new();
    for name in &args.families {
        if name == "all" {
            chosen.extend(known.iter().copied());
            continue;
        }
        match known.iter().find(|k| **k == name.as_str()) {
            Some(k) => chosen.push(*k),
            None => {
                return Err(InitError::Family {
                    name: name.clone(),
                    hint: did_you_mean(name, known.iter().copied())
                        .map(|s| format!(": did you mean `{s}`?"))
                        .unwrap_or_default(),
                    known: known.join(", "),
                })
            }
        }
    }
    chosen.sort_unstable();
    chosen.dedup();
    Ok(chosen)
}

/// The variables (`${name}`) a text uses, in order of first use.
fn vars_used(text: &str, out: &mut Vec<String>) {
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find('}') else { break };
        let name = &rest[..end];
        if !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !out.iter().any(|n| n == name)
        {
            out.push(name.to_string());
        }
        rest = &rest[end..];
    }
}

/// Everything `init` writes, and the `Cargo.toml` lines it prints.
pub fn scaffold(args: &InitArgs) -> Result<Scaffold, InitError> {
    let families = check(args)?;
    let mut files = Vec::new();
    let mut vars = vec!["model".to_string()];
    let mut count = 0;
    for (family, id, text) in builtin::cases() {
        if families.contains(family) {
            vars_used(text, &mut vars);
            files.push((
                Path::new("contracts")
                    .join(family)
                    .join(format!("{id}.yaml")),
                text.to_string(),
            ));
            count += 1;
        }
    }
    let (name, url, var, model) = (&args.target, &args.base_url, &args.api_key_env, &args.model);
    let version = env!("CARGO_PKG_VERSION");

    let mut target = format!(
        "# The target `{name}`, written by `llm-contract init` (llm-contract {version}). What differs\n\
         # per gateway lives here, not in copied cases: the base URL, the key's variable, the model\n\
         # ids, the error dialect, timeouts, retries, and per-case overrides of the expectations\n\
         # under `expect:` (the contract format's reference: docs/contract-format.md).\n\
         name: {name}\n\
         description: {}\n\
         default: true\n\
         base_url: {}\n\
         api_key_env: {var}\n\
         dialect: openai\n\
         vars:\n",
        yaml_str(&format!("{name} at {url}")),
        yaml_str(url),
    );
    for v in &vars {
        if v == "model" {
            target.push_str(&format!("  model: {}\n", yaml_str(model)));
        } else {
            target.push_str(&format!(
                "  # Set to a model id your gateway serves for these cases.\n  {v}: {}\n",
                yaml_str(model)
            ));
        }
    }
    target.push_str(&format!(
        "# The families this target serves; cases of the others are not run against it.\n\
         families: [{}]\n",
        families.join(", ")
    ));
    files.push((
        Path::new("contracts/targets").join(format!("{name}.yaml")),
        target,
    ));

    files.push((
        PathBuf::from("tests/contracts.rs"),
        format!(
            "//! Contract tests for `{name}` (llm-contract): every case in contracts/ becomes a test\n\
             //! `{name}::<case>`, replayed offline from fixtures/{name}/ by `cargo test`, run live with\n\
             //! LLM_CONTRACT_LIVE=1 (the key in {var}). Needs `harness = false` in Cargo.toml.\n\
             \n\
             fn main() -> std::process::ExitCode {{\n    \
                 llm_contract::harness::main(std::path::Path::new(env!(\"CARGO_MANIFEST_DIR\")))\n\
             }}\n"
        ),
    ));

    files.push((
        PathBuf::from(".github/workflows/contracts.yml"),
        format!(
            "# Scheduled live contract run against `{name}` (written by `llm-contract init`). The key\n\
             # comes from the repository's secrets (Settings > Secrets and variables > Actions >\n\
             # {var}) and reaches only the process environment. The action installs llm-contract,\n\
             # runs the suite and appends its summary to the run's page; the reports are uploaded\n\
             # even when the run fails.\n\
             name: contracts\n\
             \n\
             on:\n  \
               schedule:\n    \
                 - cron: \"41 */6 * * *\" # every six hours\n  \
               workflow_dispatch:\n\
             \n\
             permissions:\n  \
               contents: read\n\
             \n\
             jobs:\n  \
               contracts:\n    \
                 runs-on: ubuntu-latest\n    \
                 timeout-minutes: 30\n    \
                 steps:\n      \
                   - uses: actions/checkout@v4\n      \
                   - name: Contract run\n        \
                     uses: {action}\n        \
                     env:\n          \
                       {var}: ${{{{ secrets.{var} }}}}\n        \
                     with:\n          \
                       target: {name}\n          \
                       api-key-env: {var}\n          \
                       # Quota outcomes (402, an exhausted 429) count as skipped: a schedule does not page for billing.\n          \
                       args: --quota-is-skip\n      \
                   - name: Upload reports\n        \
                     if: always()\n        \
                     uses: actions/upload-artifact@v4\n        \
                     with:\n          \
                       name: contracts-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}\n          \
                       path: reports/\n          \
                       if-no-files-found: warn\n",
            action = args.action,
        ),
    ));

    files.push((
        PathBuf::from("contracts/README.md"),
        format!(
            "# Contract tests\n\
             \n\
             `contracts/` holds llm-contract (contract tests for LLM HTTP APIs) cases for the\n\
             endpoint `{name}` ({url}): {count} standard case(s) of {fams}, one YAML file each, and the\n\
             target in `contracts/targets/{name}.yaml`. Your own JSON Schemas go in `contracts/schemas/`;\n\
             they add to the built-in ones, which they may `$ref` as `urn:llm-contract:schema:<name>`.\n\
             Pinned, sanitized answers live in `fixtures/{name}/`: `cargo test --test contracts` replays\n\
             them offline, `llm-contract record --target {name}` (with `{var}` set) records them, and\n\
             `LLM_CONTRACT_LIVE=1 cargo test --test contracts` runs the cases live. The scheduled\n\
             workflow `.github/workflows/contracts.yml` runs them live every six hours.\n",
            fams = families.join(", "),
        ),
    ));

    // The default names this version on crates.io; `--dependency` says where else it comes from.
    let dependency = args.dependency.clone().unwrap_or_else(|| {
        format!("\"{version}\"   # or {{ git = \"…\" }} / {{ path = \"…\" }}: init --dependency")
    });
    let cargo_toml = format!(
        "[dev-dependencies]\nllm-contract = {dependency}\n\n[[test]]\nname = \"contracts\"\npath = \"tests/contracts.rs\"\nharness = false\n"
    );
    Ok(Scaffold { files, cargo_toml })
}

/// The command: scaffold, refuse to overwrite, write, lint, print what to do next.
pub fn init(args: InitArgs) -> ExitCode {
    let scaffold = match scaffold(&args) {
        Ok(s) => s,
        Err(e) => return super::config_exit(format!("error: {e}")),
    };
    let dir = &args.dir;
    if !args.force {
        let existing: Vec<PathBuf> = scaffold
            .files
            .iter()
            .map(|(p, _)| dir.join(p))
            .filter(|p| p.exists())
            .collect();
        if !existing.is_empty() {
            for p in &existing {
                errln!(
                    "error: {} exists: init overwrites nothing (--force replaces it)",
                    p.display()
                );
            }
            return ExitCode::from(2);
        }
    }
    for (rel, text) in &scaffold.files {
        let path = dir.join(rel);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if let Err(e) = written {
            errln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    let cases = scaffold
        .files
        .iter()
        .filter(|(p, _)| {
            p.extension().is_some_and(|e| e == "yaml") && !p.starts_with("contracts/targets")
        })
        .count();
    outln!(
        "init: wrote {} file(s) in {}:",
        scaffold.files.len(),
        dir.display()
    );
    outln!("  contracts/<family>/*.yaml ({cases} case(s)), contracts/targets/{}.yaml, contracts/README.md", args.target);
    outln!("  tests/contracts.rs, .github/workflows/contracts.yml");
    // What `lint` would say, on what was just written.
    match Suite::load(&Paths::under(dir)) {
        Ok(suite) => {
            let found = crate::contract::lint::check(&suite);
            if !found.problems.is_empty() {
                for p in &found.problems {
                    outln!("{p}");
                }
                outln!("lint: {} problem(s)", found.problems.len());
                return ExitCode::from(2);
            }
            outln!("lint: no problems: {}", found.counts);
        }
        Err(e) => return super::config_exit(e),
    }
    if !dir.join("Cargo.toml").exists() {
        outln!(
            "\nno Cargo.toml in {}: the llm-contract binary and the action run the suite without one; \
             for `cargo test`, make a crate (cargo init) and add these lines:",
            dir.display()
        );
    } else {
        outln!("\nadd these lines to Cargo.toml (init never edits it):");
    }
    outln!("\n{}", scaffold.cargo_toml);
    outln!("next, in {}:", dir.display());
    outln!(
        "  export {}=...   # the key; never written anywhere",
        args.api_key_env
    );
    outln!(
        "  llm-contract record --target {}   # pins fixtures/{}/*.json",
        args.target,
        args.target
    );
    outln!("  cargo test --test contracts        # replays them offline");
    outln!(
        "  LLM_CONTRACT_LIVE=1 cargo test --test contracts   # live against {}",
        args.base_url
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: InitArgs,
    }

    fn args(extra: &[&str]) -> InitArgs {
        let mut v = vec![
            "init",
            "--target",
            "gw",
            "--base-url",
            "https://gw.example/v1",
            "--api-key-env",
            "GW_KEY",
        ];
        v.extend(extra);
        Wrap::try_parse_from(v).unwrap().args
    }

    #[test]
    fn the_default_is_the_chat_cases_a_target_a_harness_and_a_workflow() {
        let s = scaffold(&args(&[])).unwrap();
        let paths: Vec<String> = s
            .files
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        assert!(paths.contains(&"contracts/chat_completions/happy_path.yaml".to_string()));
        assert!(
            !paths.iter().any(|p| p.starts_with("contracts/messages/")),
            "{paths:?}"
        );
        for p in [
            "contracts/targets/gw.yaml",
            "tests/contracts.rs",
            ".github/workflows/contracts.yml",
            "contracts/README.md",
        ] {
            assert!(paths.contains(&p.to_string()), "{p}: {paths:?}");
        }
        let target = &s
            .files
            .iter()
            .find(|(p, _)| p.ends_with("gw.yaml"))
            .unwrap()
            .1;
        let t: serde_yaml::Value = serde_yaml::from_str(target).unwrap();
        assert_eq!(t["base_url"].as_str(), Some("https://gw.example/v1"));
        assert_eq!(t["api_key_env"].as_str(), Some("GW_KEY"));
        assert_eq!(t["vars"]["model"].as_str(), Some("gpt-4o-mini"));
        assert!(s.cargo_toml.contains("harness = false"));
        assert!(s.cargo_toml.contains(&format!(
            "llm-contract = \"{}\" ",
            env!("CARGO_PKG_VERSION")
        )));
    }

    #[test]
    fn every_family_brings_the_model_variables_its_cases_use() {
        let s = scaffold(&args(&["--family", "all", "--model", "m: 1"])).unwrap();
        let target = &s
            .files
            .iter()
            .find(|(p, _)| p.ends_with("gw.yaml"))
            .unwrap()
            .1;
        let t: serde_yaml::Value = serde_yaml::from_str(target).unwrap();
        // A value YAML would misread is quoted.
        assert_eq!(t["vars"]["model"].as_str(), Some("m: 1"));
        assert_eq!(t["vars"]["messages_model"].as_str(), Some("m: 1"));
        let fams = t["families"].as_sequence().unwrap().len();
        assert_eq!(fams, builtin::families().len());
        let cases = s
            .files
            .iter()
            .filter(|(p, _)| {
                p.starts_with("contracts") && p.extension().is_some_and(|e| e == "yaml")
            })
            .count();
        assert_eq!(cases, builtin::cases().len() + 1);
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_written() {
        let e = |edit: &dyn Fn(&mut InitArgs)| {
            let mut a = args(&[]);
            edit(&mut a);
            scaffold(&a).unwrap_err()
        };
        assert!(matches!(
            e(&|a| a.target = "Bad".into()),
            InitError::TargetName(_)
        ));
        assert!(matches!(
            e(&|a| a.api_key_env = "1X".into()),
            InitError::KeyVar(_)
        ));
        assert!(matches!(
            e(&|a| a.base_url = "ftp://x".into()),
            InitError::BaseUrl(..)
        ));
        assert!(matches!(
            e(&|a| a.base_url = "https://u:p@x/v1".into()),
            InitError::BaseUrl(..)
        ));
        match e(&|a| a.families = vec!["chat_completion".into()]) {
            InitError::Family { hint, .. } => assert!(hint.contains("chat_completions"), "{hint}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            e(&|a| a.model = "a\nb".into()),
            InitError::Text("model")
        ));
        // The same arguments, fixed, pass.
        assert!(scaffold(&args(&[])).is_ok());
    }

    /// The README's example is the file `init` writes (the README's is compiled as a doctest).
    #[test]
    fn the_readme_example_is_the_test_file_init_writes() {
        let readme = include_str!("../../README.md");
        let s = scaffold(&args(&[])).unwrap();
        let (_, file) = s
            .files
            .iter()
            .find(|(p, _)| p.ends_with("tests/contracts.rs"))
            .unwrap();
        let main = &file[file.find("fn main").unwrap()..];
        assert!(
            readme.contains(&format!("```rust,no_run\n{main}```")),
            "{main}"
        );
    }

    #[test]
    fn vars_are_found_once_in_order() {
        let mut v = Vec::new();
        vars_used("a ${model} ${x_model} ${model} ${ bad} ${", &mut v);
        assert_eq!(v, ["model", "x_model"]);
    }
}
