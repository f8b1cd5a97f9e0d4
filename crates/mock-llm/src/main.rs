//! `mock-llm`: a mock LLM provider process (see `mock_llm::MockConfig` for the flags).

use std::process::ExitCode;

use mock_llm::MockConfig;

const USAGE: &str = "usage: mock-llm [--listen ADDR] [--threads N] [--latency-ms N] [--tokens N]
                [--token-interval-ms N] [--fail-status CODE --fail-rate P] [--drop-after N]
                [--reset-after N] [--stall-after N] [--malformed-after N] [--malformed-json]
                [--answer TEXT] [--logprob X]
                [--hang-rate P] [--tls [--cert-out PATH]] [--require-key KEY] [--close-delimited]
                [--stamp]";

fn parse(args: &[String]) -> Result<(MockConfig, Option<String>), String> {
    let mut cfg = MockConfig::default();
    let mut cert_out = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut val = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{flag}: invalid value `{v}`"))
        }
        match flag.as_str() {
            "--listen" => cfg.listen = num(flag, val()?)?,
            "--threads" => cfg.threads = num(flag, val()?)?,
            "--latency-ms" => cfg.latency_ms = num(flag, val()?)?,
            "--tokens" => cfg.tokens = num(flag, val()?)?,
            "--token-interval-ms" => cfg.token_interval_ms = num(flag, val()?)?,
            "--fail-status" => cfg.fail_status = num(flag, val()?)?,
            "--fail-rate" => cfg.fail_rate = num(flag, val()?)?,
            "--drop-after" => cfg.drop_after = Some(num(flag, val()?)?),
            "--reset-after" => cfg.reset_after = Some(num(flag, val()?)?),
            "--stall-after" => cfg.stall_after = Some(num(flag, val()?)?),
            "--malformed-after" => cfg.malformed_after = Some(num(flag, val()?)?),
            "--malformed-json" => cfg.malformed_json = true,
            "--answer" => cfg.answer = Some(val()?),
            "--logprob" => cfg.logprob = num(flag, val()?)?,
            "--hang-rate" => cfg.hang_rate = num(flag, val()?)?,
            "--tls" => cfg.tls = true,
            "--cert-out" => cert_out = Some(val()?),
            "--require-key" => cfg.require_key = Some(val()?),
            "--close-delimited" => cfg.close_delimited = true,
            "--stamp" => cfg.stamp = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    if !(0.0..=1.0).contains(&cfg.fail_rate) || !(0.0..=1.0).contains(&cfg.hang_rate) {
        return Err("rates must be within 0..=1".into());
    }
    Ok((cfg, cert_out))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cfg, cert_out) = match parse(&args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let server = match mock_llm::start(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mock-llm: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let (Some(path), Some(pem)) = (cert_out, &server.cert_pem)
        && let Err(e) = std::fs::write(&path, pem)
    {
        eprintln!("mock-llm: cannot write {path}: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("mock-llm listening on {}", server.base_url());
    loop {
        std::thread::park();
    }
}
