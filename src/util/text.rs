//! Text from outside (a server's error message, an HTML excerpt, a stream frame, a fixture) made
//! safe to print: every character that could move the cursor, start a line, colour a terminal,
//! reorder what is shown or break an XML document is written as a visible escape instead.
//!
//! A line break in outside text becomes `\n`, so outside text never starts a line of its own: no
//! fake verdict line, no GitHub workflow command (`::add-mask::`, `::error`), which the runner
//! recognises at the start of a line after leading spaces. A control character becomes `\r`,
//! `\t`-style or `\u{1b}`-style text; so do Unicode's line and paragraph separators, the
//! bidirectional overrides and the two characters XML forbids (U+FFFE, U+FFFF). Everything else,
//! backslashes included, is written as it came, so escaping twice changes nothing.

use std::borrow::Cow;
use std::fmt::{self, Write};

/// The visible escape of `c`, when it needs one.
fn escape(c: char) -> Option<Escape> {
    match c {
        '\n' => Some(Escape::Short('n')),
        '\r' => Some(Escape::Short('r')),
        '\t' => None,
        c if c.is_control() => Some(Escape::Code(c)),
        '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' | '\u{fffe}' | '\u{ffff}' => Some(Escape::Code(c)),
        _ => None,
    }
}

enum Escape {
    Short(char),
    Code(char),
}

impl fmt::Display for Escape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Escape::Short(c) => write!(f, "\\{c}"),
            Escape::Code(c) => write!(f, "\\u{{{:x}}}", u32::from(*c)),
        }
    }
}

/// A word for a POSIX shell command line: as it is when it holds only characters no shell treats
/// specially, otherwise in single quotes (a quote inside written `'\''`). Its characters are
/// [`Visible`] first, so a printed command never carries a control character.
pub fn shell_word(s: &str) -> String {
    let s = Visible(s).to_string();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return s;
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Whether `c` is written as an escape by [`Visible`] (a line break included).
pub fn needs_escape(c: char) -> bool {
    escape(c).is_some()
}

/// Outside text shown on one line: see the module's documentation.
#[derive(Debug, Clone, Copy)]
pub struct Visible<'a>(pub &'a str);

impl fmt::Display for Visible<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some((i, c)) = rest.char_indices().find(|&(_, c)| needs_escape(c)) {
            f.write_str(&rest[..i])?;
            if let Some(e) = escape(c) {
                write!(f, "{e}")?;
            }
            rest = &rest[i + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// [`Visible`] as a string, borrowed when nothing needed escaping.
pub fn visible(s: &str) -> Cow<'_, str> {
    if s.chars().any(needs_escape) {
        Cow::Owned(Visible(s).to_string())
    } else {
        Cow::Borrowed(s)
    }
}

/// Several lines the harness laid out itself (a diff, say), each holding outside text: each line
/// shown as [`Visible`], the line breaks between them kept.
#[derive(Debug, Clone, Copy)]
pub struct VisibleLines<'a>(pub &'a str);

impl fmt::Display for VisibleLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.0.split('\n').enumerate() {
            if i > 0 {
                f.write_char('\n')?;
            }
            write!(f, "{}", Visible(line))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(
            visible("a\nb\r::error::x\u{1b}[31m\u{0}\u{7f}\u{85}"),
            "a\\nb\\r::error::x\\u{1b}[31m\\u{0}\\u{7f}\\u{85}"
        );
        assert_eq!(
            visible("\u{2028}\u{202e}\u{2066}\u{fffe}\u{ffff}"),
            "\\u{2028}\\u{202e}\\u{2066}\\u{fffe}\\u{ffff}"
        );
        // Tabs, backslashes, quotes and every other character are left as they are.
        assert_eq!(visible("a\tb \\n \"é✓\""), "a\tb \\n \"é✓\"");
        assert!(matches!(visible("plain"), Cow::Borrowed("plain")));
        // Twice is once.
        let once = visible("x\ny\u{1b}").into_owned();
        assert_eq!(visible(&once), once);
    }

    #[test]
    fn lines_keep_their_breaks_and_escape_the_rest() {
        assert_eq!(
            VisibleLines("- a\r\n+ b\u{1b}").to_string(),
            "- a\\r\n+ b\\u{1b}"
        );
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("http://127.0.0.1:4000/v1"), "http://127.0.0.1:4000/v1");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("x?q=1&y=2"), "'x?q=1&y=2'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("a\nb"), "'a\\nb'");
    }
}
