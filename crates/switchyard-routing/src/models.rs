//! The `GET /v1/models` answers, rendered once per table in both clients' shapes.

use std::collections::HashMap;
use std::ops::Range;

use switchyard_wire::json::push_str;

/// The configured models and routes as OpenAI and Anthropic clients list them.
#[derive(Debug, Default)]
pub struct ModelList {
    openai: Vec<u8>,
    anthropic: Vec<u8>,
    /// Where each name's entry sits in `openai` and in `anthropic`.
    entries: HashMap<String, (Range<usize>, Range<usize>)>,
}

impl ModelList {
    /// Renders the list of `(name, owner)` pairs (owner: the provider, or `switchyard` for a route).
    pub fn new<'a>(names: impl IntoIterator<Item = (&'a str, &'a str)>) -> ModelList {
        let mut openai = b"{\"object\":\"list\",\"data\":[".to_vec();
        let mut anthropic = b"{\"data\":[".to_vec();
        let mut entries = HashMap::new();
        let (mut first, mut last) = (None, None);
        for (i, (name, owner)) in names.into_iter().enumerate() {
            if i > 0 {
                openai.push(b',');
                anthropic.push(b',');
            }
            let o = openai.len();
            openai.extend_from_slice(b"{\"id\":");
            push_str(&mut openai, name);
            openai.extend_from_slice(b",\"object\":\"model\",\"created\":0,\"owned_by\":");
            push_str(&mut openai, owner);
            openai.push(b'}');
            let a = anthropic.len();
            anthropic.extend_from_slice(b"{\"type\":\"model\",\"id\":");
            push_str(&mut anthropic, name);
            anthropic.extend_from_slice(b",\"display_name\":");
            push_str(&mut anthropic, name);
            anthropic.extend_from_slice(b",\"created_at\":\"1970-01-01T00:00:00Z\"}");
            entries.insert(name.to_string(), (o..openai.len(), a..anthropic.len()));
            first.get_or_insert(name);
            last = Some(name);
        }
        openai.extend_from_slice(b"]}");
        // Anthropic's list is a page: one page holds everything.
        anthropic.extend_from_slice(b"],\"has_more\":false,\"first_id\":");
        push_opt(&mut anthropic, first);
        anthropic.extend_from_slice(b",\"last_id\":");
        push_opt(&mut anthropic, last);
        anthropic.push(b'}');
        ModelList { openai, anthropic, entries }
    }

    /// The whole list, in OpenAI's shape or (for clients that send `anthropic-version`) Anthropic's.
    pub fn list(&self, anthropic: bool) -> &[u8] {
        if anthropic { &self.anthropic } else { &self.openai }
    }

    /// One model's or route's entry (`GET /v1/models/{id}`).
    pub fn entry(&self, name: &str, anthropic: bool) -> Option<&[u8]> {
        self.entries
            .get(name)
            .map(|(o, a)| if anthropic { &self.anthropic[a.clone()] } else { &self.openai[o.clone()] })
    }
}

fn push_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simd_json::{OwnedValue as Value, json};

    fn parse(b: &[u8]) -> Value {
        simd_json::to_owned_value(&mut b.to_vec()).unwrap()
    }

    #[test]
    fn both_shapes_and_single_entries() {
        let l = ModelList::new([("gpt \"x\"", "openai"), ("auto", "switchyard")]);
        assert_eq!(
            parse(l.list(false)),
            json!({"object":"list","data":[
                {"id":"gpt \"x\"","object":"model","created":0,"owned_by":"openai"},
                {"id":"auto","object":"model","created":0,"owned_by":"switchyard"}]})
        );
        let a = parse(l.list(true));
        assert_eq!(
            a["data"][1],
            json!({"type":"model","id":"auto","display_name":"auto","created_at":"1970-01-01T00:00:00Z"})
        );
        assert_eq!(
            (&a["has_more"], &a["first_id"], &a["last_id"]),
            (&json!(false), &json!("gpt \"x\""), &json!("auto"))
        );
        assert_eq!(parse(l.entry("auto", false).unwrap())["owned_by"], "switchyard");
        assert_eq!(parse(l.entry("gpt \"x\"", true).unwrap())["type"], "model");
        assert!(l.entry("nope", false).is_none());
        let empty = ModelList::new([]);
        assert_eq!(parse(empty.list(true))["first_id"], json!(null));
        assert_eq!(parse(empty.list(false))["data"], json!([]));
    }
}
