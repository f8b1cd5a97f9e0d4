"""Child processes for the Python test suites (tests/sdk, tests/console): a process whose output
lines are collected so a test can wait for one by regex, and a free loopback port.

Every wait has a timeout, and `stop` terminates, then kills, so a broken gateway fails a test
instead of hanging the run."""

import os
import re
import socket
import subprocess
import threading
import time

START_TIMEOUT = 30  # seconds for a process to print the line a test waits for


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process whose stderr (and stdout) lines are collected; `wait_for` finds one by regex."""

    def __init__(self, args, env=None):
        self.args = args
        self.lines = []
        self.cond = threading.Condition()
        self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={**os.environ, **(env or {})})
        self.pumps = [threading.Thread(target=self._pump, args=(f,), daemon=True) for f in (self.p.stdout, self.p.stderr)]
        for t in self.pumps:
            t.start()

    def _pump(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, pattern, timeout=START_TIMEOUT):
        """The first match of `pattern` in the output; fails after `timeout` s or when the process ends."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        with self.cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    state = f"exited {self.p.returncode}" if self.p.poll() is not None else f"no match in {timeout} s"
                    raise AssertionError(f"{pattern!r} not seen ({state}) from {self.args}; output:\n" + "\n".join(self.lines[-40:]))
                self.cond.wait(min(left, 0.2))

    def output(self):
        with self.cond:
            return "\n".join(self.lines)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        for t in self.pumps:
            t.join(5)
        for f in (self.p.stdout, self.p.stderr):
            f.close()
