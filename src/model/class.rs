//! Operator classes: what an engineer must do about an outcome.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an operator must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// The exchange is what the contract promises.
    Ok,
    /// The request is wrong; retrying the same request cannot help.
    FixRequest,
    /// The key is missing, wrong, revoked or lacks permission: refresh credentials, page the owner.
    RefreshCredentials,
    /// The client points at the wrong place or asks for something the gateway is not configured
    /// for (wrong base URL or path, unknown model).
    ConfigurationDrift,
    /// A transient failure: retry with backoff and jitter.
    Retry,
    /// A transient failure that outlived its retries: fall back to another route or provider.
    FallBack,
    /// Billing or quota is exhausted: a person must act on the account.
    Quota,
    /// The API no longer answers the way the contract says: schema, status or stream shape changed.
    ContractDrift,
}

impl Class {
    pub const ALL: [Class; 8] = [
        Class::Ok,
        Class::FixRequest,
        Class::RefreshCredentials,
        Class::ConfigurationDrift,
        Class::Retry,
        Class::FallBack,
        Class::Quota,
        Class::ContractDrift,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::FixRequest => "fix_request",
            Class::RefreshCredentials => "refresh_credentials",
            Class::ConfigurationDrift => "configuration_drift",
            Class::Retry => "retry",
            Class::FallBack => "fall_back",
            Class::Quota => "quota",
            Class::ContractDrift => "contract_drift",
        }
    }

    /// Whether a live client may send the same request again.
    pub fn retryable(self) -> bool {
        matches!(self, Class::Retry)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
