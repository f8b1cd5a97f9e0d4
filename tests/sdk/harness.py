"""Starts mock-llm and the gateway as processes on free ports for SDK tests."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from procs import Proc  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SWITCHYARD_BIN_DIR", os.path.join(ROOT, "target", "debug"))


def start_stack(mock_args=()):
    """Returns (mock, gateway, base_url of the gateway's /v1)."""
    mock = Proc([os.path.join(BIN, "mock-llm"), "--listen", "127.0.0.1:0", *mock_args])
    mock_url = mock.wait_for(r"listening on (\S+)").group(1)
    cfg = os.path.join(ROOT, "examples", "mock.toml")
    gw = Proc([os.path.join(BIN, "switchyard"), "--config", cfg, "--listen", "127.0.0.1:0"],
              env={"MOCK_URL": mock_url})
    addr = gw.wait_for(r"listening on http://(\S+)").group(1)
    return mock, gw, f"http://{addr}/v1"
