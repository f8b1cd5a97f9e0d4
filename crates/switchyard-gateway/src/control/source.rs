//! Where the configuration comes from: a file (with `${VAR}` expansion) or the demo's text,
//! its hash, and the files it names, read relative to it.

use switchyard_config::Config;

/// Where the configuration comes from, so SIGHUP can read it again.
pub enum Source {
    /// A file path.
    File(std::path::PathBuf),
    /// Text with its own variables and files (the demo).
    Inline {
        /// TOML text.
        text: String,
        /// Variables that override the environment.
        vars: Vec<(String, String)>,
        /// Files the text names, built into the binary.
        files: Vec<(&'static str, &'static [u8])>,
    },
}

impl Source {
    /// Reads and validates the configuration.
    pub fn load(&self) -> Result<Config, String> {
        match self {
            Source::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Config::parse_with_process_env(&text).map_err(|e| e.to_string())
            }
            Source::Inline { text, vars, .. } => Config::parse(text, &|k| {
                vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).or_else(|| std::env::var(k).ok())
            })
            .map_err(|e| e.to_string()),
        }
    }
}

impl Source {
    /// FNV-1a of the configuration text, hex (the `switchyard_config_info` label).
    pub fn hash(&self) -> String {
        let text = match self {
            Source::File(path) => std::fs::read(path).unwrap_or_default(),
            Source::Inline { text, .. } => text.clone().into_bytes(),
        };
        let h = text.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        format!("{h:016x}")
    }

    /// Reads a file the config names; relative names are relative to the config file.
    pub fn read_file(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = match self {
            Source::File(cfg) => {
                let p = std::path::Path::new(name);
                if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    cfg.parent().unwrap_or(std::path::Path::new(".")).join(p)
                }
            }
            Source::Inline { files, .. } => {
                if let Some((_, bytes)) = files.iter().find(|(n, _)| *n == name) {
                    return Ok(bytes.to_vec());
                }
                name.into()
            }
        };
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// Command-line overrides of `[server]`.
#[derive(Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--workers`.
    pub workers: Option<usize>,
    /// `--admin ADDR`: the admin listener (and console) there, `[admin]` or not.
    pub admin_listen: Option<String>,
}

/// Applies the command-line overrides and validates the result.
pub fn apply(cfg: &mut Config, o: &Overrides) -> Result<(), String> {
    if let Some(l) = &o.listen {
        cfg.server.listen = l.clone();
    }
    if let Some(w) = o.workers {
        cfg.server.workers = w;
    }
    if let Some(a) = &o.admin_listen {
        match &mut cfg.admin {
            Some(admin) => admin.listen = a.clone(),
            None => {
                cfg.admin = Some(switchyard_config::AdminConfig {
                    listen: a.clone(),
                    allow_remote: false,
                    key_hash: None,
                    console: true,
                })
            }
        }
    }
    cfg.validate().map_err(|e| e.to_string())
}
