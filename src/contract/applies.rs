//! What can apply to a case: an expectation the case could never meet, or one it would never
//! check, is refused at load (and so by `lint`) with the line it is on. A test tool that skips a
//! check it was given is worse than none.

use crate::model::assertion::Invariant;
use crate::model::class::Class;
use crate::model::error::{ConfigError, Location};
use crate::model::family::{Family, FamilyKind};
use crate::model::plan::ExpectDoc;

/// Why each expectation of `expect` cannot apply to a case of `family` that streams (or not);
/// `at` locates a key in the file (`"max_gap_ms:"`), `whose` names the expectations ("the case",
/// "target t's override").
pub fn refusals(
    expect: &ExpectDoc,
    family: &Family,
    streams: bool,
    whose: &str,
    at: &dyn Fn(&str) -> Location,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut refuse = |key: &str, why: String| {
        errors.push(ConfigError::new(at(&format!("{key}:")), format!("{whose}: `{key}` {why}")));
    };
    if !streams {
        for (key, set) in [
            ("max_first_token_ms", expect.max_first_token_ms.is_some()),
            ("max_gap_ms", expect.max_gap_ms.is_some()),
        ] {
            if set {
                refuse(
                    key,
                    "times a stream's frames, and this request does not stream".into(),
                );
            }
        }
    }
    let kind = family.kind;
    if streams && !family_streams(kind) {
        refuse(
            "stream",
            format!("cannot apply: {} answers are never streamed", family.name),
        );
    }
    let answers_with_reason = matches!(
        kind,
        FamilyKind::ChatCompletions | FamilyKind::Messages | FamilyKind::Responses
    );
    if expect.finish_reason.is_some() && !answers_with_reason {
        refuse(
            "finish_reason",
            format!("cannot apply: a {} answer has no end reason", family.name),
        );
    }
    if let Some(s) = &expect.stream {
        if s.usage_chunk && kind != FamilyKind::ChatCompletions {
            refuse(
                "usage_chunk",
                format!(
                    "is chat completions' final `choices: []` chunk; {} streams have none",
                    family.name
                ),
            );
        }
    }
    let only_success = expect.class == Some(Class::Ok)
        && expect
            .status
            .as_ref()
            .is_some_and(|s| s.to_vec().iter().all(|c| (200..300).contains(c)));
    if expect.error_code.is_some() && only_success && !streams {
        refuse(
            "error_code",
            "reads an error envelope, and this case expects a success (class ok, a 2xx status)"
                .into(),
        );
    }
    for inv in expect.invariants.iter().flatten() {
        let fits = match inv {
            Invariant::UsageArithmetic => answers_with_reason || kind == FamilyKind::Embeddings,
            Invariant::ModelListed => kind == FamilyKind::Models,
            Invariant::ChoicesMatchN | Invariant::DistinctChoiceIndices => {
                kind == FamilyKind::ChatCompletions
            }
        };
        if !fits {
            errors.push(ConfigError::new(
                at(inv.as_str()),
                format!(
                    "{whose}: invariant `{}` cannot apply to a {} answer",
                    inv.as_str(),
                    family.name
                ),
            ));
        }
    }
    errors
}

/// Whether a family's answers can be streamed (it has a stream grammar).
fn family_streams(kind: FamilyKind) -> bool {
    !matches!(
        kind,
        FamilyKind::Models | FamilyKind::Embeddings | FamilyKind::Moderations
    )
}
