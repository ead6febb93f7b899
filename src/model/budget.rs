//! What a live run would send, before it sends anything (`run --dry-run`): every request, how
//! many times it may go out at worst, and the output tokens it may be billed for.

/// The ceiling a request puts on its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cap {
    /// `field` (`max_tokens`, `max_completion_tokens`, `max_output_tokens`) set to `value`, for
    /// each of `n` choices.
    Tokens {
        field: &'static str,
        value: u64,
        n: u64,
    },
    /// The family bills output tokens, but the request sets none of its fields: the model
    /// decides how much it writes.
    Uncapped { fields: &'static [&'static str] },
    /// The family is billed otherwise (an image, a video, input tokens only).
    NotTokens,
    /// No body (a `GET` or `DELETE`): nothing is generated.
    NoBody,
}

impl Cap {
    /// The output tokens one sending may be billed for, where the request caps them.
    pub fn tokens(&self) -> Option<u64> {
        match self {
            Cap::Tokens { value, n, .. } => Some(value.saturating_mul(*n)),
            _ => None,
        }
    }
}

/// One request of a case (its own, or one of its steps) as a live run would send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub case: String,
    /// The step's name; `None` for the case's own request.
    pub step: Option<String>,
    pub method: String,
    /// The full URL (the base URL is the target's: it never carries a key).
    pub url: String,
    /// How the request authenticates: `key` (the target's), `no key` or `invalid key`.
    pub auth: &'static str,
    pub stream: bool,
    /// How many times the case runs (`repeat:`; 1 for a case with steps).
    pub runs: u32,
    /// Attempts per sending, at worst (the retry policy's, or `--retries` + 1).
    pub attempts: u32,
    /// Polls that may follow each successful submit (video tasks: `poll.max_polls`).
    pub polls: u32,
    pub cap: Cap,
}

impl Request {
    /// Sendings if every one is answered at the first attempt.
    pub fn first_try(&self) -> u64 {
        u64::from(self.runs)
    }

    /// Requests at worst: every attempt of every run, and every poll after it.
    pub fn worst(&self) -> u64 {
        u64::from(self.runs) * (u64::from(self.attempts) + u64::from(self.polls))
    }

    /// Output tokens billed at first try / at worst (every attempt answered in full).
    pub fn tokens(&self) -> (u64, u64) {
        let t = self.cap.tokens().unwrap_or(0);
        (
            t.saturating_mul(self.first_try()),
            t.saturating_mul(u64::from(self.runs) * u64::from(self.attempts)),
        )
    }
}

/// A case the target would not send (skipped by the target, a capability it does not offer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotSent {
    pub case: String,
    pub why: String,
}

/// One target's share of a dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetBudget {
    pub target: String,
    /// The base URL requests go to.
    pub base_url: String,
    pub requests: Vec<Request>,
    pub not_sent: Vec<NotSent>,
}

/// Sums over requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub cases: usize,
    pub first_try: u64,
    pub worst: u64,
    pub tokens_first_try: u64,
    pub tokens_worst: u64,
    /// Requests whose family bills output tokens but that set no cap.
    pub uncapped: usize,
    /// Requests billed otherwise (images, videos).
    pub not_tokens: usize,
}

impl Totals {
    pub fn of<'a>(requests: impl IntoIterator<Item = &'a Request>) -> Totals {
        let mut t = Totals::default();
        let mut last_case: Option<&str> = None;
        for r in requests {
            if last_case != Some(r.case.as_str()) {
                t.cases += 1;
                last_case = Some(&r.case);
            }
            t.first_try += r.first_try();
            t.worst += r.worst();
            let (first, worst) = r.tokens();
            t.tokens_first_try += first;
            t.tokens_worst += worst;
            match r.cap {
                Cap::Uncapped { .. } => t.uncapped += 1,
                Cap::NotTokens => t.not_tokens += 1,
                _ => {}
            }
        }
        t
    }

    pub fn add(&mut self, o: &Totals) {
        self.cases += o.cases;
        self.first_try += o.first_try;
        self.worst += o.worst;
        self.tokens_first_try += o.tokens_first_try;
        self.tokens_worst += o.tokens_worst;
        self.uncapped += o.uncapped;
        self.not_tokens += o.not_tokens;
    }
}

/// The fields by which a family's request caps its output tokens, or `None` for a family billed
/// otherwise. A family this table does not know is held to every field it names.
pub fn output_fields(family: &str) -> Option<&'static [&'static str]> {
    match family {
        "chat_completions" => Some(&["max_completion_tokens", "max_tokens"]),
        "messages" => Some(&["max_tokens"]),
        "responses" => Some(&["max_output_tokens"]),
        // Per image, per video, per input token; moderations are not billed by output.
        "images" | "video_tasks" | "embeddings" | "models" | "moderations" => None,
        _ => Some(&["max_completion_tokens", "max_tokens", "max_output_tokens"]),
    }
}

/// The cap a JSON body of `family` puts on its output: the largest of the family's fields it
/// sets, times `n` (the number of choices) for chat completions.
pub fn cap_of(family: &str, body: Option<&serde_json::Value>) -> Cap {
    let Some(body) = body else {
        return Cap::NoBody;
    };
    let Some(fields) = output_fields(family) else {
        return Cap::NotTokens;
    };
    let found = fields
        .iter()
        .filter_map(|f| Some((*f, body.get(*f)?.as_u64()?)))
        .max_by_key(|(_, v)| *v);
    let n = match family {
        "chat_completions" => body
            .get("n")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1)
            .max(1),
        _ => 1,
    };
    match found {
        Some((field, value)) => Cap::Tokens { field, value, n },
        None => Cap::Uncapped { fields },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_family_caps_by_its_own_field() {
        for (family, body, cap) in [
            (
                "chat_completions",
                Some(json!({"max_tokens": 16})),
                Cap::Tokens {
                    field: "max_tokens",
                    value: 16,
                    n: 1,
                },
            ),
            (
                "chat_completions",
                Some(json!({"max_completion_tokens": 40, "max_tokens": 16, "n": 3})),
                Cap::Tokens {
                    field: "max_completion_tokens",
                    value: 40,
                    n: 3,
                },
            ),
            (
                "chat_completions",
                Some(json!({"messages": []})),
                Cap::Uncapped {
                    fields: &["max_completion_tokens", "max_tokens"],
                },
            ),
            (
                "messages",
                Some(json!({"max_tokens": 64, "n": 5})),
                Cap::Tokens {
                    field: "max_tokens",
                    value: 64,
                    n: 1,
                },
            ),
            (
                "responses",
                Some(json!({"max_tokens": 64})),
                Cap::Uncapped {
                    fields: &["max_output_tokens"],
                },
            ),
            (
                "responses",
                Some(json!({"max_output_tokens": 32})),
                Cap::Tokens {
                    field: "max_output_tokens",
                    value: 32,
                    n: 1,
                },
            ),
            ("images", Some(json!({"n": 2})), Cap::NotTokens),
            ("chat_completions", None, Cap::NoBody),
            (
                "some_new_family",
                Some(json!({"max_output_tokens": 8})),
                Cap::Tokens {
                    field: "max_output_tokens",
                    value: 8,
                    n: 1,
                },
            ),
        ] {
            assert_eq!(cap_of(family, body.as_ref()), cap, "{family} {body:?}");
        }
    }

    #[test]
    fn repeats_attempts_and_polls_are_counted_at_worst() {
        let r = |runs, attempts, polls, cap| Request {
            case: "c".into(),
            step: None,
            method: "POST".into(),
            url: "http://h/v1/x".into(),
            auth: "key",
            stream: false,
            runs,
            attempts,
            polls,
            cap,
        };
        let tokens = |v, n| Cap::Tokens {
            field: "max_tokens",
            value: v,
            n,
        };
        for (req, first, worst, tok) in [
            (r(1, 1, 0, tokens(16, 1)), 1, 1, (16, 16)),
            (r(1, 3, 0, tokens(16, 1)), 1, 3, (16, 48)),
            (r(5, 3, 0, tokens(10, 2)), 5, 15, (100, 300)),
            (r(1, 3, 60, Cap::NotTokens), 1, 63, (0, 0)),
            (
                r(
                    2,
                    2,
                    0,
                    Cap::Uncapped {
                        fields: &["max_tokens"],
                    },
                ),
                2,
                4,
                (0, 0),
            ),
        ] {
            assert_eq!(
                (req.first_try(), req.worst(), req.tokens()),
                (first, worst, tok),
                "{req:?}"
            );
        }
        let mut steps = vec![
            r(1, 3, 0, tokens(16, 1)),
            r(1, 3, 0, Cap::NoBody),
            r(
                1,
                3,
                0,
                Cap::Uncapped {
                    fields: &["max_tokens"],
                },
            ),
        ];
        steps[1].step = Some("get".into());
        steps.push(Request {
            case: "d".into(),
            ..r(1, 1, 10, Cap::NotTokens)
        });
        let t = Totals::of(&steps);
        assert_eq!(
            t,
            Totals {
                cases: 2,
                first_try: 4,
                worst: 20,
                tokens_first_try: 16,
                tokens_worst: 48,
                uncapped: 1,
                not_tokens: 1
            }
        );
    }
}
