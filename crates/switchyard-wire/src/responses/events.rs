//! Deltas as Responses API stream events: `response.created`, `response.in_progress`, an
//! `output_item.added` … `output_item.done` bracket per output item (a message with its
//! `output_text` part, or a function call with its argument deltas), then
//! `response.completed` (or `response.incomplete`) with the whole Response object and usage.
//! Every event carries its `type` and a `sequence_number`, under an `event:` line.

use serde_json::{Value, json};

use super::{ResponsesMeta, item_id, message_item, status_of};
use crate::completion::{FinishReason, ToolCall};
use crate::stream::{Delta, sse};
use crate::usage::Usage;

/// One output item being streamed.
#[derive(Debug)]
enum Item {
    Message { id: String, text: String, open: bool },
    Function { id: String, tool: usize, call: ToolCall, open: bool },
}

/// Encodes one answer's deltas as Responses events.
#[derive(Debug)]
pub struct ResponsesEncoder {
    meta: ResponsesMeta,
    model: String,
    seq: u64,
    started: bool,
    ended: bool,
    items: Vec<Item>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

impl ResponsesEncoder {
    /// An encoder for the answer `meta` describes; `model` names it until the upstream does.
    pub fn new(meta: ResponsesMeta, model: &str) -> Self {
        ResponsesEncoder {
            meta,
            model: model.to_string(),
            seq: 0,
            started: false,
            ended: false,
            items: Vec::new(),
            finish: None,
            usage: None,
        }
    }

    /// Names the answer `model` from the start.
    pub fn set_model(&mut self, model: &str) {
        self.model = model.to_string();
    }

    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, mut data: Value) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        sse(out, Some(kind), &data);
    }

    fn start(&mut self, model: Option<&str>, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        if let Some(m) = model.filter(|m| !m.is_empty()) {
            self.model = m.to_string();
        }
        let r = self.meta.response("in_progress", &self.model, Vec::new(), None);
        self.emit(out, "response.created", json!({"response": r}));
        let r = self.meta.response("in_progress", &self.model, Vec::new(), None);
        self.emit(out, "response.in_progress", json!({"response": r}));
    }

    /// Appends the events for one delta.
    pub fn push(&mut self, d: &Delta, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        if let Delta::Start { model, .. } = d {
            self.start(Some(model), out);
            return;
        }
        self.start(None, out);
        match d {
            Delta::Start { .. } => {}
            Delta::Text(t) => self.text(t, out),
            Delta::ToolStart { index, id, name } => self.tool_start(*index, id, name, out),
            Delta::ToolArgs { index, fragment } => self.tool_args(*index, fragment, out),
            Delta::Finish(f) => self.finish = Some(*f),
            Delta::Usage(u) => self.usage = Some(*u),
            Delta::Error { kind, message } => self.error(kind, message, out),
        }
    }

    fn text(&mut self, t: &str, out: &mut Vec<u8>) {
        let at = match self.items.last() {
            Some(Item::Message { open: true, .. }) => self.items.len() - 1,
            _ => {
                self.close_all(out);
                let id = item_id("msg", &self.meta.id, self.items.len());
                let at = self.items.len();
                let item =
                    json!({"type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": []});
                self.emit(out, "response.output_item.added", json!({"output_index": at, "item": item}));
                let part = json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []});
                let added = json!({"item_id": id, "output_index": at, "content_index": 0, "part": part});
                self.emit(out, "response.content_part.added", added);
                self.items.push(Item::Message { id, text: String::new(), open: true });
                at
            }
        };
        let Item::Message { id, text, .. } = &mut self.items[at] else { return };
        text.push_str(t);
        let delta = json!({"item_id": id, "output_index": at, "content_index": 0, "delta": t, "logprobs": []});
        self.emit(out, "response.output_text.delta", delta);
    }

    fn tool_start(&mut self, tool: usize, call_id: &str, name: &str, out: &mut Vec<u8>) {
        // A message before the calls is done; earlier calls stay open for their arguments.
        if let Some(at) = self.items.iter().position(|i| matches!(i, Item::Message { open: true, .. })) {
            self.close(at, out);
        }
        let at = self.items.len();
        let id = item_id("fc", &self.meta.id, at);
        let call = ToolCall { id: call_id.to_string(), name: name.to_string(), arguments: String::new() };
        let item = self.meta.call_item(id.clone(), &call, "in_progress");
        self.emit(out, "response.output_item.added", json!({"output_index": at, "item": item}));
        self.items.push(Item::Function { id, tool, call, open: true });
    }

    fn tool_args(&mut self, tool: usize, fragment: &str, out: &mut Vec<u8>) {
        let found =
            self.items.iter().position(|i| matches!(i, Item::Function { tool: t, open: true, .. } if *t == tool));
        let Some(at) = found else { return };
        let Item::Function { id, call, .. } = &mut self.items[at] else { return };
        call.arguments.push_str(fragment);
        if self.meta.custom_tools.contains(&call.name) {
            // A custom tool's input is whole only once its arguments are: sent with the item's done.
            return;
        }
        let delta = json!({"item_id": id, "output_index": at, "delta": fragment});
        self.emit(out, "response.function_call_arguments.delta", delta);
    }

    /// The `*.done` events of item `at`.
    fn close(&mut self, at: usize, out: &mut Vec<u8>) {
        let events: Vec<(&str, Value)> = match &mut self.items[at] {
            Item::Message { open: false, .. } | Item::Function { open: false, .. } => return,
            Item::Message { id, text, open } => {
                *open = false;
                let part = json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
                vec![
                    (
                        "response.output_text.done",
                        json!({"item_id": id, "output_index": at, "content_index": 0, "text": text, "logprobs": []}),
                    ),
                    (
                        "response.content_part.done",
                        json!({"item_id": id, "output_index": at, "content_index": 0, "part": part}),
                    ),
                    (
                        "response.output_item.done",
                        json!({"output_index": at, "item": message_item(id.clone(), text, "completed")}),
                    ),
                ]
            }
            Item::Function { id, call, open, .. } => {
                *open = false;
                if call.arguments.is_empty() {
                    call.arguments.push_str("{}");
                }
                vec![
                    (
                        "response.function_call_arguments.done",
                        json!({"item_id": id, "output_index": at, "name": call.name, "arguments": call.arguments}),
                    ),
                    (
                        "response.output_item.done",
                        json!({"output_index": at, "item": self.meta.call_item(id.clone(), call, "completed")}),
                    ),
                ]
            }
        };
        for (kind, data) in events {
            self.emit(out, kind, data);
        }
    }

    fn close_all(&mut self, out: &mut Vec<u8>) {
        for at in 0..self.items.len() {
            self.close(at, out);
        }
    }

    /// The output items in their final form.
    fn output(&self) -> Vec<Value> {
        self.items
            .iter()
            .map(|i| match i {
                Item::Message { id, text, .. } => message_item(id.clone(), text, "completed"),
                Item::Function { id, call, .. } => self.meta.call_item(id.clone(), call, "completed"),
            })
            .collect()
    }

    /// Ends the stream: open items are done, then `response.completed` (or
    /// `response.incomplete` for an answer cut by its token limit or a filter).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(None, out);
        if self.items.is_empty() {
            // An empty answer still has its (empty) message, as whole answers do.
            self.text("", out);
        }
        self.close_all(out);
        let f = self.finish.unwrap_or(FinishReason::Stop);
        let (status, incomplete) = status_of(f);
        let mut r = self.meta.response(status, &self.model, self.output(), self.usage.as_ref());
        r["incomplete_details"] = incomplete;
        let kind = if status == "completed" { "response.completed" } else { "response.incomplete" };
        self.emit(out, kind, json!({"response": r}));
        self.ended = true;
    }

    /// Ends the stream with an `error` event and `response.failed`.
    pub fn error(&mut self, kind: &str, message: &str, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(None, out);
        let code = if kind.contains("rate_limit") { "rate_limit_exceeded" } else { "server_error" };
        // Flat (the API reference's shape) and nested (what OpenAI sends, and what the Python
        // SDK raises on).
        let nested = json!({"type": "server_error", "code": code, "message": message, "param": null});
        self.emit(out, "error", json!({"code": code, "message": message, "param": null, "error": nested}));
        let mut r = self.meta.response("failed", &self.model, self.output(), self.usage.as_ref());
        r["error"] = json!({"code": code, "message": message});
        self.emit(out, "response.failed", json!({"response": r}));
        self.ended = true;
    }
}
