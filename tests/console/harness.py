"""Processes for the console's browser tests: mock-llm and the gateway on free loopback ports,
and Debian's headless Chromium driven by Selenium (its driver manager kept offline)."""

import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SWITCHYARD_BIN_DIR", os.path.join(ROOT, "target", "debug"))
ADMIN_KEY = "sk-console-test-admin-0123456789"


class Proc:
    """A child process whose stderr is collected; `wait_for` finds a line by regex."""

    def __init__(self, args, env=None):
        self.lines = []
        self.cond = threading.Condition()
        self.p = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                  env={**os.environ, **(env or {})})
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, pattern, timeout=20):
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        with self.cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.time()
                if left <= 0 or self.p.poll() is not None:
                    raise RuntimeError(f"{pattern!r} not seen; log: {self.lines}")
                self.cond.wait(left)

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()


def admin_key_hash():
    out = subprocess.run([os.path.join(BIN, "switchyard"), "keys", "hash"], input=ADMIN_KEY, text=True,
                         capture_output=True, check=True, timeout=20)
    return re.search(r"sha256:[0-9a-f]{64}", out.stdout + out.stderr).group(0)


def demo_config(extra=""):
    """examples/mock.toml copied to a temp dir (its model paths made absolute), plus `extra`."""
    with open(os.path.join(ROOT, "examples", "mock.toml")) as f:
        text = f.read()
    text = text.replace('"../models/', '"' + os.path.join(ROOT, "models") + "/")
    path = os.path.join(tempfile.mkdtemp(prefix="switchyard-console-"), "gateway.toml")
    with open(path, "w") as f:
        f.write(text + "\n" + extra)
    return path


class Stack:
    """mock-llm and a gateway on `config` (default: the demo's), with the admin listener."""

    def __init__(self, config=None, mock_args=(), admin="127.0.0.1:0"):
        self.mock = Proc([os.path.join(BIN, "mock-llm"), "--listen", "127.0.0.1:0", *mock_args])
        self.mock_url = self.mock.wait_for(r"listening on (\S+)").group(1)
        self.config = config or demo_config()
        args = [os.path.join(BIN, "switchyard"), "--config", self.config, "--listen", "127.0.0.1:0"]
        if admin:
            args += ["--admin", admin]
        self.gw = Proc(args, env={"MOCK_URL": self.mock_url})
        self.addr = self.gw.wait_for(r"switchyard listening on http://(\S+)").group(1)
        self.admin = self.gw.wait_for(r"admin listening on http://(\S+)").group(1)
        self.console = self.gw.wait_for(r"console on (\S+)").group(1)

    def chat(self, model, prompt, headers=None):
        """A chat request through the gateway: (status, response headers, JSON body)."""
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}]}).encode()
        req = urllib.request.Request(f"http://{self.addr}/v1/chat/completions", data=body,
                                     headers={"content-type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), json.loads(e.read() or b"{}")

    def api(self, path):
        with urllib.request.urlopen(f"http://{self.admin}/ui/api/{path}", timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.gw.stop()
        self.mock.stop()


def browser():
    """Headless Chromium from Debian's packages, with the browser log readable."""
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
              "--disable-gpu", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)


def wait_until(fn, timeout, what):
    """Polls `fn` until it returns a true value; fails after `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        try:
            v = fn()
        except Exception:  # the element may not be there yet
            v = None
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
