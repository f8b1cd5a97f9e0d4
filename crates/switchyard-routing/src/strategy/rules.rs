//! Rules: conditions on the request; the first rule whose conditions all hold decides.

use regex::Regex;

use super::{Pick, Signals};
use switchyard_config::RuleConfig;
use switchyard_wire::view::RequestView;

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// Name reported in decisions (`rules[i]` when unnamed).
    pub name: String,
    cfg: RuleConfig,
    keywords: Vec<memchr::memmem::Finder<'static>>,
    regex: Option<Regex>,
    system_regex: Option<Regex>,
    /// Where a match sends the request.
    pub pick: Pick,
}

impl Rule {
    /// Compiles a validated rule.
    pub fn compile(index: usize, cfg: &RuleConfig, pick: Pick) -> Rule {
        let re = |r: &Option<String>| r.as_deref().map(|r| Regex::new(r).expect("validated"));
        Rule {
            name: cfg.name.clone().unwrap_or_else(|| format!("rules[{index}]")),
            // Precompiled SIMD searchers: three keywords over 1 KB took ~250 ns with str::contains.
            keywords: cfg
                .keywords
                .iter()
                .map(|k| memchr::memmem::Finder::new(k.to_ascii_lowercase().as_bytes()).into_owned())
                .collect(),
            regex: re(&cfg.regex),
            system_regex: re(&cfg.system_regex),
            cfg: cfg.clone(),
            pick,
        }
    }

    /// The rule's conditions in words (`has_code, min_tokens 8000`).
    pub fn conditions(&self) -> String {
        let c = &self.cfg;
        let mut out: Vec<String> = Vec::new();
        let mut num = |name: &str, v: Option<usize>| {
            if let Some(v) = v {
                out.push(format!("{name} {v}"));
            }
        };
        num("min_tokens", c.min_tokens);
        num("max_tokens", c.max_tokens);
        num("min_messages", c.min_messages);
        num("max_messages", c.max_messages);
        for (name, v) in [("has_code", c.has_code), ("has_tools", c.has_tools)] {
            if let Some(v) = v {
                out.push(format!("{name} = {v}"));
            }
        }
        if !c.keywords.is_empty() {
            out.push(format!("keywords {}", c.keywords.join(", ")));
        }
        for (name, v) in [("regex", &c.regex), ("system_regex", &c.system_regex)] {
            if let Some(v) = v {
                out.push(format!("{name} /{v}/"));
            }
        }
        if let Some(h) = &c.header {
            out.push(match &c.header_value {
                Some(v) => format!("header {h} = {v}"),
                None => format!("header {h}"),
            });
        }
        out.extend(c.metadata.iter().map(|(k, v)| format!("metadata {k} = {v}")));
        if out.is_empty() { "always".into() } else { out.join(", ") }
    }

    /// Whether every condition holds; cheap checks run first.
    pub fn matches(&self, v: &RequestView, s: &Signals, header: &dyn Fn(&str) -> Option<String>) -> bool {
        let c = &self.cfg;
        let tokens = v.estimated_tokens();
        if c.min_tokens.is_some_and(|m| tokens < m)
            || c.max_tokens.is_some_and(|m| tokens > m)
            || c.min_messages.is_some_and(|m| v.messages < m)
            || c.max_messages.is_some_and(|m| v.messages > m)
            || c.has_tools.is_some_and(|t| t != v.has_tools)
            || c.has_code.is_some_and(|t| t != s.has_code)
        {
            return false;
        }
        if !c.metadata.iter().all(|(k, val)| v.metadata.iter().any(|(mk, mv)| mk == k && mv == val)) {
            return false;
        }
        if let Some(h) = &c.header {
            match (header(h), &c.header_value) {
                (None, _) => return false,
                (Some(got), Some(want)) if &got != want => return false,
                _ => {}
            }
        }
        if !self.keywords.is_empty() && !self.keywords.iter().any(|k| k.find(s.lower.as_bytes()).is_some()) {
            return false;
        }
        if self.regex.as_ref().is_some_and(|r| !r.is_match(&v.last_user)) {
            return false;
        }
        if self.system_regex.as_ref().is_some_and(|r| !r.is_match(&v.system)) {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(cfg: RuleConfig) -> Rule {
        Rule::compile(0, &cfg, Pick::Tier(1))
    }

    fn check(r: &Rule, v: &RequestView, hdr: Option<&str>) -> bool {
        let mut s = Signals::default();
        s.fill(&v.last_user);
        let h = hdr.map(str::to_string);
        r.matches(v, &s, &move |name| if name == "x-team" { h.clone() } else { None })
    }

    #[test]
    fn each_condition_can_reject() {
        let long = RequestView::from_prompt("r", &"word ".repeat(1000));
        let short = RequestView::from_prompt("r", "Hi there");
        let r = rule(RuleConfig { min_tokens: Some(1000), ..Default::default() });
        assert!(check(&r, &long, None) && !check(&r, &short, None));
        let r = rule(RuleConfig { max_tokens: Some(10), ..Default::default() });
        assert!(!check(&r, &long, None) && check(&r, &short, None));

        let code = RequestView::from_prompt("r", "Fix this:\n```\nfn main() {}\n```");
        let r = rule(RuleConfig { has_code: Some(true), ..Default::default() });
        assert!(check(&r, &code, None) && !check(&r, &short, None));

        let r = rule(RuleConfig { keywords: vec!["PROOF".into(), "theorem".into()], ..Default::default() });
        assert!(check(&r, &RequestView::from_prompt("r", "Give a proof that..."), None));
        assert!(!check(&r, &short, None));

        let r = rule(RuleConfig { regex: Some(r"^(?i)translate\b".into()), ..Default::default() });
        assert!(check(&r, &RequestView::from_prompt("r", "Translate this"), None));
        assert!(!check(&r, &RequestView::from_prompt("r", "Please translate"), None));

        let r = rule(RuleConfig {
            header: Some("x-team".into()),
            header_value: Some("research".into()),
            ..Default::default()
        });
        assert!(check(&r, &short, Some("research")));
        assert!(!check(&r, &short, Some("sales")) && !check(&r, &short, None));

        let mut sys = RequestView::from_prompt("r", "hi");
        sys.system = "You are a legal assistant".into();
        let r = rule(RuleConfig { system_regex: Some("legal".into()), ..Default::default() });
        assert!(check(&r, &sys, None) && !check(&r, &short, None));

        let mut tools = RequestView::from_prompt("r", "hi");
        tools.has_tools = true;
        tools.messages = 6;
        tools.metadata = vec![("tier".into(), "gold".into())];
        let r = rule(RuleConfig { has_tools: Some(true), min_messages: Some(5), ..Default::default() });
        assert!(check(&r, &tools, None) && !check(&r, &short, None));
        let r = rule(RuleConfig { metadata: [("tier".to_string(), "gold".to_string())].into(), ..Default::default() });
        assert!(check(&r, &tools, None) && !check(&r, &short, None));
    }

    #[test]
    fn all_conditions_must_hold() {
        let r = rule(RuleConfig { keywords: vec!["proof".into()], max_tokens: Some(5), ..Default::default() });
        assert!(check(&r, &RequestView::from_prompt("r", "proof"), None));
        assert!(!check(&r, &RequestView::from_prompt("r", &format!("proof {}", "x".repeat(100))), None));
        assert_eq!(r.name, "rules[0]");
    }
}
