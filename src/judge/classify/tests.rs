//! The classification table's unit tests.

use super::*;
use crate::model::observation::ApiError;
use serde_json::json;
use serde_json::Value;

fn obs(status: u16, body: Value) -> Observation {
    Observation {
        status: Some(status),
        body: Some(BodyKind::Json),
        error: ApiError::from_body(&body),
        ..Observation::default()
    }
}

#[test]
fn comet_missing_messages_500_is_fix_request() {
    let o = obs(
        500,
        json!({"error":{"message":"field messages is required (request id: X)","type":"comet_api_error","param":"","code":"invalid_request"}}),
    );
    let c = classify(&o);
    assert_eq!(c.class, Class::FixRequest);
    assert_eq!(c.rule, "500.invalid_request");
    assert!(!c.class.retryable());
}

#[test]
fn plain_500_retries() {
    let c = classify(&obs(
        500,
        json!({"error":{"message":"upstream","type":"comet_api_error","code":""}}),
    ));
    assert_eq!(c.class, Class::Retry);
}

#[test]
fn comet_unknown_model_503_is_configuration_drift() {
    let c = classify(&obs(
        503,
        json!({"error":{"code":"model_not_found","message":"no available channel for group default and model m (distributor) (request id: X)","type":"comet_api_error"}}),
    ));
    assert_eq!(c.class, Class::ConfigurationDrift);
    assert!(c.reason.contains("model_not_found"), "{}", c.reason);
}

#[test]
fn statuses_map_to_classes() {
    let table: &[(u16, Class)] = &[
        (401, Class::RefreshCredentials),
        (403, Class::RefreshCredentials),
        (402, Class::Quota),
        (429, Class::Retry),
        (408, Class::Retry),
        (413, Class::FixRequest),
        (422, Class::FixRequest),
        (404, Class::ConfigurationDrift),
        (400, Class::FixRequest),
        (502, Class::Retry),
        (503, Class::Retry),
        (504, Class::Retry),
        (524, Class::Retry),
        (301, Class::ConfigurationDrift),
        (200, Class::Ok),
    ];
    for (s, want) in table {
        let c = classify(&obs(*s, json!({"error":{"message":"m"}})));
        assert_eq!(c.class, *want, "status {s}: {}", c.reason);
    }
}

#[test]
fn bodies_and_transport() {
    let html = Observation {
        status: Some(200),
        body: Some(BodyKind::Html),
        ..Default::default()
    };
    assert_eq!(classify(&html).class, Class::ConfigurationDrift);
    let schema = Observation {
        status: Some(200),
        body: Some(BodyKind::Json),
        schema_ok: Some(false),
        ..Default::default()
    };
    assert_eq!(classify(&schema).class, Class::ContractDrift);
    let conn = Observation {
        transport: Some(TransportFailure::Connect),
        ..Default::default()
    };
    assert_eq!(classify(&conn).class, Class::Retry);
    let quota = obs(
        429,
        json!({"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}}),
    );
    assert_eq!(classify(&quota).class, Class::Quota);
}

#[test]
fn anthropic_and_string_envelopes_are_read() {
    let a = ApiError::from_body(
        &json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
    )
    .unwrap();
    assert_eq!(a.r#type.as_deref(), Some("overloaded_error"));
    let s = ApiError::from_body(&json!({"error":"bad"})).unwrap();
    assert_eq!(s.message.as_deref(), Some("bad"));
    let empty_code = ApiError::from_body(&json!({"error":{"message":"x","code":""}})).unwrap();
    assert_eq!(empty_code.code, None);
}

#[test]
fn statuses_outside_http_are_never_named_by_a_2xx_rule() {
    for status in [999u16, 101, 600, 0] {
        for body in [BodyKind::Html, BodyKind::Json, BodyKind::OtherText, BodyKind::Empty] {
            let o = Observation {
                status: Some(status),
                body: Some(body),
                ..Default::default()
            };
            let c = classify(&o);
            assert!(!c.rule.starts_with("2xx"), "{status} {body:?}: {}", c.rule);
            assert_eq!(c.class, Class::ContractDrift, "{status} {body:?}: {}", c.reason);
        }
        let streamed = Observation {
            status: Some(status),
            stream: Some(StreamEnd::Cut),
            ..Default::default()
        };
        assert!(!classify(&streamed).rule.starts_with("2xx"), "{status}");
    }
}
