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

/// Why a base URL cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    #[error("is not an http(s) URL")]
    NotHttp,
    /// `user:password@host`: a client would send it as Basic credentials, or in place of the
    /// key; and every error naming the URL would show it.
    #[error(
        "carries credentials before its host (user:password@): the key goes in its header, from the target's api_key_env, never in the URL"
    )]
    Credentials,
}

/// The URL's parts: everything before the query, the query (without `?`), without a fragment.
fn split(base_url: &str) -> (&str, Option<&str>) {
    let url = base_url.split('#').next().unwrap_or("");
    match url.split_once('?') {
        Some((base, query)) => (base, Some(query).filter(|q| !q.is_empty())),
        None => (url, None),
    }
}

/// Checks a live base URL: http or https, with no credentials in it.
pub fn check_base_url(base_url: &str) -> Result<(), BaseUrlError> {
    let rest = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))
        .ok_or(BaseUrlError::NotHttp)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(BaseUrlError::Credentials);
    }
    Ok(())
}

/// The base URL as an error may show it: any credentials before the host replaced.
pub fn shown(base_url: &str) -> String {
    let Some((scheme, rest)) = base_url.split_once("://") else {
        return base_url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://[CREDENTIALS]@{}", &rest[at + 1..]),
        None => base_url.to_string(),
    }
}

/// `path` (`/chat/completions`, with a query of its own or not) below a base URL that may have
/// a query (Azure's `?api-version=…`): the path goes before the query, and the query is kept;
/// a fragment is dropped (it is never sent).
pub fn join(base_url: &str, path: &str) -> String {
    let (base, query) = split(base_url);
    let mut url = format!("{}{path}", base.trim_end_matches('/'));
    if let Some(q) = query {
        url.push(if path.contains('?') { '&' } else { '?' });
        url.push_str(q);
    }
    url
}

/// The base URL's query, if it has one (without `?`).
#[cfg(test)]
pub fn query(base_url: &str) -> Option<&str> {
    split(base_url).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_before_the_query_which_is_kept() {
        for (base, path, url) in [
            ("http://h/v1", "/chat/completions", "http://h/v1/chat/completions"),
            ("http://h/v1/", "/chat/completions", "http://h/v1/chat/completions"),
            (
                "https://h/openai/deployments/d?api-version=2024-10-21",
                "/chat/completions",
                "https://h/openai/deployments/d/chat/completions?api-version=2024-10-21",
            ),
            ("http://h/v1/?a=1&b=2", "/videos/x", "http://h/v1/videos/x?a=1&b=2"),
            ("http://h/v1?a=1", "/x?y=2", "http://h/v1/x?y=2&a=1"),
            ("http://h/v1?", "/x", "http://h/v1/x"),
            ("http://h/v1#frag", "/x", "http://h/v1/x"),
        ] {
            assert_eq!(join(base, path), url, "{base} {path}");
        }
        assert_eq!(query("http://h/v1?a=1#f"), Some("a=1"));
        assert_eq!(query("http://h/v1"), None);
    }

    #[test]
    fn credentials_in_a_base_url_are_refused_and_never_shown() {
        assert_eq!(check_base_url("https://h/v1?x=@y"), Ok(()));
        assert_eq!(check_base_url("http://127.0.0.1:4000/v1"), Ok(()));
        assert_eq!(check_base_url("ftp://h/v1"), Err(BaseUrlError::NotHttp));
        for bad in ["http://u:p@h/v1", "https://u@h", "http://u:p@h?x", "http://:p@h#f"] {
            assert_eq!(check_base_url(bad), Err(BaseUrlError::Credentials), "{bad}");
            assert!(!shown(bad).contains(":p") && !shown(bad).contains("u@"), "{bad}");
        }
        assert_eq!(shown("http://u:p@h/v1"), "http://[CREDENTIALS]@h/v1");
    }
}
