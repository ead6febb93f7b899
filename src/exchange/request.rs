//! Building a plan's request: what goes on the wire for one case on one endpoint.

use std::time::Duration;

use bytes::Bytes;

use crate::exchange::endpoint::Endpoint;
use crate::exchange::transport::{Deadlines, Outgoing};
use crate::model::family::KeyHeader;
use crate::model::plan::INVALID_TOKEN;
use crate::model::plan::{AuthMode, Plan, PlanBody};

/// The request a plan sends to an endpoint: method, URL, credential, headers, body, deadlines.
/// `Err` says why it cannot be built (no key for a case that needs one).
pub fn outgoing(plan: &Plan, endpoint: &Endpoint) -> Result<Outgoing, String> {
    let family = plan.case.family;
    let (auth_header, scheme) = match family.key {
        KeyHeader::Bearer => ("authorization", "Bearer "),
        KeyHeader::Plain(header) => (header, ""),
    };
    let authorization = match plan.case.auth {
        AuthMode::Missing => None,
        AuthMode::Invalid => Some(format!("{scheme}{INVALID_TOKEN}")),
        AuthMode::Valid => match &endpoint.key {
            Some(k) => Some(format!("{scheme}{}", k.expose())),
            None => {
                return Err(format!(
                    "no API key: set {} (the target's api_key_env) or pass --api-key-env",
                    endpoint.key_env
                ))
            }
        },
    };
    let body = match &plan.body {
        PlanBody::None => None,
        PlanBody::Json { text, .. } => Some(text.clone()),
        PlanBody::Raw(s) => Some(Bytes::from(s.clone())),
    };
    let t = plan.target.timeouts;
    let idle = plan
        .expect
        .stream
        .as_ref()
        .and_then(|s| s.idle_ms)
        .map_or(t.idle_ms, |c| c.min(t.idle_ms));
    // A step's own headers, else the case's; the family's where neither names one.
    let headers = plan.headers.as_ref().unwrap_or(&plan.case.headers);
    let method = plan.method.as_deref().unwrap_or(family.method);
    let path = plan.path.as_deref().unwrap_or(family.path);
    Ok(Outgoing {
        method: method.parse().map_err(|_| format!("bad method {method}"))?,
        url: crate::exchange::endpoint::join(&endpoint.base_url, path),
        authorization,
        auth_header,
        headers: family
            .headers
            .iter()
            .filter(|(k, _)| !headers.keys().any(|h| h.eq_ignore_ascii_case(k)))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain(headers.iter().map(|(k, v)| (k.clone(), v.clone())))
            .collect(),
        body,
        deadlines: Deadlines {
            first_byte: Duration::from_millis(t.first_byte_ms),
            idle: Duration::from_millis(idle),
            total: Duration::from_millis(t.total_ms),
        },
    })
}
