//! Errors in each dialect: parse an upstream's error body, render one for the client.

use serde_json::{Value, json};

use crate::Dialect;

/// What went wrong, independent of dialect; decides the status on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad request.
    InvalidRequest,
    /// Bad or missing credentials.
    Authentication,
    /// Not allowed.
    Permission,
    /// No such model or path.
    NotFound,
    /// Body too large.
    TooLarge,
    /// Rate limited.
    RateLimited,
    /// Out of credit or budget (402).
    Billing,
    /// Overloaded (Anthropic 529, OpenAI/Gemini 503).
    Overloaded,
    /// Upstream timed out.
    Timeout,
    /// Anything else on the server side.
    Server,
    /// The provider refused the gateway's own credentials (its 401 or 403): a gateway fault,
    /// answered 502 `upstream_auth_failed`, since the client's key was fine.
    UpstreamAuth,
    /// A whole answer larger than the gateway holds (`upstream.max_answer_bytes`): 502
    /// `upstream_answer_too_large`.
    AnswerTooLarge,
}

/// An error reported by (or about) an upstream, ready to render in any dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    /// The kind.
    pub kind: ErrorKind,
    /// Message.
    pub message: String,
}

impl ErrorKind {
    /// From an HTTP status.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            400 | 405 | 409 | 422 => ErrorKind::InvalidRequest,
            401 => ErrorKind::Authentication,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            413 => ErrorKind::TooLarge,
            429 => ErrorKind::RateLimited,
            402 => ErrorKind::Billing,
            503 | 529 => ErrorKind::Overloaded,
            408 | 504 => ErrorKind::Timeout,
            _ => ErrorKind::Server,
        }
    }

    /// Status a client of `dialect` gets.
    pub fn status(self, dialect: Dialect) -> u16 {
        match (self, dialect) {
            (ErrorKind::InvalidRequest, _) => 400,
            (ErrorKind::Authentication, _) => 401,
            (ErrorKind::Permission, _) => 403,
            (ErrorKind::NotFound, _) => 404,
            (ErrorKind::TooLarge, _) => 413,
            (ErrorKind::RateLimited, _) => 429,
            (ErrorKind::Billing, _) => 402,
            (ErrorKind::Overloaded, Dialect::Anthropic) => 529,
            (ErrorKind::Overloaded, _) => 503,
            (ErrorKind::Timeout, _) => 504,
            (ErrorKind::Server, _) => 500,
            (ErrorKind::UpstreamAuth, _) | (ErrorKind::AnswerTooLarge, _) => 502,
        }
    }
}

impl UpstreamError {
    /// Parses an upstream error response of `dialect` with `status`.
    pub fn parse(dialect: Dialect, status: u16, body: &[u8]) -> UpstreamError {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let msg = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        let mut kind = ErrorKind::from_status(status);
        let message = match dialect {
            Dialect::OpenAi | Dialect::Anthropic | Dialect::Responses => msg("/error/message"),
            Dialect::Gemini => {
                // A bad key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID: really a 401.
                let text = v.to_string();
                if status == 400 && (text.contains("API_KEY_INVALID") || text.contains("API key not valid")) {
                    kind = ErrorKind::Authentication;
                }
                if msg("/error/status").as_deref() == Some("RESOURCE_EXHAUSTED") {
                    kind = ErrorKind::RateLimited;
                }
                msg("/error/message")
            }
        }
        .unwrap_or_else(|| format!("upstream answered {status}"));
        UpstreamError { kind, message }
    }

    /// The error as a client may see it: a provider's refusal of the gateway's credentials
    /// becomes `UpstreamAuth`, and the message loses the provider's keys (`secrets`) and
    /// anything else shaped like a key (providers echo the key they were sent).
    pub fn for_client(mut self, secrets: &[String]) -> UpstreamError {
        if matches!(self.kind, ErrorKind::Authentication | ErrorKind::Permission) {
            self.kind = ErrorKind::UpstreamAuth;
            self.message = format!("the provider refused the gateway's credentials: {}", self.message);
        }
        self.message = crate::redact::redact(&self.message, secrets);
        self
    }

    /// The body a client of `dialect` gets.
    pub fn render(&self, dialect: Dialect) -> Value {
        match dialect {
            Dialect::Anthropic => {
                let t = match self.kind {
                    ErrorKind::TooLarge => "request_too_large",
                    ErrorKind::InvalidRequest => "invalid_request_error",
                    ErrorKind::Authentication => "authentication_error",
                    ErrorKind::Permission => "permission_error",
                    ErrorKind::NotFound => "not_found_error",
                    ErrorKind::RateLimited => "rate_limit_error",
                    ErrorKind::Billing => "billing_error",
                    ErrorKind::Overloaded => "overloaded_error",
                    _ => "api_error",
                };
                json!({"type": "error", "error": {"type": t, "message": self.message}})
            }
            _ => {
                let (t, code) = match self.kind {
                    ErrorKind::InvalidRequest | ErrorKind::TooLarge => ("invalid_request_error", Value::Null),
                    ErrorKind::Authentication => ("invalid_request_error", json!("invalid_api_key")),
                    ErrorKind::Permission => ("invalid_request_error", json!("permission_denied")),
                    ErrorKind::NotFound => ("invalid_request_error", json!("model_not_found")),
                    ErrorKind::RateLimited => ("rate_limit_exceeded", json!("rate_limit_exceeded")),
                    ErrorKind::Billing => ("insufficient_quota", json!("insufficient_quota")),
                    ErrorKind::Overloaded => ("server_error", json!("overloaded")),
                    ErrorKind::Timeout => ("server_error", json!("timeout")),
                    ErrorKind::Server => ("server_error", Value::Null),
                    ErrorKind::UpstreamAuth => ("server_error", json!("upstream_auth_failed")),
                    ErrorKind::AnswerTooLarge => ("server_error", json!("upstream_answer_too_large")),
                };
                json!({"error": {"message": self.message, "type": t, "param": null, "code": code}})
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_between_dialects() {
        // Anthropic 529 overloaded → OpenAI client 503, Anthropic client 529.
        let e = UpstreamError::parse(
            Dialect::Anthropic,
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!((e.kind.status(Dialect::OpenAi), e.kind.status(Dialect::Anthropic)), (503, 529));
        assert_eq!(e.render(Dialect::OpenAi)["error"]["message"], "Overloaded");
        assert_eq!(e.render(Dialect::Anthropic)["error"]["type"], "overloaded_error");
        // Gemini's bad key is a 400 that means 401.
        let e = UpstreamError::parse(Dialect::Gemini, 400,
            br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#);
        assert_eq!(e.kind, ErrorKind::Authentication);
        assert_eq!(e.kind.status(Dialect::OpenAi), 401);
        assert_eq!(e.render(Dialect::Anthropic)["error"]["type"], "authentication_error");
        let e = UpstreamError::parse(
            Dialect::Gemini,
            429,
            br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#,
        );
        assert_eq!(e.render(Dialect::OpenAi)["error"]["type"], "rate_limit_exceeded");
        // OpenAI 503 → Anthropic client 529; unparsable bodies still give a message.
        let e = UpstreamError::parse(Dialect::OpenAi, 503, b"<html>");
        assert_eq!(e.kind.status(Dialect::Anthropic), 529);
        assert_eq!(e.message, "upstream answered 503");
        let v = UpstreamError::parse(
            Dialect::OpenAi,
            404,
            br#"{"error":{"message":"no","type":"x","param":null,"code":null}}"#,
        )
        .render(Dialect::OpenAi);
        assert!(v["error"].get("param").is_some() && v["error"].get("code").is_some());
    }
}
