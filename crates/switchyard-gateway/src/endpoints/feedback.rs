//! `POST /v1/feedback`: a rating joined to its request by id, written to the decision log.

use switchyard_wire::ApiError;

use crate::runtime::core::Worker;

/// `POST /v1/feedback`: `{"request_id": "...", "rating": "up" | "down" | number, "comment"?}`
/// becomes a feedback record in the decision log, joined to its request by id.
pub fn feedback(w: &Worker, body: &[u8]) -> Result<(), ApiError> {
    let Some(log) = &w.shared.decisions else {
        return Err(ApiError::status(501, "feedback needs the decision log: configure [log]"));
    };
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}"), None))?;
    let id = v["request_id"].as_str().filter(|s| !s.is_empty() && s.len() <= 64);
    let Some(id) = id else { return Err(ApiError::bad_request("`request_id` is required", Some("request_id"))) };
    let rating = match &v["rating"] {
        serde_json::Value::String(s) if s == "up" || s == "down" => v["rating"].clone(),
        serde_json::Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => v["rating"].clone(),
        _ => return Err(ApiError::bad_request("`rating` must be \"up\", \"down\" or a number", Some("rating"))),
    };
    let comment: String = v["comment"].as_str().unwrap_or("").chars().take(2000).collect();
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    log.send(
        serde_json::json!({"type": "feedback", "ts_ms": ts, "request_id": id, "rating": rating, "comment": comment})
            .to_string(),
    );
    Ok(())
}
