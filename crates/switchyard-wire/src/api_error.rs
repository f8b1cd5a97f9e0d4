//! Errors answered to clients, shaped like OpenAI's (`{"error":{message,type,param,code}}`).

use crate::json::push_str;

/// An error the gateway answers with, independent of the client dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// OpenAI `type`, e.g. `invalid_request_error`.
    pub kind: &'static str,
    /// OpenAI `code`, e.g. `model_not_found`.
    pub code: Option<&'static str>,
    /// The parameter at fault, if any.
    pub param: Option<&'static str>,
    /// Human-readable message (never contains secrets).
    pub message: String,
    /// Seconds for a `retry-after` header (rate limits).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// A 400 `invalid_request_error`.
    pub fn bad_request(message: impl Into<String>, param: Option<&'static str>) -> Self {
        ApiError {
            status: 400,
            kind: "invalid_request_error",
            code: None,
            param,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// A 404 for a model or route that is not configured.
    pub fn model_not_found(model: &str) -> Self {
        ApiError {
            status: 404,
            kind: "invalid_request_error",
            code: Some("model_not_found"),
            param: Some("model"),
            message: format!("The model `{model}` does not exist on this gateway."),
            retry_after_s: None,
        }
    }

    /// Any status with a message; `type` and `code` follow the status.
    pub fn status(status: u16, message: impl Into<String>) -> Self {
        let (kind, code) = match status {
            400 | 413 | 415 | 417 | 431 => ("invalid_request_error", None),
            401 => ("invalid_request_error", Some("invalid_api_key")),
            402 => ("insufficient_quota", Some("budget_exceeded")),
            403 => ("permission_error", Some("model_not_allowed")),
            404 => ("invalid_request_error", Some("not_found")),
            405 => ("invalid_request_error", Some("method_not_allowed")),
            408 => ("invalid_request_error", Some("request_timeout")),
            429 => ("rate_limit_exceeded", Some("rate_limit_exceeded")),
            501 => ("invalid_request_error", Some("not_implemented")),
            502 => ("upstream_error", Some("upstream_unreachable")),
            503 => ("server_error", Some("service_unavailable")),
            504 => ("upstream_error", Some("upstream_timeout")),
            _ => ("server_error", None),
        };
        ApiError { status, kind, code, param: None, message: message.into(), retry_after_s: None }
    }

    /// A 429 that tells the client when to come back.
    pub fn rate_limited(message: impl Into<String>, retry_after_s: u64) -> Self {
        ApiError { retry_after_s: Some(retry_after_s.max(1)), ..ApiError::status(429, message) }
    }

    /// The OpenAI-shaped JSON body.
    pub fn to_openai_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.message.len());
        out.extend_from_slice(b"{\"error\":{\"message\":");
        push_str(&mut out, &self.message);
        out.extend_from_slice(b",\"type\":");
        push_str(&mut out, self.kind);
        out.extend_from_slice(b",\"param\":");
        match self.param {
            Some(p) => push_str(&mut out, p),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"code\":");
        match self.code {
            Some(c) => push_str(&mut out, c),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape() {
        let e = ApiError::model_not_found("gpt-\"9");
        let v: serde_json_like::Value = serde_json_like::parse(&e.to_openai_json());
        assert_eq!(v.get("error.code"), Some("model_not_found"));
        assert_eq!(v.get("error.type"), Some("invalid_request_error"));
        assert_eq!(v.get("error.param"), Some("model"));
        assert!(v.get("error.message").unwrap().contains("gpt-\"9"));
        let e = ApiError::status(502, "x");
        let v = serde_json_like::parse(&e.to_openai_json());
        assert_eq!(v.get("error.param"), None);
    }

    /// Reads the body back with simd-json so the test checks real JSON, not our own writer.
    mod serde_json_like {
        use simd_json::prelude::*;
        pub struct Value(simd_json::OwnedValue);
        pub fn parse(b: &[u8]) -> Value {
            Value(simd_json::to_owned_value(&mut b.to_vec()).expect("valid JSON"))
        }
        impl Value {
            pub fn get(&self, path: &str) -> Option<&str> {
                let mut v = &self.0;
                for k in path.split('.') {
                    v = v.get(k)?;
                }
                v.as_str()
            }
        }
    }
}
