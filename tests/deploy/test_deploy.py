"""Checks the deploy files: the systemd unit verifies, the manifests and scrape config parse,
and every metric the Grafana dashboard queries exists in a live gateway's /metrics."""

import json
import time
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sdk"))
from harness import BIN, ROOT, start_stack  # noqa: E402

DEPLOY = os.path.join(ROOT, "deploy")


class Deploy(unittest.TestCase):
    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
    def test_systemd_unit_verifies(self):
        unit = open(os.path.join(DEPLOY, "switchyard.service")).read()
        # verify checks that ExecStart exists: point it at the freshly built binary.
        unit = unit.replace("/usr/local/bin/switchyard", os.path.join(BIN, "switchyard"))
        d = tempfile.mkdtemp()
        path = os.path.join(d, "switchyard.service")
        open(path, "w").write(unit)
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        problems = [l for l in r.stderr.splitlines() if "switchyard.service" in l]
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(problems, [], r.stderr)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", unit)
        self.assertIn("LimitNOFILE=", unit)
        self.assertIn("LimitMEMLOCK=", unit)

    def test_kubernetes_manifests_parse(self):
        docs = list(yaml.safe_load_all(open(os.path.join(DEPLOY, "kubernetes", "switchyard.yaml"))))
        kinds = sorted(d["kind"] for d in docs)
        self.assertEqual(kinds, ["ConfigMap", "Deployment", "Service"])
        dep = next(d for d in docs if d["kind"] == "Deployment")
        gw = dep["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(gw["readinessProbe"]["httpGet"]["path"], "/readyz")
        self.assertEqual(gw["livenessProbe"]["httpGet"]["path"], "/healthz")
        cm = next(d for d in docs if d["kind"] == "ConfigMap")
        # The embedded config is one the gateway accepts.
        d = tempfile.mkdtemp()
        path = os.path.join(d, "switchyard.toml")
        open(path, "w").write(cm["data"]["switchyard.toml"])
        hashes = {"SWITCHYARD_ADMIN_KEY_HASH": "sha256:" + "a" * 64, "TEAM_A_KEY_HASH": "sha256:" + "b" * 64}
        r = subprocess.run([os.path.join(BIN, "switchyard"), "--check", "--config", path],
                           capture_output=True, text=True, env={**os.environ, "OPENAI_API_KEY": "x", **hashes})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_compose_runs_three_replicas_on_one_redis_with_a_valid_config(self):
        compose = yaml.safe_load(open(os.path.join(DEPLOY, "compose", "compose.yaml")))
        svc = compose["services"]
        self.assertEqual(svc["gateway"]["deploy"]["replicas"], 3)
        self.assertIn("--appendonly", svc["redis"]["command"])
        self.assertEqual(svc["gateway"]["depends_on"]["redis"]["condition"], "service_healthy")
        path = os.path.join(DEPLOY, "compose", "switchyard.toml")
        self.assertIn('redis = "redis://redis:6379/0"', open(path).read())
        hashes = {"SWITCHYARD_ADMIN_KEY_HASH": "sha256:" + "a" * 64, "TEAM_A_KEY_HASH": "sha256:" + "b" * 64}
        r = subprocess.run([os.path.join(BIN, "switchyard"), "--check", "--config", path],
                           capture_output=True, text=True, env={**os.environ, "OPENAI_API_KEY": "x", **hashes})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_prometheus_scrape_parses(self):
        cfg = yaml.safe_load(open(os.path.join(DEPLOY, "prometheus", "scrape.yml")))
        self.assertEqual(cfg["scrape_configs"][0]["metrics_path"], "/metrics")
        # /metrics needs the admin key when client keys exist: every job sends it.
        for job in cfg["scrape_configs"]:
            self.assertEqual(job["authorization"]["type"], "Bearer", job["job_name"])

    def test_dashboard_queries_name_metrics_that_exist(self):
        dash = json.load(open(os.path.join(DEPLOY, "grafana", "switchyard-dashboard.json")))
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        names = set()
        for e in exprs:
            names.update(re.findall(r"\bswitchyard_[a-z_]+", e))
        mock, gw, base = start_stack()
        try:
            # A request so per-model series exist; a decision log so its counter exists.
            req = urllib.request.Request(base + "/chat/completions", method="POST",
                                         data=b'{"model":"mock-openai","messages":[{"role":"user","content":"hi"}]}',
                                         headers={"content-type": "application/json"})
            urllib.request.urlopen(req).read()
            # Counters are recorded just after the answer is written: poll briefly.
            for _ in range(40):
                text = urllib.request.urlopen(base.replace("/v1", "/metrics")).read().decode()
                exposed = set(re.findall(r"^(switchyard_[a-z_]+)", text, re.M))
                # The log counter only exists when [log] is configured; mock.toml has none.
                missing = {n for n in names if n not in exposed and n != "switchyard_decision_log_records_total"}
                if not missing:
                    break
                time.sleep(0.05)
        finally:
            gw.stop()
            mock.stop()
        self.assertEqual(missing, set(), f"dashboard queries unknown metrics; exposed: {sorted(exposed)}")


if __name__ == "__main__":
    unittest.main()
