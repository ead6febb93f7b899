//! Names that become paths: a target's name is a folder of fixtures, a case's id a file in it.
//! Both are held to one safe set, so no name can climb out of `fixtures/` (`..`), hide
//! (`.x`), pass for a flag (`-x`) or differ from another only in case on a folding file system.

/// The longest name.
pub const MAX_NAME: usize = 64;

/// The rule, as the error states it.
pub const RULE: &str =
    "[a-z0-9_-], not starting with `-`, at most 64 characters (it names a folder or a file)";

/// Whether `name` is a safe name: 1 to [`MAX_NAME`] characters of `[a-z0-9_-]`, not starting
/// with `-` (a dot, a slash or a space can never appear).
pub fn is_safe(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_names_pass() {
        for ok in ["cometapi", "openai_compatible", "a-b", "x9", &"a".repeat(64)] {
            assert!(is_safe(ok), "{ok}");
        }
        for bad in [
            "", "..", ".", ".x", "-x", "a/b", "a\\b", "A", "a b", "é", "a.b", "a\0", &"a".repeat(65),
        ] {
            assert!(!is_safe(bad), "{bad:?}");
        }
    }
}
