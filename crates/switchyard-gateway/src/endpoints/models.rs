//! `GET /v1/models` and `GET /v1/models/{id}`: the precomputed list and entries, in OpenAI's
//! shape, or in Anthropic's for clients that send `anthropic-version` (its SDK's
//! `models.list`/`retrieve`).

use switchyard_guard::keys::ClientKey;
use switchyard_http::head::HeaderRef;
use switchyard_wire::{ApiError, Dialect};

use crate::runtime::live::Live;

/// The client's dialect and the body for `path`, once `admit` let the client in.
pub fn lookup<'l>(
    live: &'l Live,
    path: &[u8],
    buf: &[u8],
    headers: &[HeaderRef],
    admit: impl FnOnce(Dialect) -> Result<Option<&'l ClientKey>, ApiError>,
) -> (Dialect, Result<&'l [u8], ApiError>) {
    let anthropic = switchyard_http::header_value(buf, headers, "anthropic-version").is_some();
    let dialect = if anthropic { Dialect::Anthropic } else { Dialect::OpenAi };
    let models = &live.table.models;
    let found = admit(dialect).and_then(|_| match path.get(b"/v1/models/".len()..) {
        None => Ok(models.list(anthropic)),
        Some(id) => {
            // A malformed escape names no model; the 404 quotes what was sent.
            let id = switchyard_http::percent_decode(id).unwrap_or_else(|| String::from_utf8_lossy(id).into_owned());
            models.entry(&id, anthropic).ok_or_else(|| ApiError::model_not_found(&id))
        }
    });
    (dialect, found)
}
