//! How deep a YAML file nests, measured on its bytes before serde_yaml parses it.
//!
//! The YAML parser slows down with the square of its nesting (a hundred thousand nested flow
//! mappings took 104 s to fail), so nesting is refused before it runs. The scan counts the
//! block levels a line opens (its indentation, and each `- ` or `? ` that starts it) and the flow
//! collections (`[`, `{`) that are open, outside quoted scalars, block scalars and comments. It
//! errs on the side of counting: a level it cannot rule out is counted, so a file it passes is
//! no deeper than it says. serde_yaml's own limit (128) is never reached by a file that passes.

/// The deepest nesting a case or target file may have: mappings, sequences and flow
/// collections, counted together.
pub const MAX_YAML_DEPTH: usize = 64;

/// Where a file first nested past the limit (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    pub line: usize,
    pub column: usize,
    pub limit: usize,
}

impl std::fmt::Display for TooDeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nested deeper than {} levels (mappings, sequences and flow collections together); refused before parsing",
            self.limit
        )
    }
}

/// The scanner's state between lines.
struct Scan {
    limit: usize,
    /// Indentation of each open block level.
    indents: Vec<usize>,
    /// Open flow collections.
    flow: usize,
    /// Inside a quoted scalar that runs on (`'` or `"`).
    quote: Option<u8>,
    /// Inside a block scalar (`|`, `>`): lines indented more than this belong to it.
    block_scalar: Option<usize>,
}

impl Scan {
    fn depth(&self) -> usize {
        self.indents.len() + self.flow
    }

    fn check(&self, line: usize, col: usize) -> Result<(), TooDeep> {
        if self.depth() > self.limit {
            Err(TooDeep {
                line,
                column: col + 1,
                limit: self.limit,
            })
        } else {
            Ok(())
        }
    }

    /// Opens the block level of a node that starts at column `col`.
    fn block(&mut self, col: usize) {
        while self.indents.last().is_some_and(|&i| i > col) {
            self.indents.pop();
        }
        if self.indents.last() != Some(&col) {
            self.indents.push(col);
        }
    }

    fn line(&mut self, n: usize, line: &[u8]) -> Result<(), TooDeep> {
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        if let Some(parent) = self.block_scalar {
            if indent == line.len() || indent > parent {
                return Ok(());
            }
            self.block_scalar = None;
        }
        let mut i = 0;
        // A quote opens a scalar only where a node surely starts (the line's start, after `- `,
        // `? `, `: `, or `[`, `{`, `,` and `:` in a flow); a bracket opens a flow wherever one
        // may (after a space or an indicator too). Where the scan is unsure it counts.
        let mut node_start = true;
        if self.quote.is_none() {
            i = indent;
            if i == line.len() || line[i] == b'#' {
                return Ok(());
            }
            // Indentation is a level even inside a flow, where it means nothing to YAML: a
            // bracket the scan took for a flow must not hide the levels that follow.
            self.block(indent);
            self.check(n, i)?;
            // `- - x` and `? x` open a level each.
            while i < line.len()
                && matches!(line[i], b'-' | b'?')
                && matches!(line.get(i + 1), None | Some(b' ' | b'\t'))
            {
                i += 1;
                while i < line.len() && matches!(line[i], b' ' | b'\t') {
                    i += 1;
                }
                self.block(i);
                self.check(n, i)?;
            }
        }
        while i < line.len() {
            let b = line[i];
            if let Some(q) = self.quote {
                if b == b'\\' && q == b'"' {
                    i += 2;
                    continue;
                }
                if b == q {
                    if q == b'\'' && line.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    self.quote = None;
                    node_start = false;
                }
                i += 1;
                continue;
            }
            let spaced = |j: usize| matches!(line.get(j), None | Some(b' ' | b'\t'));
            let after_space = i == 0 || matches!(line[i - 1], b' ' | b'\t');
            match b {
                b' ' | b'\t' => {
                    i += 1;
                    continue;
                }
                b'#' if after_space => return Ok(()),
                b'\'' | b'"' if node_start => self.quote = Some(b),
                b'[' | b'{' if node_start || after_space || self.flow > 0 => {
                    self.flow += 1;
                    self.check(n, i)?;
                    i += 1;
                    node_start = true;
                    continue;
                }
                b']' | b'}' if self.flow > 0 => self.flow -= 1,
                b',' if self.flow > 0 => {
                    i += 1;
                    node_start = true;
                    continue;
                }
                b':' | b'-' | b'?' if spaced(i + 1) || (b == b':' && self.flow > 0) => {
                    i += 1;
                    node_start = true;
                    continue;
                }
                b'|' | b'>' if node_start && self.flow == 0 => {
                    self.block_scalar = Some(self.indents.last().copied().unwrap_or(0));
                    return Ok(());
                }
                _ => {}
            }
            node_start = false;
            i += 1;
        }
        Ok(())
    }
}

/// Checks that `text` nests no deeper than `limit` levels; the place it first did, if it does.
pub fn check(text: &str, limit: usize) -> Result<(), TooDeep> {
    let mut scan = Scan {
        limit,
        indents: Vec::new(),
        flow: 0,
        quote: None,
        block_scalar: None,
    };
    for (n, line) in text.as_bytes().split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        scan.line(n + 1, line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_of(text: &str) -> usize {
        (1..200)
            .find(|&limit| check(text, limit).is_ok())
            .unwrap_or(200)
    }

    #[test]
    fn counts_block_and_flow_levels() {
        assert_eq!(depth_of("a: 1\nb: 2\n"), 1);
        assert_eq!(depth_of("a:\n  b:\n    c: 1\nd: 2\n"), 3);
        assert_eq!(depth_of("a:\n- x\n- y\n"), 2);
        assert_eq!(depth_of("a:\n  - role: user\n    content: x\n"), 3);
        assert_eq!(depth_of("a: [1, {b: [2]}]\n"), 4);
        assert_eq!(depth_of("a: {\n  b: [\n    1\n  ]\n}\nc: 1\n"), 5);
        assert_eq!(depth_of("- - - x\n"), 4);
    }

    #[test]
    fn quotes_block_scalars_and_comments_are_not_levels() {
        assert_eq!(depth_of("a: '[[[[{{{{'\nb: \"]]\\\"[[[[\"\n"), 1);
        assert_eq!(depth_of("a: 'x\n  [[[[\n  ''y'''\nb: 1\n"), 1);
        assert_eq!(depth_of("a: |\n  [[[[\n      {{{{\n    x\nb: 1\n"), 1);
        assert_eq!(depth_of("a: >-\n\n  [[[[\nb: 1\n"), 1);
        assert_eq!(depth_of("a: 1 # [[[[{{{{\n# [[[[\n"), 1);
        // An apostrophe inside a plain scalar opens nothing; a bracket after a space is counted
        // (the scan cannot tell a flow from text there), one inside a word is not.
        assert_eq!(depth_of("a: x'[[[[ y\nb: it's [\n"), 2);
        assert_eq!(depth_of("a: -'x\nb: [[[\n"), 4);
    }

    #[test]
    fn the_place_it_first_passed_the_limit() {
        let text = format!("id: x\nbody: {}1{}\n", "{a: ".repeat(10), "}".repeat(10));
        let e = check(&text, 5).unwrap_err();
        assert_eq!((e.line, e.column), (2, 7 + 4 * 4));
        let text = format!("a:\n  {}1\n", "- ".repeat(10));
        let e = check(&text, 5).unwrap_err();
        assert_eq!((e.line, e.column), (2, 3 + 2 * 4));
    }

    #[test]
    fn the_repositorys_own_files_are_far_from_the_limit() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let walk = crate::util::fs::walk(&root.join("contracts"), &|p| {
            p.extension().is_some_and(|e| e == "yaml")
        })
        .unwrap();
        assert!(walk.files.len() > 10);
        for f in walk.files {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(depth_of(&text) <= 16, "{}: {}", f.display(), depth_of(&text));
        }
    }
}
