//! Client (virtual) keys: found by the SHA-256 of the presented secret and confirmed with a
//! constant-time comparison; each carries its allowed routes/models, rate limits and budgets.
//! Usage lives in a registry keyed by key name so a reload keeps the counts.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::limits::{Gcra, Spend, until_period_end, utc_day, utc_month};
use switchyard_config::{Config, parse_key_hash};
use switchyard_wire::api_error::ApiError;

/// SHA-256 of a key's bytes.
pub fn hash_key(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// The config spelling of a hash: `sha256:<hex>`.
pub fn format_key_hash(h: &[u8; 32]) -> String {
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in h {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A client key made from 32 random bytes: `sk-sy-` and 43 base64url characters (256 bits).
pub fn secret_from(raw: &[u8; 32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut key = String::with_capacity(49);
    key.push_str("sk-sy-");
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in raw {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            key.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        key.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    key
}

/// Whether `presented` hashes to `expected`, compared in constant time.
pub fn key_matches(presented: &[u8], expected: &[u8; 32]) -> bool {
    hash_key(presented).ct_eq(expected).into()
}

/// Running totals of one key, shared by every core and kept across reloads.
#[derive(Debug, Default)]
pub struct KeyUsage {
    requests: Gcra,
    tokens: Gcra,
    daily: Spend,
    monthly: Spend,
    /// Requests admitted.
    pub admitted: AtomicU64,
    /// Requests refused for a rate limit.
    pub rate_limited: AtomicU64,
    /// Requests refused for a budget.
    pub over_budget: AtomicU64,
    /// Requests refused because the key may not use the model.
    pub forbidden: AtomicU64,
    /// Tokens charged.
    pub tokens_total: AtomicU64,
    /// Spend charged, nano-USD.
    pub spend_nusd: AtomicU64,
    /// Spend reserved by requests in flight, nano-USD (released when each one finishes).
    pub reserved_nusd: AtomicU64,
    /// Tokens reserved by requests in flight.
    pub reserved_tokens: AtomicU64,
}

impl KeyUsage {
    pub(crate) fn requests_bucket(&self) -> &Gcra {
        &self.requests
    }
    pub(crate) fn tokens_bucket(&self) -> &Gcra {
        &self.tokens
    }
    pub(crate) fn daily_spend(&self) -> &Spend {
        &self.daily
    }
    pub(crate) fn monthly_spend(&self) -> &Spend {
        &self.monthly
    }
}

/// Usage by key name; only the control plane touches the lock (at compile time).
#[derive(Debug, Default)]
pub struct KeyRegistry {
    map: Mutex<HashMap<String, Arc<KeyUsage>>>,
}

impl KeyRegistry {
    /// The usage of key `name`, created on first sight.
    pub fn get(&self, name: &str) -> Arc<KeyUsage> {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(name.to_string()).or_default().clone()
    }

    /// Every key's spend: (name, day, day nano-USD, month, month nano-USD).
    pub fn spend_snapshot(&self) -> Vec<(String, u64, u64, u64, u64)> {
        let m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = m
            .iter()
            .map(|(k, u)| {
                let (d, dn) = u.daily.snapshot();
                let (mo, mn) = u.monthly.snapshot();
                (k.clone(), d, dn, mo, mn)
            })
            .collect();
        v.sort();
        v
    }

    /// Restores a key's saved spend.
    pub fn restore_spend(&self, name: &str, day: u64, day_nusd: u64, month: u64, month_nusd: u64) {
        let u = self.get(name);
        u.daily.restore(day, day_nusd);
        u.monthly.restore(month, month_nusd);
    }
}

/// One configured client key.
#[derive(Debug)]
pub struct ClientKey {
    /// The key's name in config (safe to log; the secret never is).
    pub name: String,
    hash: [u8; 32],
    /// Allowed routes/models; empty means all.
    models: Vec<String>,
    rpm: Option<u64>,
    tpm: Option<u64>,
    daily_nusd: Option<u64>,
    monthly_nusd: Option<u64>,
    /// The key's routing headers are honoured.
    pub routing_headers: bool,
    /// Shared totals.
    pub usage: Arc<KeyUsage>,
}

/// Clock readings admission needs: a monotonic ns clock for rates, wall-clock ms for budgets.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Monotonic nanoseconds.
    pub mono_ns: u64,
    /// Unix milliseconds.
    pub unix_ms: u64,
}

fn ns_to_retry_s(ns: u64) -> u64 {
    ns.div_ceil(1_000_000_000)
}

impl ClientKey {
    /// Whether the key's allow-list names `model` (a model or route name); an empty list or
    /// `*` allows everything.
    pub fn may_use(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == "*" || m == model)
    }

    /// Whether the key has a tokens-per-minute limit or a budget (its requests then reserve).
    pub fn has_limits(&self) -> bool {
        self.tpm.is_some() || self.daily_nusd.is_some() || self.monthly_nusd.is_some()
    }

    /// Requests per minute.
    pub fn rpm(&self) -> Option<u64> {
        self.rpm
    }

    /// Tokens per minute.
    pub fn tpm(&self) -> Option<u64> {
        self.tpm
    }

    /// Requests and tokens of the last minute's allowance in use (0 for a limit not set).
    pub fn minute_used(&self, now: Now) -> (u64, u64) {
        let u = &*self.usage;
        (self.rpm.map_or(0, |l| u.requests.used(now.mono_ns, l)), self.tpm.map_or(0, |l| u.tokens.used(now.mono_ns, l)))
    }

    /// Daily and monthly budgets in USD.
    pub fn budgets_usd(&self) -> (Option<f64>, Option<f64>) {
        (self.daily_nusd.map(|n| n as f64 / 1e9), self.monthly_nusd.map(|n| n as f64 / 1e9))
    }

    /// The key's hash (not secret: it identifies the key in the fleet store and in revocations).
    pub fn hash(&self) -> &[u8; 32] {
        &self.hash
    }

    /// Whether the key has an allow-list at all.
    pub fn is_restricted(&self) -> bool {
        !self.models.is_empty() && !self.models.iter().any(|m| m == "*")
    }

    /// Admits one request for `model` (route or model name) or says why not: 403, 429 with
    /// `retry-after`, or 402.
    pub fn admit(&self, model: &str, now: Now) -> Result<(), ApiError> {
        let u = &*self.usage;
        if !self.may_use(model) {
            u.forbidden.fetch_add(1, Relaxed);
            return Err(ApiError::status(403, format!("This API key may not use the model `{model}`.")));
        }
        let (to_day, to_month) = until_period_end(now.unix_ms);
        for (limit, spend, period, label, reset) in [
            (self.daily_nusd, &u.daily, utc_day(now.unix_ms), "daily", to_day),
            (self.monthly_nusd, &u.monthly, utc_month(now.unix_ms), "monthly", to_month),
        ] {
            if let Some(limit) = limit
                && spend.spent(period) >= limit
            {
                u.over_budget.fetch_add(1, Relaxed);
                let mut e = ApiError::status(
                    402,
                    format!(
                        "This API key has used its {label} budget of {}; it resets in {}.",
                        usd(limit),
                        human_duration(reset)
                    ),
                );
                e.retry_after_s = Some(reset);
                return Err(e);
            }
        }
        if let Some(tpm) = self.tpm
            && let Err(wait) = u.tokens.check(now.mono_ns, tpm)
        {
            u.rate_limited.fetch_add(1, Relaxed);
            return Err(ApiError::rate_limited(
                format!("Rate limit reached: {tpm} tokens per minute for this API key."),
                ns_to_retry_s(wait),
            ));
        }
        self.take_request(now)?;
        u.admitted.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Admits one feedback record under the key's requests per minute (feedback is rate
    /// limited like chat, so a key refused chat cannot flood the decision log instead).
    pub fn admit_feedback(&self, now: Now) -> Result<(), ApiError> {
        self.take_request(now)
    }

    /// Takes one request from the key's requests per minute, or says when one fits (429).
    fn take_request(&self, now: Now) -> Result<(), ApiError> {
        let u = &*self.usage;
        if let Some(rpm) = self.rpm
            && let Err(wait) = u.requests.acquire(now.mono_ns, rpm, 1)
        {
            u.rate_limited.fetch_add(1, Relaxed);
            return Err(ApiError::rate_limited(
                format!("Rate limit reached: {rpm} requests per minute for this API key."),
                ns_to_retry_s(wait),
            ));
        }
        Ok(())
    }

    /// Reserves a request's most it can cost, `tokens` and `nusd`, against the key's tokens per
    /// minute and budgets, or says why not (429, 402). Reservations are taken one at a time
    /// (a compare-and-swap on the reserved amount), so concurrent requests cannot all pass a
    /// check that only one of them fits. The reservation is released when dropped; the request
    /// is charged what it really used through `charge`.
    pub fn reserve(&self, tokens: u64, nusd: u64, now: Now) -> Result<Reservation, ApiError> {
        let u = &*self.usage;
        if let Some(tpm) = self.tpm
            && let Err(wait) = u.tokens.acquire(now.mono_ns, tpm, tokens.min(tpm))
        {
            u.rate_limited.fetch_add(1, Relaxed);
            return Err(ApiError::rate_limited(
                format!(
                    "Rate limit reached: this request may use up to {tokens} tokens, more than this API key's {tpm} tokens per minute leave now."
                ),
                ns_to_retry_s(wait),
            ));
        }
        let limits = [
            (self.daily_nusd, &u.daily, utc_day(now.unix_ms)),
            (self.monthly_nusd, &u.monthly, utc_month(now.unix_ms)),
        ];
        let taken = u.reserved_nusd.fetch_update(Relaxed, Relaxed, |reserved| {
            let fits = limits
                .iter()
                .all(|(limit, spend, period)| limit.is_none_or(|l| spend.spent(*period) + reserved + nusd <= l));
            fits.then_some(reserved + nusd)
        });
        if taken.is_err() {
            if let Some(tpm) = self.tpm {
                u.tokens.refund(tpm, tokens.min(tpm));
            }
            u.over_budget.fetch_add(1, Relaxed);
            let (to_day, _) = until_period_end(now.unix_ms);
            let mut e = ApiError::status(
                402,
                format!(
                    "This request could cost up to {}, more than is left of this API key's budget; lower max_tokens or wait for the budget to reset.",
                    usd(nusd)
                ),
            );
            e.retry_after_s = Some(to_day);
            return Err(e);
        }
        u.reserved_tokens.fetch_add(tokens, Relaxed);
        Ok(Reservation { usage: self.usage.clone(), tpm: self.tpm, tokens, nusd })
    }

    /// Charges an answered request's tokens and cost.
    pub fn charge(&self, tokens: u64, cost_usd: f64, now: Now) {
        let u = &*self.usage;
        if let Some(tpm) = self.tpm {
            u.tokens.charge(now.mono_ns, tpm, tokens);
        }
        let nusd = (cost_usd.max(0.0) * 1e9) as u64;
        u.daily.add(utc_day(now.unix_ms), nusd);
        u.monthly.add(utc_month(now.unix_ms), nusd);
        u.tokens_total.fetch_add(tokens, Relaxed);
        u.spend_nusd.fetch_add(nusd, Relaxed);
    }

    /// Spend today and this month, USD.
    pub fn spent_usd(&self, unix_ms: u64) -> (f64, f64) {
        let u = &*self.usage;
        (u.daily.spent(utc_day(unix_ms)) as f64 / 1e9, u.monthly.spent(utc_month(unix_ms)) as f64 / 1e9)
    }
}

/// A request's reservation against its key's limits, released when dropped: every way a
/// request ends (answer, error, disconnect, cache hit) drops its `Exchange`, so none leaks.
#[derive(Debug)]
pub struct Reservation {
    usage: Arc<KeyUsage>,
    tpm: Option<u64>,
    tokens: u64,
    nusd: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.usage.reserved_nusd.fetch_sub(self.nusd, Relaxed);
        self.usage.reserved_tokens.fetch_sub(self.tokens, Relaxed);
        if let Some(tpm) = self.tpm {
            // What was used is charged by `charge`; the hold comes back.
            self.usage.tokens.refund(tpm, self.tokens.min(tpm));
        }
    }
}

/// An amount in USD with enough digits to tell small budgets apart ($0.001, not $0.00).
pub fn usd(nusd: u64) -> String {
    let v = nusd as f64 / 1e9;
    if v >= 1.0 || v == 0.0 {
        format!("${v:.2}")
    } else {
        let s = format!("${v:.9}");
        s.trim_end_matches('0').to_string()
    }
}

fn human_duration(s: u64) -> String {
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

/// Every configured client key, looked up by hash.
#[derive(Debug)]
pub struct KeySet {
    /// The keys, in config order.
    pub keys: Vec<ClientKey>,
    /// First 8 bytes of the hash → index; the full hash is then compared in constant time.
    index: HashMap<u64, usize>,
}

/// Why a request carried no usable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `authorization` or `x-api-key` header.
    Missing,
    /// A key that matches none configured.
    Invalid,
}

impl AuthError {
    /// The 401 the client gets (never echoing the presented key).
    pub fn to_api(self) -> ApiError {
        ApiError::status(
            401,
            match self {
                AuthError::Missing => {
                    "You didn't provide an API key. Send it as `Authorization: Bearer <key>` or `x-api-key: <key>`."
                }
                AuthError::Invalid => "Incorrect API key provided.",
            },
        )
    }
}

impl KeySet {
    /// The key set of `cfg` (None when no keys are configured: the gateway is open).
    pub fn compile(cfg: &Config, registry: &KeyRegistry) -> Option<KeySet> {
        if cfg.keys.is_empty() {
            return None;
        }
        let usd = |v: Option<f64>| v.map(|d| (d * 1e9) as u64);
        let mut keys = Vec::with_capacity(cfg.keys.len());
        let mut index = HashMap::with_capacity(cfg.keys.len());
        for (name, k) in &cfg.keys {
            // Validated with the config: a bad hash cannot reach here.
            let hash = parse_key_hash(&k.key_hash).unwrap_or([0; 32]);
            index.insert(prefix(&hash), keys.len());
            keys.push(ClientKey {
                name: name.clone(),
                hash,
                models: k.models.clone(),
                rpm: k.rpm.map(u64::from),
                tpm: k.tpm,
                daily_nusd: usd(k.budget_daily_usd),
                monthly_nusd: usd(k.budget_monthly_usd),
                routing_headers: k.routing_headers,
                usage: registry.get(name),
            });
        }
        Some(KeySet { keys, index })
    }

    /// The key a request presented, from its `authorization: Bearer …` or `x-api-key` value.
    pub fn authenticate(&self, presented: Option<&[u8]>) -> Result<&ClientKey, AuthError> {
        let secret = presented.map(strip_bearer).filter(|s| !s.is_empty()).ok_or(AuthError::Missing)?;
        let h = hash_key(secret);
        let k = self.index.get(&prefix(&h)).map(|&i| &self.keys[i]).ok_or(AuthError::Invalid)?;
        if bool::from(h.ct_eq(&k.hash)) { Ok(k) } else { Err(AuthError::Invalid) }
    }
}

fn prefix(h: &[u8; 32]) -> u64 {
    u64::from_le_bytes(h[..8].try_into().expect("8 bytes"))
}

/// The credential in an `authorization` value (`Bearer x`) or an `x-api-key` value (`x`).
fn strip_bearer(v: &[u8]) -> &[u8] {
    let v = v.trim_ascii();
    match v.get(..6) {
        Some(p) if p.eq_ignore_ascii_case(b"bearer") && v.get(6).is_none_or(u8::is_ascii_whitespace) => {
            v[6..].trim_ascii()
        }
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(keys: &str) -> Config {
        let text = format!(
            r#"
[providers.p]
base_url = "http://127.0.0.1:9/v1"
[models.cheap]
provider = "p"
input_price = 1.0
output_price = 1.0
[models.big]
provider = "p"
{keys}"#
        );
        Config::parse(&text, &|_| None).unwrap()
    }

    fn now(s: u64) -> Now {
        Now { mono_ns: s * 1_000_000_000, unix_ms: 1_795_867_200_000 + s * 1000 }
    }

    #[test]
    fn hash_format_round_trips() {
        let h = hash_key(b"sk-test");
        assert_eq!(parse_key_hash(&format_key_hash(&h)).unwrap(), h);
        // Known SHA-256 of "abc".
        assert_eq!(
            format_key_hash(&hash_key(b"abc")),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn authenticates_by_bearer_or_bare_key() {
        let h = format_key_hash(&hash_key(b"sk-team-a"));
        let cfg = config(&format!("[keys.team-a]\nkey_hash = \"{h}\"\n"));
        let set = KeySet::compile(&cfg, &KeyRegistry::default()).unwrap();
        assert_eq!(set.authenticate(Some(b"Bearer sk-team-a")).unwrap().name, "team-a");
        assert_eq!(set.authenticate(Some(b"sk-team-a")).unwrap().name, "team-a");
        assert_eq!(set.authenticate(Some(b"Bearer sk-team-b")).unwrap_err(), AuthError::Invalid);
        assert_eq!(set.authenticate(Some(b"Bearer ")).unwrap_err(), AuthError::Missing);
        assert_eq!(set.authenticate(None).unwrap_err(), AuthError::Missing);
        assert!(!AuthError::Invalid.to_api().message.contains("sk-"));
    }

    #[test]
    fn models_rates_and_budgets_are_enforced() {
        let h = format_key_hash(&hash_key(b"k"));
        let cfg = config(&format!(
            "[keys.k]\nkey_hash = \"{h}\"\nmodels = [\"cheap\"]\nrpm = 2\ntpm = 1000\nbudget_daily_usd = 0.01\n"
        ));
        let set = KeySet::compile(&cfg, &KeyRegistry::default()).unwrap();
        let k = &set.keys[0];
        assert_eq!(k.admit("big", now(0)).unwrap_err().status, 403);
        assert!(k.admit("cheap", now(0)).is_ok());
        assert!(k.admit("cheap", now(0)).is_ok());
        let e = k.admit("cheap", now(0)).unwrap_err();
        assert_eq!((e.status, e.retry_after_s), (429, Some(30)));
        // 1,200 tokens in: over the per-minute allowance until enough of the minute passes.
        k.charge(1200, 0.002, now(60));
        let e = k.admit("cheap", now(60)).unwrap_err();
        assert_eq!(e.status, 429);
        assert!(e.message.contains("tokens per minute"));
        // Spend past the daily budget: 402 until the next UTC day.
        k.charge(0, 0.02, now(600));
        let e = k.admit("cheap", now(600)).unwrap_err();
        assert_eq!(e.status, 402);
        assert!(e.message.contains("daily budget of $0.01"), "{}", e.message);
        assert!(k.admit("cheap", now(13 * 3600)).is_ok(), "a new UTC day has begun");
    }

    #[test]
    fn usage_survives_a_recompile() {
        let h = format_key_hash(&hash_key(b"k"));
        let cfg = config(&format!("[keys.k]\nkey_hash = \"{h}\"\nrpm = 1\n"));
        let reg = KeyRegistry::default();
        let a = KeySet::compile(&cfg, &reg).unwrap();
        assert!(a.keys[0].admit("cheap", now(0)).is_ok());
        let b = KeySet::compile(&cfg, &reg).unwrap();
        assert_eq!(b.keys[0].admit("cheap", now(0)).unwrap_err().status, 429);
    }
}
