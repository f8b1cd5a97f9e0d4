//! The console's files, compiled into the binary (`crates/switchyard-gateway/ui/`; the
//! charting library is vendored there from npm by `ui/vendor.sh`, which also checks it).

const INDEX: &[u8] = include_bytes!("../../../ui/index.html");
const APP_JS: &[u8] = include_bytes!("../../../ui/app.js");
const APP_CSS: &[u8] = include_bytes!("../../../ui/app.css");
const UPLOT_JS: &[u8] = include_bytes!("../../../ui/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &[u8] = include_bytes!("../../../ui/vendor/uPlot.min.css");

/// Shown instead of the console to a client that is neither on loopback nor holds the key.
pub const LOGIN_PAGE: &[u8] = br#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>switchyard console: admin key needed</title>
<link rel="icon" href="data:,"></head>
<body><main><h1>switchyard console</h1>
<p>From this address the console needs the gateway's admin key.</p>
<form method="post" action="/ui/login"><label for="token">Admin key</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Open the console</button></form></main></body></html>
"#;

/// The content type and bytes of a console file.
pub fn find(path: &str) -> Option<(&'static str, &'static [u8])> {
    Some(match path {
        "/ui" | "/ui/" | "/ui/index.html" => ("text/html; charset=utf-8", INDEX),
        "/ui/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/ui/app.css" => ("text/css; charset=utf-8", APP_CSS),
        "/ui/vendor/uPlot.iife.min.js" => ("text/javascript; charset=utf-8", UPLOT_JS),
        "/ui/vendor/uPlot.min.css" => ("text/css; charset=utf-8", UPLOT_CSS),
        _ => return None,
    })
}
