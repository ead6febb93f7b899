//! Whether an answer is a gateway's clean refusal of a feature the case requires: a 400 (or
//! 422) whose error names one of the feature's parameters as unsupported, or a 405 / 501 (a
//! 404 that is not about the model) on the path. Only features the target was not declared to
//! offer count: a declared feature that fails is broken, not unsupported. A pure function.

use crate::model::capability::Capability;
use crate::model::observation::ApiError;
use crate::model::plan::Plan;

/// A refusal: which capability, and what the gateway said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub capability: &'static str,
    pub how: String,
}

/// Words gateways use when they refuse a parameter they do not know or offer.
const REFUSING: &[&str] = &[
    "not supported",
    "unsupported",
    "does not support",
    "doesn't support",
    "not available",
    "unknown",
    "unrecognized",
    "unrecognised",
    "not recognized",
    "not permitted",
    "not allowed",
    "extra inputs",
    "extra fields",
    "additional properties",
    "unexpected",
    "invalid parameter",
    "not implemented",
];

/// Whether `text` names `word` as a whole word (letters, digits and `_` around it break it).
fn names(text: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let lower = text.to_ascii_lowercase();
    let word = word.to_ascii_lowercase();
    lower.match_indices(&word).any(|(i, _)| {
        let before = lower[..i].chars().next_back();
        let after = lower[i + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// Whether a 404's answer says the path is not served at all (no envelope, or a router's words:
/// "Not Found", "Invalid URL (POST /v1/…)", "Cannot POST …", "no route"), not that an object
/// it names does not exist ("No response found with id …", "previous_response_not_found").
fn route_missing(error: Option<&ApiError>) -> bool {
    let Some(e) = error else {
        return true;
    };
    let message = e.message.as_deref().unwrap_or("").trim().to_ascii_lowercase();
    let routerish = message.is_empty()
        || message == "not found"
        || message.starts_with("404")
        || message.starts_with("invalid url")
        || message.starts_with("cannot ")
        || message.contains("no route")
        || message.contains("unknown url")
        || message.contains("unknown endpoint")
        || message.contains("page not found");
    let names_an_object = e
        .code
        .as_deref()
        .is_some_and(|c| c != "not_found" && c != "unknown_url" && c.ends_with("not_found"));
    routerish && !names_an_object
}

/// The capability a refusal is about, when `status` and `error` are one.
pub fn refused(plan: &Plan, status: u16, error: Option<&ApiError>) -> Option<Refusal> {
    let open: Vec<&'static Capability> = plan
        .case
        .requires
        .iter()
        .copied()
        .filter(|c| plan.target.offers(c.name).is_none())
        .collect();
    let first = *open.first()?;
    let message = error.and_then(|e| e.message.as_deref()).unwrap_or("");
    let about_model = error.is_some_and(|e| {
        let code = e.code.as_deref().unwrap_or("");
        code.contains("model") || names(message, "model")
    });
    match status {
        405 | 501 => Some(Refusal {
            capability: first.name,
            how: format!("HTTP {status} on {}", plan.case.family.path),
        }),
        404 if !about_model && route_missing(error) => Some(Refusal {
            capability: first.name,
            how: format!("HTTP 404 on {}", plan.case.family.path),
        }),
        400 | 422 => {
            let param = error.and_then(|e| e.param.as_deref()).unwrap_or("");
            let refusing = REFUSING.iter().any(|w| message.to_ascii_lowercase().contains(w))
                || error
                    .and_then(|e| e.code.as_deref())
                    .is_some_and(|c| c.contains("unsupported") || c.contains("unknown"));
            open.iter().find_map(|c| {
                let named = c.params.iter().find(|p| {
                    param.eq_ignore_ascii_case(p)
                        || param.ends_with(&format!(".{p}"))
                        || (refusing && names(message, p))
                })?;
                Some(Refusal {
                    capability: c.name,
                    how: format!("HTTP {status} naming `{named}`"),
                })
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    fn plan(requires: &str, declared: &str) -> Plan {
        let case = format!("id: c\ndescription: d\nauth: valid\nrequires: [{requires}]\nrequest:\n  body:\n    model: ${{model}}\nexpect:\n  status: 200\n  class: ok\n");
        let target = format!("name: t\ndescription: d\nbase_url: http://x/v1\napi_key_env: K\nvars:\n  model: m\n{declared}");
        let case = Arc::new(crate::contract::load::parse_case(Path::new("c.yaml"), &case).unwrap());
        let target =
            Arc::new(crate::contract::load::parse_target(Path::new("t.yaml"), &target).unwrap());
        crate::contract::plan::plan(&case, &target).unwrap()
    }

    fn err(message: &str, param: Option<&str>, code: Option<&str>) -> ApiError {
        ApiError {
            message: Some(message.into()),
            param: param.map(Into::into),
            code: code.map(Into::into),
            ..ApiError::default()
        }
    }

    /// requires, the target's declarations, status, error, the capability refused (if one).
    type Row = (&'static str, &'static str, u16, Option<ApiError>, Option<&'static str>);

    #[test]
    fn a_clean_refusal_of_an_undeclared_feature_is_unsupported() {
        let table: &[Row] = &[
            ("tools", "", 400, Some(err("Unrecognized request argument supplied: tools", None, None)), Some("tools")),
            ("tools", "", 400, Some(err("bad", Some("tool_choice"), None)), Some("tools")),
            ("n", "", 400, Some(err("n is not supported with this model", None, None)), Some("n")),
            ("n", "", 400, Some(err("n must be at most 1", None, None)), None),
            ("n", "", 400, Some(err("unknown field: number", None, None)), None),
            ("logprobs", "", 422, Some(err("Extra inputs are not permitted", Some("body.logprobs"), None)), Some("logprobs")),
            ("json_schema", "", 400, Some(err("response_format json_schema is not supported", None, None)), Some("json_schema")),
            ("tools, n", "", 400, Some(err("'n' is unsupported", None, None)), Some("n")),
            ("count_tokens", "", 404, Some(err("Not Found", None, None)), Some("count_tokens")),
            ("count_tokens", "", 404, None, Some("count_tokens")),
            ("store", "", 404, Some(err("Invalid URL (GET /v1/responses/resp_1)", None, None)), Some("store")),
            ("store", "", 404, Some(err("Previous response with id 'resp_1' not found.", None, Some("previous_response_not_found"))), None),
            ("store", "", 404, Some(err("No response found with id 'resp_1'.", None, Some("not_found"))), None),
            ("count_tokens", "", 404, Some(err("The model `x` does not exist", None, Some("model_not_found"))), None),
            ("store", "", 405, None, Some("store")),
            ("store", "", 501, None, Some("store")),
            ("tools", "", 500, Some(err("tools not supported", None, None)), None),
            ("tools", "", 401, Some(err("tools not supported", None, None)), None),
            ("tools", "capabilities:\n  tools: true\n", 400, Some(err("tools not supported", None, None)), None),
            ("tools", "capabilities:\n  n: true\n", 400, Some(err("tools not supported", None, None)), Some("tools")),
        ];
        for (requires, declared, status, error, want) in table {
            let p = plan(requires, declared);
            let got = refused(&p, *status, error.as_ref()).map(|r| r.capability);
            assert_eq!(got, *want, "{requires} / {declared:?} / {status} / {error:?}");
        }
    }

    #[test]
    fn unknown_capabilities_are_refused_at_load() {
        let case = "id: c\ndescription: d\nauth: valid\nrequires: [tool]\nrequest:\n  body: {}\nexpect:\n  status: 200\n  class: ok\n";
        let e = crate::contract::load::parse_case(Path::new("c.yaml"), case)
            .unwrap_err()
            .to_string();
        assert!(e.contains("c.yaml:4:") && e.contains("unknown capability `tool`") && e.contains("did you mean `tools`?"), "{e}");
        let target = "name: t\ndescription: d\nbase_url: http://x/v1\napi_key_env: K\nvars:\n  model: m\nrequired: [logprob]\n";
        let e = crate::contract::load::parse_target(Path::new("t.yaml"), target)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown capability `logprob`") && e.contains("`logprobs`"), "{e}");
    }
}
