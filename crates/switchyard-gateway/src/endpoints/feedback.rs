//! `POST /v1/feedback`: a rating joined to its request by id, written to the decision log.

use switchyard_guard::keys::ClientKey;
use switchyard_wire::ApiError;

use crate::runtime::core::{RequestId, Worker};

/// `POST /v1/feedback`: `{"request_id": "...", "rating": "up" | "down" | number, "comment"?}`
/// becomes a feedback record in the decision log, joined to its request by id.
///
/// Only the key that made a request may rate it: its id is sealed to the key's name, and an
/// id this process did not make for this key (another key's, a guessed or unknown one) is a
/// 404. Each record counts against the key's requests per minute.
pub fn feedback(w: &Worker, key: Option<&ClientKey>, body: &[u8]) -> Result<(), ApiError> {
    let Some(log) = w.shared.decisions.as_ref().filter(|d| d.to_file) else {
        return Err(ApiError::status(501, "feedback needs the decision log: configure [log]"));
    };
    if let Some(k) = key {
        k.admit_feedback(w.shared.key_now())?;
    }
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}"), None))?;
    let id = v["request_id"].as_str().filter(|s| !s.is_empty() && s.len() <= 64);
    let Some(id) = id else { return Err(ApiError::bad_request("`request_id` is required", Some("request_id"))) };
    let rating = match &v["rating"] {
        serde_json::Value::String(s) if s == "up" || s == "down" => v["rating"].clone(),
        serde_json::Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => v["rating"].clone(),
        _ => return Err(ApiError::bad_request("`rating` must be \"up\", \"down\" or a number", Some("rating"))),
    };
    let key_name = key.map_or("", |k| k.name.as_str());
    if !RequestId::verify(id, &w.shared.id_seal, key_name) {
        return Err(ApiError::status(404, format!("no request `{id}` was made with this API key")));
    }
    let comment: String = v["comment"].as_str().unwrap_or("").chars().take(2000).collect();
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    log.send(
        serde_json::json!({"type": "feedback", "ts_ms": ts, "request_id": id, "key": key.map(|k| k.name.as_str()), "rating": rating, "comment": comment})
            .to_string(),
    );
    Ok(())
}
