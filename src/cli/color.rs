//! Colour on the terminal: `--color auto|always|never` and `NO_COLOR`. Only a case's line is
//! coloured, by its verdict; reports never are.

use clap::ValueEnum;

use crate::context::Context;
use crate::model::outcome::Verdict;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` is set (any non-empty value) or `CI` is.
    #[default]
    Auto,
    /// Colour always, even into a file or a pipe (and whatever `NO_COLOR` says).
    Always,
    /// No colour.
    Never,
}

/// Whether lines are coloured: `terminal` is whether standard output is one.
pub fn enabled(choice: ColorChoice, terminal: bool, ctx: &Context) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !ctx.no_color() && !ctx.is_ci(),
    }
}

/// A case's line in its verdict's colour.
pub fn paint(v: Verdict, line: &str) -> String {
    let code = match v {
        Verdict::Pass => "32",
        Verdict::Fail => "31",
        Verdict::Error => "35",
        Verdict::Skip => "33",
        Verdict::Unsupported => "36",
    };
    format!("\x1b[{code}m{line}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_colours_a_terminal_only_without_no_color_or_ci() {
        let plain = Context::default();
        let no_color = Context::from_map([("NO_COLOR", "1")]);
        let ci = Context::from_map([("CI", "true")]);
        assert!(enabled(ColorChoice::Auto, true, &plain));
        assert!(!enabled(ColorChoice::Auto, false, &plain));
        assert!(!enabled(ColorChoice::Auto, true, &no_color));
        assert!(!enabled(ColorChoice::Auto, true, &ci));
        assert!(enabled(ColorChoice::Always, false, &no_color));
        assert!(!enabled(ColorChoice::Never, true, &plain));
    }
}
