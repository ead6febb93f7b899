//! Capabilities: features a gateway may or may not offer (tools, `n`, log probabilities, JSON
//! schema output…). A target declares what it offers, a case what it requires. A gateway that
//! cleanly refuses a feature it was not declared to offer is `unsupported`, not broken.

/// One capability: its name, and the request parameters (or paths) a refusal of it names.
#[derive(Debug)]
pub struct Capability {
    pub name: &'static str,
    /// Request keys whose refusal (a 400 naming one of them) means the feature is not offered.
    pub params: &'static [&'static str],
    /// What it is, for `lint` and the docs.
    pub what: &'static str,
}

/// Every capability a case may require and a target may declare.
pub static CAPABILITIES: &[Capability] = &[
    Capability {
        name: "tools",
        params: &["tools", "tool_choice", "functions", "function_call"],
        what: "function / tool calling",
    },
    Capability {
        name: "tool_choice",
        params: &["tool_choice"],
        what: "forcing a tool (`tool_choice: required | none | {function}`)",
    },
    Capability {
        name: "parallel_tool_calls",
        params: &["parallel_tool_calls"],
        what: "several tool calls in one answer",
    },
    Capability {
        name: "tool_streaming",
        params: &["stream", "tool_calls"],
        what: "tool calls streamed as deltas (`stream: true` with `tools`)",
    },
    Capability {
        name: "n",
        params: &["n"],
        what: "several choices per request (`n` > 1)",
    },
    Capability {
        name: "logprobs",
        params: &["logprobs", "top_logprobs"],
        what: "log probabilities of the output tokens",
    },
    Capability {
        name: "json_object",
        params: &["response_format", "json_object"],
        what: "JSON mode (`response_format: {type: json_object}`)",
    },
    Capability {
        name: "json_schema",
        params: &["response_format", "json_schema", "text.format", "format"],
        what: "structured output against a JSON Schema",
    },
    Capability {
        name: "stop",
        params: &["stop", "stop_sequences"],
        what: "stop sequences",
    },
    Capability {
        name: "stream_usage",
        params: &["stream_options", "include_usage"],
        what: "usage in a stream (`stream_options.include_usage`)",
    },
    Capability {
        name: "vision",
        params: &["image_url", "image", "input_image"],
        what: "image input",
    },
    Capability {
        name: "reasoning",
        params: &["reasoning_effort", "reasoning", "thinking"],
        what: "reasoning / thinking controls",
    },
    Capability {
        name: "max_completion_tokens",
        params: &["max_completion_tokens"],
        what: "the `max_completion_tokens` limit",
    },
    Capability {
        name: "seed",
        params: &["seed"],
        what: "reproducible sampling with `seed`",
    },
    Capability {
        name: "developer_role",
        params: &["developer", "role"],
        what: "the `developer` message role",
    },
    Capability {
        name: "store",
        params: &["store", "previous_response_id"],
        what: "stored responses (GET / DELETE by id, `previous_response_id`)",
    },
    Capability {
        name: "count_tokens",
        params: &["count_tokens"],
        what: "counting a request's tokens without sending it",
    },
    Capability {
        name: "dimensions",
        params: &["dimensions"],
        what: "embeddings of a requested size",
    },
    Capability {
        name: "encoding_format",
        params: &["encoding_format"],
        what: "embeddings as base64",
    },
];

/// The capability named `name`.
pub fn by_name(name: &str) -> Option<&'static Capability> {
    CAPABILITIES.iter().find(|c| c.name == name)
}

/// Every capability's name.
pub fn names() -> impl Iterator<Item = &'static str> {
    CAPABILITIES.iter().map(|c| c.name)
}
