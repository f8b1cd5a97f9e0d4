//! Whole answers as streams and streams as whole answers: a stored or aggregated
//! [`Completion`] replays as deltas (then any client dialect's SSE), and a stream's deltas fold
//! back into a `Completion` (to store it).

use crate::completion::{Completion, FinishReason, ToolCall};
use crate::stream::Delta;
use crate::usage::Usage;

/// Text is replayed in pieces of about this many bytes, so a client sees a stream, not a blob.
const REPLAY_PIECE: usize = 64;

impl Completion {
    /// The deltas that stream this answer: start, text, tool calls, finish, usage.
    pub fn to_deltas(&self) -> Vec<Delta> {
        let mut out = vec![Delta::Start { id: self.id.clone(), model: self.model.clone() }];
        let mut rest = self.text.as_str();
        while !rest.is_empty() {
            let mut cut = rest.len().min(REPLAY_PIECE);
            while !rest.is_char_boundary(cut) {
                cut += 1;
            }
            out.push(Delta::Text(rest[..cut].to_string()));
            rest = &rest[cut..];
        }
        for (index, c) in self.tool_calls.iter().enumerate() {
            out.push(Delta::ToolStart { index, id: c.id.clone(), name: c.name.clone() });
            out.push(Delta::ToolArgs { index, fragment: c.arguments.clone() });
        }
        out.push(Delta::Finish(self.finish));
        out.push(Delta::Usage(self.usage));
        out
    }
}

/// Folds a stream's deltas into the whole answer.
#[derive(Debug, Default)]
pub struct CompletionBuilder {
    id: String,
    model: String,
    text: String,
    tools: Vec<ToolCall>,
    finish: Option<FinishReason>,
    usage: Usage,
    failed: bool,
}

impl CompletionBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one delta.
    pub fn push(&mut self, d: &Delta) {
        match d {
            Delta::Start { id, model } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
            }
            Delta::Text(t) => self.text.push_str(t),
            Delta::ToolStart { index, id, name } => {
                if *index == self.tools.len() {
                    self.tools.push(ToolCall { id: id.clone(), name: name.clone(), arguments: String::new() });
                } else {
                    self.failed = true;
                }
            }
            Delta::ToolArgs { index, fragment } => match self.tools.get_mut(*index) {
                Some(t) => t.arguments.push_str(fragment),
                None => self.failed = true,
            },
            Delta::Finish(f) => self.finish = Some(*f),
            Delta::Usage(u) => self.usage = *u,
            Delta::Error { .. } => self.failed = true,
        }
    }

    /// The answer, if the stream finished without an error.
    pub fn finish(self) -> Option<Completion> {
        let finish = self.finish?;
        (!self.failed).then_some(Completion {
            id: self.id,
            model: self.model,
            text: self.text,
            tool_calls: self.tools,
            finish,
            usage: self.usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::StreamEncoder;
    use crate::{Dialect, StreamDecoder};

    fn sample() -> Completion {
        Completion {
            id: "chatcmpl-1".into(),
            model: "gpt-4o-mini".into(),
            text: "é".repeat(50) + " the answer is 42",
            tool_calls: vec![ToolCall { id: "call_1".into(), name: "lookup".into(), arguments: r#"{"q":"x"}"#.into() }],
            finish: FinishReason::ToolCalls,
            usage: Usage { prompt: 10, completion: 20, ..Usage::default() },
        }
    }

    #[test]
    fn replays_and_folds_back_unchanged() {
        let c = sample();
        let mut b = CompletionBuilder::new();
        for d in c.to_deltas() {
            b.push(&d);
        }
        assert_eq!(b.finish().unwrap(), c);
    }

    #[test]
    fn replayed_sse_decodes_to_the_same_answer_in_each_dialect() {
        for dialect in [Dialect::OpenAi, Dialect::Anthropic] {
            let c = sample();
            let mut enc = StreamEncoder::new(dialect, true, &c.model);
            let mut sse = Vec::new();
            for d in c.to_deltas() {
                enc.push(&d, &mut sse);
            }
            enc.finish(&mut sse);
            let mut frames = switchyard_like_split(&sse);
            let mut dec = StreamDecoder::new(dialect, &c.model);
            let mut b = CompletionBuilder::new();
            let mut deltas = Vec::new();
            for (name, data) in frames.drain(..) {
                deltas.clear();
                dec.event(name.as_deref(), &data, &mut deltas).unwrap();
                deltas.iter().for_each(|d| b.push(d));
            }
            deltas.clear();
            dec.end(&mut deltas);
            deltas.iter().for_each(|d| b.push(d));
            let back = b.finish().expect("complete");
            assert_eq!((back.text, back.tool_calls, back.usage.completion), (c.text, c.tool_calls, 20), "{dialect:?}");
        }
    }

    /// Splits SSE text into (event, data) without the HTTP crate (not a dependency here).
    fn switchyard_like_split(sse: &[u8]) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
        let text = String::from_utf8(sse.to_vec()).unwrap();
        text.split("\n\n")
            .filter(|f| !f.trim().is_empty())
            .map(|f| {
                let mut name = None;
                let mut data = Vec::new();
                for line in f.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = Some(n.as_bytes().to_vec());
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = d.as_bytes().to_vec();
                    }
                }
                (name, data)
            })
            .collect()
    }

    #[test]
    fn a_stream_with_an_error_is_not_an_answer() {
        let mut b = CompletionBuilder::new();
        b.push(&Delta::Text("partial".into()));
        b.push(&Delta::Error { kind: "x".into(), message: "y".into() });
        b.push(&Delta::Finish(FinishReason::Stop));
        assert!(b.finish().is_none());
        assert!(CompletionBuilder::new().finish().is_none(), "no finish, no answer");
    }
}
