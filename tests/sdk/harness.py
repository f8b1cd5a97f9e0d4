"""Starts mock-llm and the gateway as processes on free ports for SDK tests."""

import os
import re
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SWITCHYARD_BIN_DIR", os.path.join(ROOT, "target", "debug"))


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


def start_stack(mock_args=()):
    """Returns (mock, gateway, base_url of the gateway's /v1)."""
    mock = Proc([os.path.join(BIN, "mock-llm"), "--listen", "127.0.0.1:0", *mock_args])
    mock_url = mock.wait_for(r"listening on (\S+)").group(1)
    cfg = os.path.join(ROOT, "examples", "mock.toml")
    gw = Proc([os.path.join(BIN, "switchyard"), "--config", cfg, "--listen", "127.0.0.1:0"],
              env={"MOCK_URL": mock_url})
    addr = gw.wait_for(r"listening on http://(\S+)").group(1)
    return mock, gw, f"http://{addr}/v1"
