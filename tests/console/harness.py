"""Processes for the console's browser tests: mock-llm and the gateway on free loopback ports,
and Debian's headless Chromium driven by Selenium (its driver manager kept offline).

Every wait here has a timeout, and every process started is stopped (terminated, then killed)
by its owner's teardown, so a broken gateway fails a test instead of hanging the run."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from procs import Proc, free_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SWITCHYARD_BIN_DIR", os.path.join(ROOT, "target", "debug"))
SWITCHYARD = os.path.join(BIN, "switchyard")
MOCK_LLM = os.path.join(BIN, "mock-llm")
ADMIN_KEY = "sk-console-test-admin-0123456789abcdef"


def start_mock(*args):
    """mock-llm on a free port: (Proc, base URL)."""
    mock = Proc([MOCK_LLM, "--listen", f"127.0.0.1:{free_port()}", *args])
    url = mock.wait_for(r"listening on (http://\S+)").group(1)
    return mock, url.rstrip("/")


_hash = None


def admin_key_hash():
    """`sha256:...` of ADMIN_KEY, as `switchyard keys hash` prints it for the key on stdin."""
    global _hash
    if _hash is None:
        out = subprocess.run([SWITCHYARD, "keys", "hash"], input=ADMIN_KEY + "\n", text=True, capture_output=True,
                             check=True, timeout=30)
        _hash = re.search(r"sha256:[0-9a-f]{64}", out.stdout + out.stderr).group(0)
    return _hash


def admin_table(listen="127.0.0.1:0", allow_remote=False):
    lines = ["[admin]", f'listen = "{listen}"', f'key_hash = "{admin_key_hash()}"']
    if allow_remote:
        lines.append("allow_remote = true")
    return "\n".join(lines) + "\n"


def demo_config(extra="", admin=None):
    """examples/mock.toml in a temp dir, its relative paths (`../models/...`, relative to the
    config's folder) made absolute, with an `[admin]` table (`admin`, default loopback port 0)
    and `extra` appended. Returns the config's path; its folder holds the test's other files."""
    with open(os.path.join(ROOT, "examples", "mock.toml")) as f:
        text = f.read()
    examples = os.path.join(ROOT, "examples")
    text = re.sub(r'"(\.\./[^"]+)"', lambda m: json.dumps(os.path.normpath(os.path.join(examples, m.group(1)))), text)
    return write_config(text + "\n" + (admin if admin is not None else admin_table()) + extra)


def write_config(text):
    folder = tempfile.mkdtemp(prefix="switchyard-console-")
    path = os.path.join(folder, "gateway.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


class Gateway:
    """`switchyard --config FILE --listen 127.0.0.1:0` with MOCK_URL set; the client and admin
    addresses read from its log."""

    def __init__(self, config, mock_url, admin_listen=True):
        self.config, self.mock_url = config, mock_url
        self.env = {"MOCK_URL": mock_url}
        self.proc = Proc([SWITCHYARD, "--config", config, "--listen", "127.0.0.1:0"], env=self.env)
        self.addr = self.proc.wait_for(r"switchyard listening on http://(\S+)").group(1)
        self.admin = self.proc.wait_for(r"admin listening on http://(\S+)").group(1) if admin_listen else None
        # The admin listener may be on 0.0.0.0: the browser goes to loopback.
        self.console = f"http://127.0.0.1:{self.admin.rsplit(':', 1)[1]}/ui" if self.admin else None

    def chat(self, model, prompt, headers=None):
        return chat(self.addr, model, prompt, headers)

    def api(self, path):
        return get_json(f"{self.console}/api/{path}")

    def cli(self, *args, stdin=""):
        """`switchyard ARGS` with this gateway's environment: CompletedProcess."""
        return subprocess.run([SWITCHYARD, *args], input=stdin, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **self.env})

    def stop(self):
        self.proc.stop()


class Stack:
    """mock-llm plus a gateway on `config` (default: the demo's with an [admin] table)."""

    def __init__(self, config=None, mock_args=()):
        self.mock, self.mock_url = start_mock(*mock_args)
        try:
            self.gw = Gateway(config or demo_config(), self.mock_url)
        except BaseException:
            self.mock.stop()
            raise
        self.config, self.addr, self.admin, self.console = self.gw.config, self.gw.addr, self.gw.admin, self.gw.console

    def chat(self, model, prompt, headers=None):
        return self.gw.chat(model, prompt, headers)

    def api(self, path):
        return self.gw.api(path)

    def stop(self):
        try:
            self.gw.stop()
        finally:
            self.mock.stop()
            shutil.rmtree(os.path.dirname(self.config), ignore_errors=True)


def chat(addr, model, prompt, headers=None):
    """A chat request through the gateway's client listener: (status, headers, JSON body)."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}]}).encode()
    req = urllib.request.Request(f"http://{addr}/v1/chat/completions", data=body,
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read())
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {"raw": raw.decode("utf-8", "replace")}
        return e.code, {k.lower(): v for k, v in e.headers.items()}, data


def get_json(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
        return json.loads(r.read())


def browser():
    """Headless Chromium from Debian's packages (never one Selenium Manager would download),
    1280×800, with the browser's console log readable."""
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
              "--disable-gpu", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(10)
    return driver


def severe(driver):
    """The SEVERE entries of the browser's console log since the last call."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def wait_until(fn, timeout, what):
    """Polls `fn` until it returns a true value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
        except Exception as e:  # the element may not be there yet
            v, last = None, e
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f" (last error: {last!r})" if last else ""))
        time.sleep(0.05)
