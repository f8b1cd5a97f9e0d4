//! The `switchyard` binary: the gateway, `--check`, and `demo`.

use std::process::ExitCode;

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

mod demo;
mod tools;
mod train;

use switchyard_gateway::error;

const USAGE: &str = "usage:
  switchyard --config FILE [--listen ADDR] [--workers N] [--admin ADDR]   run the gateway
  switchyard --check --config FILE                          validate a config and exit
  switchyard demo [--listen ADDR] [--admin ADDR]            gateway + mock providers, console at ADDR/ui
  switchyard route --config FILE [--route NAME]             dry run: JSON lines on stdin -> decisions
  switchyard calibrate --config FILE --route NAME --fraction X [--input FILE]
                                                            score threshold for a strong-tier share
  switchyard train-router --data DIR [--out FILE] [--embeddings FILE] [--cv K --repeats N]
                                                           fit the learned router, report held-out or cross-validated APGR
  switchyard keys new                                       a random client/admin key and its hash
  switchyard keys hash                                      hash of the key read from stdin";

struct Args {
    demo: bool,
    check: bool,
    config: Option<String>,
    overrides: switchyard_gateway::Overrides,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args { demo: false, check: false, config: None, overrides: switchyard_gateway::Overrides::default() };
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "demo" => a.demo = true,
            "--check" => a.check = true,
            "--config" | "-c" => a.config = Some(value()?),
            "--listen" => a.overrides.listen = Some(value()?),
            "--admin" => a.overrides.admin_listen = Some(value()?),
            "--workers" => {
                let v = value()?;
                a.overrides.workers = Some(v.parse().map_err(|_| format!("--workers: invalid number `{v}`"))?);
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    no_huge_pages();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match argv.first().map(String::as_str) {
        Some("train-router") => return finish(train::run(&argv[1..])),
        Some("route") => return finish(tools::route(&argv[1..])),
        Some("calibrate") => return finish(tools::calibrate(&argv[1..])),
        Some("keys") => return finish(tools::keys(&argv[1..])),
        _ => {}
    }
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = if args.demo {
        demo::run(args.overrides)
    } else {
        let Some(path) = args.config else {
            eprintln!("--config FILE is required\n{USAGE}");
            return ExitCode::from(2);
        };
        let source = switchyard_gateway::Source::File(path.clone().into());
        if args.check { check(&source, &path) } else { switchyard_gateway::run(source, args.overrides) }
    };
    finish(result)
}

/// Turns transparent huge pages off for this process. mimalloc marks its arena
/// `MADV_HUGEPAGE`, so memory arrives 2 MiB per fault: the worker stalls while each huge page
/// is zeroed (1,000 new streams on a fresh gateway: time to first token +2 ms at the p50) and
/// RSS rounds up. With 4 KiB pages that is gone (see README, "Streaming").
fn no_huge_pages() {
    // SAFETY: prctl with integer arguments; it only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn check(source: &switchyard_gateway::Source, path: &str) -> Result<(), String> {
    println!("{path}: {}", switchyard_gateway::check(source)?);
    Ok(())
}
