//! Where a plan's request goes: a base URL, the key, and whether it is live or recorded.

use crate::context::Secret;
use crate::model::outcome::Mode;

/// Where one plan's request goes.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub base_url: String,
    /// The key for `auth: valid` cases; `None` when none is configured.
    pub key: Option<Secret>,
    /// Name of the variable the key should come from, for the error when it is missing.
    pub key_env: String,
    pub mode: Mode,
}
