//! Table tests of the event pump: every dialect pair, split at every byte, with faults.

use super::*;

const OPENAI: &str = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n\
: keep-alive\n\n\
data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n\
data: [DONE]\n\n";

const ANTHROPIC: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n\
event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n\
event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":2}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

fn spec(client: Dialect, upstream: Dialect) -> PumpSpec<'static> {
    PumpSpec {
        client,
        upstream,
        include_usage: true,
        drop_usage_chunk: false,
        model: "m",
        collect: true,
        responses: None,
        report_model: None,
    }
}

/// Runs a whole body through a pump in pieces of `step` bytes.
fn pump(
    spec: PumpSpec<'_>,
    body: &[u8],
    step: usize,
) -> (Vec<u8>, Result<(), StreamFault>, Option<Usage>, Option<Completion>) {
    let mut p = EventPump::new(spec);
    let mut out = Vec::new();
    for piece in body.chunks(step) {
        if let Err(e) = p.feed(piece, &mut out) {
            return (out, Err(e), p.usage(), None);
        }
    }
    let end = p.end(&mut out);
    let usage = p.usage();
    (out, end, usage, p.into_completion())
}

#[test]
fn same_dialect_passes_events_through_byte_for_byte_however_split() {
    for (dialect, body) in [(Dialect::OpenAi, OPENAI), (Dialect::Anthropic, ANTHROPIC)] {
        for step in [1, 7, 64, body.len()] {
            let (out, end, usage, answer) = pump(spec(dialect, dialect), body.as_bytes(), step);
            assert_eq!(end, Ok(()), "{dialect:?} step {step}");
            assert_eq!(String::from_utf8(out).unwrap(), body, "{dialect:?} step {step}");
            let usage = usage.expect("usage seen");
            assert_eq!((usage.prompt, usage.completion), (9, 2), "{dialect:?}");
            assert_eq!(answer.expect("collected").text, "Hello");
        }
    }
}

#[test]
fn translates_between_dialects_with_usage_and_the_whole_answer() {
    let cases = [
        (Dialect::Anthropic, Dialect::OpenAi, ANTHROPIC, "data: {"),
        (Dialect::OpenAi, Dialect::Anthropic, OPENAI, "event: message_start"),
    ];
    for (upstream, client, body, starts) in cases {
        let whole = pump(spec(client, upstream), body.as_bytes(), body.len());
        let bytes = pump(spec(client, upstream), body.as_bytes(), 1);
        assert_eq!(whole.1, Ok(()));
        assert_eq!(whole.0, bytes.0, "the output does not depend on how the input was split");
        let text = String::from_utf8(whole.0).unwrap();
        assert!(text.starts_with(starts), "{client:?} <- {upstream:?}: {text}");
        assert!(text.contains("Hello"), "{text}");
        assert_eq!(whole.2.map(|u| (u.prompt, u.completion)), Some((9, 2)));
        assert_eq!(whole.3.expect("collected").text, "Hello");
    }
}

#[test]
fn the_gateway_s_own_usage_chunk_is_dropped_when_it_asked_for_it() {
    let s = PumpSpec { drop_usage_chunk: true, ..spec(Dialect::OpenAi, Dialect::OpenAi) };
    let (out, end, usage, _) = pump(s, OPENAI.as_bytes(), 13);
    assert_eq!(end, Ok(()));
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("\"choices\":[]"), "usage-only chunk removed: {text}");
    assert!(text.contains("[DONE]"));
    assert_eq!(usage.map(|u| u.completion), Some(2), "usage is still counted");
}

#[test]
fn faults_are_typed() {
    let openai = spec(Dialect::OpenAi, Dialect::OpenAi);
    let cases: [(&str, PumpSpec<'_>, StreamFault); 4] = [
        ("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}\n\n", openai, StreamFault::InvalidEvent),
        ("data: not json\n\n", openai, StreamFault::InvalidEvent),
        (
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":null}]}\n\n",
            openai,
            StreamFault::Unfinished,
        ),
        (
            "event: content_block_delta\ndata: {oops\n\n",
            spec(Dialect::OpenAi, Dialect::Anthropic),
            StreamFault::InvalidEvent,
        ),
    ];
    for (body, s, fault) in cases {
        assert_eq!(pump(s, body.as_bytes(), 5).1, Err(fault), "{body}");
    }
}

#[test]
fn an_event_that_never_ends_is_refused_past_the_cap() {
    let mut p = EventPump::new(spec(Dialect::OpenAi, Dialect::OpenAi));
    let mut out = Vec::new();
    p.feed(b"data: {\"a\":\"", &mut out).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut result = Ok(());
    for _ in 0..5 {
        result = p.feed(&chunk, &mut out);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(StreamFault::OversizedEvent));
    assert!(out.is_empty());
}

#[test]
fn error_event_ends_a_stream_in_the_client_s_dialect() {
    let mut out = Vec::new();
    error_event(Dialect::Anthropic, "m", StreamFault::Unfinished.as_str(), None, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("event: error") && text.contains("without finishing"), "{text}");
    let mut out = Vec::new();
    error_event(Dialect::OpenAi, "m", "boom", None, &mut out);
    assert!(String::from_utf8(out).unwrap().contains("boom"));
}

#[test]
fn a_stream_cut_short_is_charged_its_prompt_and_the_text_relayed() {
    // Each body cut just before its usage: OpenAI's usage chunk, Anthropic's message_delta.
    let openai_cut = &OPENAI[..OPENAI
        .find("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[]")
        .unwrap()];
    let anthropic_cut = &ANTHROPIC[..ANTHROPIC.find("event: message_delta").unwrap()];
    for (client, upstream, body, prompt) in [
        (Dialect::OpenAi, Dialect::OpenAi, openai_cut, 30),
        (Dialect::Anthropic, Dialect::OpenAi, openai_cut, 30),
        // Anthropic sends the prompt's count first: it is used rather than the estimate.
        (Dialect::Anthropic, Dialect::Anthropic, anthropic_cut, 9),
        (Dialect::OpenAi, Dialect::Anthropic, anthropic_cut, 9),
    ] {
        for collect in [false, true] {
            let mut p = EventPump::new(PumpSpec { collect, ..spec(client, upstream) });
            let mut out = Vec::new();
            p.feed(body.as_bytes(), &mut out).unwrap();
            let u = p.usage_so_far(30);
            // "Hello" is 5 bytes: 2 tokens at four bytes a token.
            assert_eq!((u.prompt, u.completion), (prompt, 2), "{client:?} from {upstream:?}, collect {collect}");
        }
    }
}

#[test]
fn text_values_are_measured_without_parsing() {
    let cases: [(&[u8], usize); 6] = [
        (br#"{"choices":[{"delta":{"content":"Hello"}}]}"#, 5),
        (br#"{"choices":[{"delta":{"content": "a\"b"}}]}"#, 4),
        (br#"{"delta":{"type":"text_delta","text":"abc"}}"#, 3),
        (br#"{"delta":{"type":"input_json_delta","partial_json":"{\"x\":1}"}}"#, 9),
        (br#"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{}"}}]}}]}"#, 2),
        (br#"{"choices":[{"delta":{"content":null}}],"text":"unterminated"#, 0),
    ];
    for (data, want) in cases {
        assert_eq!(text_value_bytes(data), want, "{}", String::from_utf8_lossy(data));
    }
}

#[test]
fn reported_model_replaces_the_upstreams_in_passed_and_translated_events() {
    let openai = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    for client in [Dialect::OpenAi, Dialect::Anthropic] {
        let mut p = EventPump::new(PumpSpec { report_model: Some("auto"), ..spec(client, Dialect::OpenAi) });
        let mut out = Vec::new();
        p.feed(openai.as_bytes(), &mut out).unwrap();
        p.end(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\"model\":\"auto\""), "{client:?}: {text}");
        assert!(!text.contains("gpt-4o-2024"), "{client:?}: {text}");
    }
}
