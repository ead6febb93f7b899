//! The command a live run ends with when some of its answers had no recorded baseline: `record`
//! with every endpoint flag the run was given, so pasted as printed it records against the same
//! endpoint. The key travels by its variable's name, never its value.

use crate::context::Secret;
use crate::model::plan::Target;
use crate::util::text::shell_word;

use super::{SelectArgs, SuiteArgs};

/// The shell variable the command names for a base URL that is not printed.
pub const BASE_URL_VAR: &str = "BASE_URL";

/// Whether the base URL is left out of the printed command: one with a query (`?api-version=`,
/// a tenant, even a key) is never printed; the command names `"$BASE_URL"` instead.
pub fn hides_base_url(target: &Target) -> bool {
    target
        .endpoint_flags
        .iter()
        .any(|(flag, value)| *flag == "--base-url" && value.contains('?'))
}

/// `llm-contract record` for the cases `unpinned` (case ids) of a live run on `target`: the
/// target, its endpoint flags, the suite's folders where they are not the defaults, and the
/// cases — each named, or the run's own `--case`/`--tag` selection when every case it ran is
/// among them. A base URL that holds the key's value shows `[API_KEY]` there instead; one with
/// a query is `"$BASE_URL"` ([`hides_base_url`]).
pub fn pin_command(
    target: &Target,
    suite: &SuiteArgs,
    select: &SelectArgs,
    unpinned: &[&str],
    all: bool,
    key: Option<&Secret>,
) -> String {
    let mut cmd = format!("llm-contract record --target {}", shell_word(&target.name));
    let hidden = hides_base_url(target);
    let mut push = |flag: &str, value: &str| {
        if flag == "--base-url" && hidden {
            cmd.push_str(&format!(" --base-url \"${BASE_URL_VAR}\""));
            return;
        }
        let value = match key {
            Some(k) if !k.expose().is_empty() => value.replace(k.expose(), "[API_KEY]"),
            _ => value.to_string(),
        };
        cmd.push_str(&format!(" {flag} {}", shell_word(&value)));
    };
    for (flag, value) in &target.endpoint_flags {
        push(flag, value);
    }
    if suite.contracts.as_os_str() != "contracts" {
        push("--contracts", &suite.contracts.to_string_lossy());
    }
    if suite.fixtures.as_os_str() != "fixtures" {
        push("--fixtures", &suite.fixtures.to_string_lossy());
    }
    if let Some(s) = &suite.schemas {
        push("--schemas", &s.to_string_lossy());
    }
    if all {
        for c in &select.cases {
            push("--case", c);
        }
        for t in &select.tags {
            push("--tag", t);
        }
    } else {
        for c in unpinned {
            push("--case", c);
        }
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn target() -> Target {
        let suite = crate::contract::suite::Suite::load(&crate::contract::suite::Paths::under(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        ))
        .unwrap();
        let mut t = (*suite.contracts.target("openai_compatible").unwrap()).clone();
        t.endpoint_flags = vec![
            (
                "--base-url",
                "http://127.0.0.1:4000/v1/llmc-canary-hint-not-a-key".into(),
            ),
            ("--api-key-env", "MY_KEY".into()),
            ("--model", "my model".into()),
        ];
        t
    }

    fn suite(contracts: &str) -> SuiteArgs {
        SuiteArgs {
            contracts: PathBuf::from(contracts),
            fixtures: PathBuf::from("fixtures"),
            schemas: None,
        }
    }

    #[test]
    fn every_endpoint_flag_and_the_key_by_name_only() {
        let select = SelectArgs {
            cases: vec!["happy*".into()],
            tags: vec![],
        };
        let key = Secret::new("llmc-canary-hint-not-a-key");
        let some = pin_command(
            &target(),
            &suite("contracts"),
            &select,
            &["a", "b"],
            false,
            Some(&key),
        );
        assert_eq!(
            some,
            "llm-contract record --target openai_compatible \
             --base-url 'http://127.0.0.1:4000/v1/[API_KEY]' --api-key-env MY_KEY \
             --model 'my model' --case a --case b"
        );
        let all = pin_command(
            &target(),
            &suite("my/contracts"),
            &select,
            &["a"],
            true,
            None,
        );
        assert!(
            all.ends_with("--contracts my/contracts --case 'happy*'"),
            "{all}"
        );
        // A query is never printed: the command names a shell variable instead.
        let mut t = target();
        t.endpoint_flags[0].1 = "https://gw.example/v1?api-version=2024-10-21".into();
        assert!(hides_base_url(&t));
        let cmd = pin_command(&t, &suite("contracts"), &select, &["a"], false, None);
        assert!(
            cmd.contains(r#"--base-url "$BASE_URL" --api-key-env"#),
            "{cmd}"
        );
        assert!(!cmd.contains("api-version"), "{cmd}");
    }
}
