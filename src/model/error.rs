//! Errors a person can act on. Each names the file (and line and column where known), what was
//! found and what was expected.

use std::fmt;
use std::path::PathBuf;

/// Where in a file something is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl Location {
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Location {
            file: file.into(),
            line: None,
            column: None,
        }
    }
    pub fn at(file: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        Location {
            file: file.into(),
            line: Some(line),
            column: Some(column),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        Ok(())
    }
}

/// A problem with the contract files, targets, schemas or fixtures: nothing was run because of it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("error: {message}\n  --> {location}{}", hint.as_ref().map(|h| format!("\n  = help: {h}")).unwrap_or_default())]
pub struct ConfigError {
    pub location: Location,
    pub message: String,
    pub hint: Option<String>,
}

impl ConfigError {
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        ConfigError {
            location,
            message: message.into(),
            hint: None,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Several configuration errors, reported together so one run shows every broken file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// The closest candidate to `word` by edit distance (Levenshtein, counted in characters), when it
/// is close enough to be a likely typo. On a tie the first candidate wins.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = strsim::levenshtein(word, c);
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    (d <= typo_limit(word, c)).then_some(c)
}

/// The most edits a typo of `word` for `candidate` may take: one in a short word, a third of the
/// longer length (at least two) otherwise, in bytes.
fn typo_limit(word: &str, candidate: &str) -> usize {
    let len = word.len().max(candidate.len());
    if len <= 3 {
        1
    } else {
        (len / 3).max(2)
    }
}

/// Up to `max` candidates close enough to `word` to be what was meant (the limit of
/// [`did_you_mean`]), closest first, each once; on a tie the earlier candidate first.
pub fn close_matches<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Vec<&'a str> {
    let mut near: Vec<(usize, usize, &str)> = Vec::new();
    for (i, c) in candidates.into_iter().enumerate() {
        if near.iter().any(|&(_, _, n)| n == c) {
            continue;
        }
        let d = strsim::levenshtein(word, c);
        if d <= typo_limit(word, c) {
            near.push((d, i, c));
        }
    }
    near.sort_unstable();
    near.into_iter().take(max).map(|(_, _, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["status", "class", "schema", "finish_reason"];
        assert_eq!(did_you_mean("stauts", keys), Some("status"));
        assert_eq!(did_you_mean("clas", keys), Some("class"));
        assert_eq!(did_you_mean("zzzzzzzz", keys), None);
        // Distances are edits (insert, delete, substitute), not transpositions: "stauts" is two.
        assert_eq!(did_you_mean("schmea", keys), Some("schema"));
        assert_eq!(did_you_mean("finish_reasn", keys), Some("finish_reason"));
        assert_eq!(did_you_mean("", keys), None);
        assert_eq!(did_you_mean("status", std::iter::empty()), None);
        // Short words allow one edit; longer ones a third of the longer length (at least two).
        assert_eq!(did_you_mean("ab", ["abc"]), Some("abc"));
        assert_eq!(did_you_mean("ab", ["xyz"]), None);
        assert_eq!(did_you_mean("abcd", ["abxy"]), Some("abxy"));
        assert_eq!(did_you_mean("abcd", ["axyz"]), None);
        // A tie goes to the first candidate; a closer later one wins.
        assert_eq!(did_you_mean("cat", ["bat", "hat"]), Some("bat"));
        assert_eq!(did_you_mean("cat", ["bat", "cat"]), Some("cat"));
        // Edits are counted in characters (two here, four in bytes); the limit in bytes.
        assert_eq!(did_you_mean("mödél", ["model"]), Some("model"));
    }

    #[test]
    fn close_matches_are_ordered_and_bounded() {
        let ids = [
            "streaming",
            "streaming_with_usage",
            "happy_path",
            "streamin",
            "streaming",
        ];
        assert_eq!(
            close_matches("streamng", ids, 5),
            vec!["streaming", "streamin"]
        );
        assert_eq!(close_matches("streamng", ids, 1), vec!["streaming"]);
        assert_eq!(close_matches("zzzzzzzz", ids, 5), Vec::<&str>::new());
        assert_eq!(close_matches("hapy_path", ids, 5), vec!["happy_path"]);
    }

    #[test]
    fn renders_location_and_hint() {
        let e = ConfigError::new(
            Location::at("contracts/chat/x.yaml", 3, 5),
            "unknown key `stauts`",
        )
        .with_hint("did you mean `status`?");
        let s = e.to_string();
        assert!(s.contains("contracts/chat/x.yaml:3:5"), "{s}");
        assert!(s.contains("did you mean `status`?"), "{s}");
    }
}
