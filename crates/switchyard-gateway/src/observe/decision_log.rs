//! The decision log: one JSON line per request (and per feedback), handed by the workers to a
//! background writer thread through a bounded channel. A worker never waits: when the channel
//! is full the record is dropped and counted.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use switchyard_config::LogConfig;

use crate::observe::console::ConsoleState;

/// Where records go: the configured file, and the console while one is open.
pub struct DecisionLog {
    tx: Sender<String>,
    /// Records dropped because the channel was full.
    pub drops: AtomicU64,
    /// Records written.
    pub written: Arc<AtomicU64>,
    reopen: Arc<AtomicBool>,
    /// Write prompt text too.
    pub include_prompt: bool,
    /// `[log]` is configured (else records are built only while a console is open).
    pub to_file: bool,
    console: Arc<ConsoleState>,
}

impl DecisionLog {
    /// Starts the writer thread for the file of `cfg` and for `console` (when it is served);
    /// None when there is neither.
    pub fn start(cfg: Option<&LogConfig>, console: Option<Arc<ConsoleState>>) -> Result<Option<DecisionLog>, String> {
        let (path, capacity) = match (cfg, &console) {
            (Some(c), _) => (Some(c.decisions.clone()), c.capacity),
            (None, Some(_)) => (None, 4096),
            (None, None) => return Ok(None),
        };
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        let reopen = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        // Without a console its records would only be dropped: a state no one reads.
        let console = console.unwrap_or_default();
        let sink =
            Sink { path: path.clone(), console: console.clone(), reopen: reopen.clone(), written: written.clone() };
        std::thread::Builder::new()
            .name("switchyard-log".into())
            .spawn(move || writer(sink, rx))
            .map_err(|e| format!("log: cannot start the writer thread: {e}"))?;
        Ok(Some(DecisionLog {
            tx,
            drops: AtomicU64::new(0),
            written,
            reopen,
            include_prompt: cfg.is_some_and(|c| c.include_prompt),
            to_file: path.is_some(),
            console,
        }))
    }

    /// Whether records are wanted now: always with a file, else while a console is open (one
    /// relaxed load on the request path).
    pub fn wants(&self) -> bool {
        self.to_file || self.console.watched.load(Relaxed)
    }

    /// Hands a record (one JSON object, no newline) to the writer; never blocks.
    pub fn send(&self, line: String) {
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.drops.fetch_add(1, Relaxed);
            }
        }
    }

    /// Waits (bounded) until queued records are written, so shutdown loses none.
    pub fn drain(&self, timeout: std::time::Duration) {
        let t = std::time::Instant::now();
        while !self.tx.is_empty() && t.elapsed() < timeout {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // The last batch may still be between the channel and the file.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    /// Asks the writer to reopen its file (after logrotate moved it).
    pub fn reopen(&self) {
        self.reopen.store(true, Relaxed);
    }
}

enum Out {
    Stdout(std::io::Stdout),
    File(BufWriter<File>),
}

fn open(path: &str) -> Option<Out> {
    if path == "stdout" {
        return Some(Out::Stdout(std::io::stdout()));
    }
    match OpenOptions::new().create(true).append(true).open(path) {
        Ok(f) => Some(Out::File(BufWriter::with_capacity(64 * 1024, f))),
        Err(e) => {
            crate::error!("log: cannot open {path}: {e}");
            None
        }
    }
}

/// How long the writer sleeps when the queue is empty. It polls instead of blocking in
/// `recv`, because a blocked receiver makes every worker's `try_send` wake it (a futex call
/// and a context switch per request); polling keeps the request path free of syscalls.
const WRITER_TICK: std::time::Duration = std::time::Duration::from_millis(5);

/// The writer thread's ends: the file (if any), the console's ring and the counters.
struct Sink {
    path: Option<String>,
    console: Arc<ConsoleState>,
    reopen: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
}

fn writer(sink: Sink, rx: Receiver<String>) {
    let mut out = sink.path.as_deref().and_then(open);
    loop {
        let first = match rx.try_recv() {
            Ok(line) => line,
            Err(crossbeam_channel::TryRecvError::Empty) => {
                std::thread::sleep(WRITER_TICK);
                continue;
            }
            Err(crossbeam_channel::TryRecvError::Disconnected) => return,
        };
        if sink.reopen.swap(false, Relaxed) {
            out = sink.path.as_deref().and_then(open);
        }
        let watched = sink.console.watched.load(Relaxed);
        // Drain what is queued before one flush: one write syscall for a burst of records.
        let mut n = 0;
        for line in std::iter::once(first).chain(rx.try_iter().take(4096)) {
            let w: Option<&mut dyn Write> = match &mut out {
                Some(Out::Stdout(s)) => Some(s),
                Some(Out::File(f)) => Some(f),
                None => None,
            };
            if let Some(w) = w
                && w.write_all(line.as_bytes()).and_then(|_| w.write_all(b"\n")).is_ok()
            {
                n += 1;
            }
            if watched {
                sink.console.push_record(line);
            }
        }
        if let Some(Out::File(f)) = &mut out {
            let _ = f.flush();
        }
        sink.written.fetch_add(n, Relaxed);
    }
}

/// FNV-1a of the prompt text, hex: lets records of the same prompt be grouped without storing it.
pub fn prompt_hash(system: &str, user: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in system.bytes().chain([0u8]).chain(user.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}
