//! Shell-style wildcards for selecting cases: `*` is any run of characters (none included, `::`
//! included), `?` is exactly one character; everything else stands for itself, and the pattern
//! must match the whole text. No character classes, no escapes: case ids are lowercase letters,
//! digits and `_`, target names and `::` the same, so there is nothing else to match.

/// Whether `pattern` holds a wildcard (`*` or `?`).
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// Whether `pattern` matches all of `text`.
///
/// Linear backtracking over characters: on a mismatch after a `*`, that `*` takes one more
/// character and matching resumes after it. Only the last `*` is ever revisited, which is enough
/// for `*` and `?` (any earlier `*` could only have taken fewer characters), so the cost is at
/// most the product of the two lengths, never exponential.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the text position its match ends at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        let rows: &[(&str, &str, bool)] = &[
            // Plain text is the whole text.
            ("happy_path", "happy_path", true),
            ("happy_path", "messages_happy_path", false),
            ("happy", "happy_path", false),
            ("", "", true),
            ("", "x", false),
            // `*`: any run, the empty one included, `::` included.
            ("*", "", true),
            ("*", "cometapi::happy_path", true),
            ("*happy_path", "messages_happy_path", true),
            ("*happy_path", "happy_path", true),
            ("happy*", "happy_path", true),
            ("happy*", "unhappy_path", false),
            ("cometapi::*", "cometapi::streaming", true),
            ("cometapi::*", "litellm::streaming", false),
            ("*::streaming*", "litellm::streaming_with_usage", true),
            ("*stream*", "cometapi::messages_streaming", true),
            ("*stream*", "cometapi::happy_path", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "a_b_c", true),
            ("a*b*c", "a_c_b", false),
            ("a*b*c", "abcabc", true),
            ("a*b*c", "abcab", false),
            ("**", "anything", true),
            ("a**", "a", true),
            // `?`: exactly one character.
            ("?", "", false),
            ("?", "x", true),
            ("?", "xy", false),
            ("case_?", "case_1", true),
            ("case_?", "case_12", false),
            ("case_??", "case_12", true),
            ("*_?", "streaming_x", true),
            ("?*", "", false),
            // Characters, not bytes.
            ("?", "é", true),
            ("*é", "café", true),
            // Backtracking: a `*` that took too little.
            ("*ab", "aab", true),
            ("*aab", "aaab", true),
            ("*a*ab", "xaxab", true),
            ("*a?", "ab_ab", true),
            ("*a?", "ab_ba", false),
        ];
        for &(pattern, text, want) in rows {
            assert_eq!(matches(pattern, text), want, "{pattern:?} on {text:?}");
        }
    }

    #[test]
    fn what_counts_as_a_glob() {
        assert!(is_glob("happy*"));
        assert!(is_glob("case_?"));
        assert!(!is_glob("cometapi::happy_path"));
        assert!(!is_glob(""));
    }

    #[test]
    fn long_texts_do_not_blow_up() {
        let text = "a".repeat(2_000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!matches(&pattern, &text));
        assert!(matches(&"*a".repeat(50), &text));
    }
}
