"""The web console in headless Chromium: every page, live decisions, cooldowns, a broken
reload, Try it against `switchyard route`, access from a non-loopback address, and the
screenshots in docs/img (CONSOLE_SCREENSHOTS=docs/img)."""

import json
import os
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from selenium.webdriver.common.by import By

from harness import ADMIN_KEY, BIN, ROOT, Stack, admin_key_hash, browser, demo_config, wait_until

PAGES = ["overview", "decisions", "providers", "keys", "config", "try"]
LANDLORD = "Can my landlord keep my deposit if I break the lease early?"


def severe(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


class ConsoleOnTheDemoConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack()
        cls.driver = browser()

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.stack.stop()

    def open(self, page):
        self.driver.get(f"{self.stack.console}#{page}")
        wait_until(lambda: self.driver.find_element(By.ID, f"page-{page}").is_displayed(), 5, f"page {page}")

    def test_every_page_loads_without_console_errors(self):
        for page in PAGES:
            self.open(page)
            time.sleep(1.2)  # one poll
            self.assertEqual(severe(self.driver), [], page)
            self.assertFalse(self.driver.find_element(By.ID, "api-error").is_displayed(), page)
        # The overview drew its charts (uPlot canvases) and its tables.
        self.open("overview")
        wait_until(lambda: len(self.driver.find_elements(By.CSS_SELECTOR, ".chart canvas")) >= 3, 5, "three charts")

    def test_a_request_appears_in_decisions_within_a_second(self):
        self.open("decisions")
        time.sleep(1.2)  # the page's first poll: the console is now open
        status, headers, _ = self.stack.chat("auto", LANDLORD)
        self.assertEqual(status, 200)
        rid, model = headers["x-switchyard-request-id"], headers["x-switchyard-model"]
        t = time.time()
        row = wait_until(lambda: self.driver.find_element(By.CSS_SELECTOR, f'tr[data-request-id="{rid}"]'), 1.0,
                         "the request's row")
        self.assertLess(time.time() - t, 1.0)
        self.assertEqual(row.find_element(By.CLASS_NAME, "col-model").text, model)
        strategy = row.find_element(By.CLASS_NAME, "col-strategy").text
        self.assertIn("semantic", strategy)
        self.assertIn("legal", strategy)
        self.assertEqual(row.find_element(By.CLASS_NAME, "col-route").text, "auto")

    def test_try_it_shows_what_switchyard_route_prints(self):
        cli = subprocess.run([os.path.join(BIN, "switchyard"), "route", "--config", self.stack.config, "--route", "auto"],
                             input=json.dumps({"prompt": LANDLORD}) + "\n", capture_output=True, text=True, timeout=60,
                             env={**os.environ, "MOCK_URL": self.stack.mock_url})
        want = json.loads(cli.stdout.splitlines()[0])
        self.open("try")
        box = self.driver.find_element(By.ID, "try-prompt")
        box.clear()
        box.send_keys(LANDLORD)
        wait_until(lambda: self.driver.find_element(By.CSS_SELECTOR, '#try-route option[value="auto"]'), 5, "routes")
        self.driver.find_element(By.CSS_SELECTOR, '#try-route option[value="auto"]').click()
        self.driver.find_element(By.ID, "try-decide").click()
        row = wait_until(lambda: self.driver.find_element(By.CSS_SELECTOR, '#try-results tr[data-route="auto"]'), 5, "the decision")
        cell = lambda c: row.find_element(By.CLASS_NAME, c).text
        dash = lambda v, f="{}": "–" if v is None else f.format(v)
        self.assertEqual(cell("col-model"), want["model"])
        self.assertEqual(cell("col-strategy"), want["strategy"])
        self.assertEqual(cell("col-tier"), dash(want["tier"]))
        self.assertEqual(cell("col-matched"), dash(want["matched"]))
        self.assertEqual(cell("col-score"), dash(want["score"], "{:.6f}"))
        self.assertEqual(cell("col-similarity"), dash(want["similarity"], "{:.4f}"))
        self.assertEqual((want["matched"], want["model"]), ("legal", "mock-anthropic"))
        # Then for real: the answer comes back through the client listener.
        self.driver.find_element(By.ID, "try-send").click()
        answer = wait_until(lambda: "HTTP 200" in self.driver.find_element(By.ID, "try-answer").text
                            and self.driver.find_element(By.ID, "try-answer").text, 10, "the answer")
        self.assertIn("mock-anthropic", answer)


class ProviderFailure(unittest.TestCase):
    def test_a_failing_provider_shows_a_cooldown(self):
        stack = Stack(mock_args=("--fail-status", "500", "--fail-rate", "1"))
        driver = browser()
        try:
            driver.get(stack.console + "#providers")
            time.sleep(1.2)
            status, _, _ = stack.chat("mock-openai", "hello")
            self.assertGreaterEqual(status, 500)
            row = wait_until(lambda: driver.find_element(By.CSS_SELECTOR, 'tr.cooling[data-model="mock-openai"]'), 3,
                             "mock-openai cooling")
            self.assertRegex(row.find_element(By.CLASS_NAME, "col-cooldown").text, r"cooling, \d+\.\d s left")
            self.assertEqual(severe(driver), [])
        finally:
            driver.quit()
            stack.stop()


class BrokenReload(unittest.TestCase):
    def test_a_reload_with_a_broken_config_shows_the_field_at_fault(self):
        stack = Stack()
        driver = browser()
        try:
            driver.get(stack.console + "#config")
            wait_until(lambda: driver.find_element(By.ID, "config-hash-full").text, 5, "the config hash")
            with open(stack.config) as f:
                text = f.read()
            with open(stack.config, "w") as f:
                f.write(text.replace('[models.mock-gemini]\nprovider = "mock-gemini"', '[models.mock-gemini]\nprovider = "nowhere"', 1))
            check = subprocess.run([os.path.join(BIN, "switchyard"), "--check", "--config", stack.config],
                                   capture_output=True, text=True, timeout=60, env={**os.environ, "MOCK_URL": stack.mock_url})
            self.assertNotEqual(check.returncode, 0)
            self.assertIn("models.mock-gemini.provider", check.stderr + check.stdout)
            driver.find_element(By.ID, "reload-button").click()
            field = wait_until(lambda: driver.find_element(By.ID, "reload-field").text, 5, "the field at fault")
            self.assertEqual(field, "models.mock-gemini.provider")
            self.assertIn("nowhere", driver.find_element(By.ID, "reload-result").text)
            wait_until(lambda: "failed" in driver.find_element(By.ID, "table-reloads").text, 3, "the failed reload listed")
            # The old table keeps serving.
            self.assertEqual(stack.chat("mock-gemini", "hi")[0], 200)
        finally:
            driver.quit()
            stack.stop()


def non_loopback_ipv4():
    """An address of this host that is not loopback, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


class RemoteAccess(unittest.TestCase):
    def test_without_the_admin_token_a_non_loopback_request_is_refused(self):
        ip = non_loopback_ipv4()
        if ip is None:
            self.skipTest("this host has no non-loopback IPv4 address to connect from")
        extra = f'[admin]\nlisten = "0.0.0.0:0"\nallow_remote = true\nkey_hash = "{admin_key_hash()}"\n'
        stack = Stack(config=demo_config(extra), admin=None)
        try:
            port = stack.admin.rsplit(":", 1)[1]

            def get(host, headers=None, path="/ui/api/overview"):
                req = urllib.request.Request(f"http://{host}:{port}{path}", headers=headers or {})
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        return r.status, r.read()
                except urllib.error.HTTPError as e:
                    return e.code, e.read()

            status, body = get(ip)
            self.assertEqual(status, 401, body)
            self.assertEqual(json.loads(body)["error"]["type"], "authentication_error")
            self.assertEqual(get(ip, path="/ui")[0], 401)
            self.assertEqual(get(ip, {"authorization": f"Bearer {ADMIN_KEY}"})[0], 200)
            self.assertEqual(get(ip, {"authorization": "Bearer sk-wrong"})[0], 401)
            self.assertEqual(get("127.0.0.1")[0], 200)
            # In a browser from that address: the key form, then the console behind its cookie.
            driver = browser()
            try:
                driver.get(f"http://{ip}:{port}/ui")
                driver.find_element(By.ID, "token").send_keys(ADMIN_KEY)
                driver.find_element(By.CSS_SELECTOR, "form button").click()
                wait_until(lambda: driver.find_element(By.ID, "page-overview").is_displayed(), 5, "the console")
                time.sleep(1.2)
                self.assertFalse(driver.find_element(By.ID, "api-error").is_displayed())
            finally:
                driver.quit()
        finally:
            stack.stop()


class Screenshots(unittest.TestCase):
    """The screenshots in docs/img, from `switchyard demo` with some traffic."""

    def test_screenshots_of_every_page(self):
        out = os.environ.get("CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="switchyard-shots-")
        os.makedirs(out, exist_ok=True)
        demo = __import__("harness").Proc([os.path.join(BIN, "switchyard"), "demo", "--listen", "127.0.0.1:0"])
        driver = browser()
        try:
            addr = demo.wait_for(r"switchyard listening on http://(\S+)").group(1)
            console = demo.wait_for(r"console on (\S+)").group(1)
            driver.get(console + "#decisions")
            time.sleep(1.2)
            prompts = [("auto", LANDLORD), ("auto", "hey whats up"), ("mock-openai", "hello"),
                       ("auto", "Explain why quicksort is O(n log n) on average, step by step."),
                       ("auto", "thanks so much!"), ("mock-anthropic", "hello"), ("cascade", "hi"),
                       ("auto", "def f(x):\n    return x * 2\nwhat does this do?"), ("mock-gemini", "hello"),
                       ("auto", "Is a verbal agreement to sell a car legally binding?"), ("learned", "Prove that sqrt(2) is irrational."),
                       ("auto", LANDLORD), ("auto", "good morning!"), ("consensus", "What is 2 + 2?")]
            for model, prompt in prompts:
                body = json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}]}).encode()
                req = urllib.request.Request(f"http://{addr}/v1/chat/completions", data=body,
                                             headers={"content-type": "application/json"})
                urllib.request.urlopen(req, timeout=30).read()
                time.sleep(0.3)
            time.sleep(1.5)
            for page in PAGES:
                driver.get(console + "#" + page)
                time.sleep(1.5)
                if page == "try":
                    driver.find_element(By.ID, "try-decide").click()
                    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "#try-results tbody tr"), 5, "decisions")
                path = os.path.join(out, f"console-{page}.png")
                driver.save_screenshot(path)
                self.assertGreater(os.path.getsize(path), 10_000, path)
            self.assertEqual(severe(driver), [])
        finally:
            driver.quit()
            demo.stop()


if __name__ == "__main__":
    unittest.main()
