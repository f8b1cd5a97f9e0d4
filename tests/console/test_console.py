"""The web console (docs/console.md) in headless Chromium against real mock-llm and switchyard
processes: every page, live decisions, cooldowns, a broken reload, Try it against
`switchyard route`, access from a non-loopback address, the error banner, and screenshots of
`switchyard demo` (into CONSOLE_SCREENSHOTS, default a temp dir)."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from harness import (ADMIN_KEY, SWITCHYARD, Gateway, Proc, Stack, admin_table, browser, chat, demo_config, free_port,
                     severe, start_mock, wait_until, write_config)

PAGES = ["overview", "decisions", "providers", "keys", "config", "try"]
LANDLORD = "Can my landlord keep my deposit if I break the lease early?"


def open_page(driver, console, page):
    driver.get(f"{console}#{page}")
    wait_until(lambda: driver.find_element(By.ID, f"page-{page}").is_displayed(), 5, f"page {page} shown")


class ConsoleOnTheDemoConfig(unittest.TestCase):
    """One gateway on examples/mock.toml with a decision log, one browser."""

    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="switchyard-console-log-")
        cls.log = os.path.join(cls.folder, "decisions.jsonl")
        cls.stack = Stack(config=demo_config(f'[log]\ndecisions = "{cls.log}"\n'))
        try:
            cls.driver = browser()
        except BaseException:
            cls.stack.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.driver.quit()
        finally:
            cls.stack.stop()
            shutil.rmtree(cls.folder, ignore_errors=True)

    def open(self, page):
        open_page(self.driver, self.stack.console, page)

    def log_record(self, request_id, timeout=3):
        """The decision log's request record with this id (the writer flushes within ms)."""
        def find():
            with open(self.log) as f:
                for line in f:
                    r = json.loads(line)
                    if r.get("type") == "request" and r.get("request_id") == request_id:
                        return r
        return wait_until(lambda: os.path.exists(self.log) and find(), timeout, f"log record {request_id}")

    # a. every page loads without console errors, and shows what its API gave
    def test_every_page_loads_without_console_errors(self):
        d = self.driver
        shows = {
            "overview": lambda: len(d.find_elements(By.CSS_SELECTOR, "#table-models tbody tr")) >= 3
            and len(d.find_elements(By.CSS_SELECTOR, ".chart canvas")) >= 3,
            "decisions": lambda: d.find_element(By.ID, "decision-count").text,
            "providers": lambda: d.find_elements(By.CSS_SELECTOR, '#table-providers tr[data-model="mock-openai"]'),
            "keys": lambda: "open" in d.find_element(By.ID, "keys-note").text,
            "config": lambda: d.find_element(By.ID, "config-hash-full").text and d.find_elements(By.CSS_SELECTOR, '#routes [data-route="auto"]'),
            "try": lambda: d.find_elements(By.CSS_SELECTOR, '#try-route option[value="auto"]'),
        }
        severe(d)  # drop anything logged before
        for page in PAGES:
            self.open(page)
            wait_until(shows[page], 5, f"{page} filled in")
            time.sleep(1.2)  # at least one poll of the page's endpoint
            self.assertEqual(severe(d), [], f"console errors on #{page}")
            self.assertFalse(d.find_element(By.ID, "api-error").is_displayed(), page)
            current = d.find_element(By.CSS_SELECTOR, 'nav a[aria-current="page"]').get_attribute("data-page")
            self.assertEqual(current, page)
        # The tabs work from the keyboard: focus a link, press Enter.
        link = d.find_element(By.CSS_SELECTOR, 'nav a[data-page="providers"]')
        link.send_keys(Keys.ENTER)
        wait_until(lambda: d.find_element(By.ID, "page-providers").is_displayed(), 3, "providers by keyboard")
        self.assertTrue(d.execute_script("return location.hash") == "#providers")
        self.assertEqual(d.find_element(By.CSS_SELECTOR, "#table-decisions tbody").get_attribute("aria-live"), "polite")

    # b. a request shows up in Decisions within a second, as the decision log has it
    def test_a_request_appears_in_decisions_within_a_second(self):
        d = self.driver
        self.open("decisions")
        time.sleep(1.2)  # the page's first poll: the console is now open and records are kept
        status, headers, _ = self.stack.chat("auto", LANDLORD)
        returned = time.monotonic()
        self.assertEqual(status, 200)
        rid, model = headers["x-switchyard-request-id"], headers["x-switchyard-model"]
        row = wait_until(lambda: d.find_element(By.CSS_SELECTOR, f'#table-decisions tr[data-request-id="{rid}"]'), 1.0,
                         "the request's row in Decisions")
        self.assertLess(time.monotonic() - returned, 1.0)
        cell = lambda c: row.find_element(By.CLASS_NAME, c).text
        record = self.log_record(rid)
        self.assertEqual(cell("col-model"), model)
        self.assertEqual(record["model"], model)
        self.assertEqual(cell("col-route"), "auto")
        self.assertEqual(cell("col-status"), "200")
        self.assertTrue(cell("col-strategy").startswith(record["strategy"]), (cell("col-strategy"), record["strategy"]))
        if record.get("matched"):
            self.assertIn(record["matched"], cell("col-strategy"))
        self.assertEqual(cell("col-feedback"), "–")
        # The filters: text, errors only, cache hits only.
        box = d.find_element(By.ID, "filter-text")
        box.send_keys("no-such-model-zzz")
        wait_until(lambda: not d.find_elements(By.CSS_SELECTOR, f'tr[data-request-id="{rid}"]'), 2, "text filter hides it")
        box.clear()
        box.send_keys(model)
        wait_until(lambda: d.find_elements(By.CSS_SELECTOR, f'tr[data-request-id="{rid}"]'), 2, "model filter keeps it")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.DELETE)
        d.find_element(By.ID, "filter-cache").click()
        wait_until(lambda: not d.find_elements(By.CSS_SELECTOR, f'tr[data-request-id="{rid}"]'), 2, "cache filter hides a miss")
        d.find_element(By.ID, "filter-cache").click()
        wait_until(lambda: d.find_elements(By.CSS_SELECTOR, f'tr[data-request-id="{rid}"]'), 2, "row back")
        # Feedback joins its request.
        body = json.dumps({"request_id": rid, "rating": "up", "comment": "spot on"}).encode()
        req = urllib.request.Request(f"http://{self.stack.addr}/v1/feedback", data=body, headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertLess(r.status, 300)
        wait_until(lambda: "up" in d.find_element(By.CSS_SELECTOR, f'tr[data-request-id="{rid}"] .col-feedback').text, 3,
                   "the feedback in the request's row")

    # e. Try it shows the decision `switchyard route` prints for the same prompt
    def test_try_it_shows_what_switchyard_route_prints(self):
        d = self.driver
        cli = self.stack.gw.cli("route", "--config", self.stack.config, "--route", "auto", stdin=json.dumps({"prompt": LANDLORD}) + "\n")
        self.assertEqual(cli.returncode, 0, cli.stderr)
        line = cli.stdout.splitlines()[0]
        want = json.loads(line)
        # The raw text of each number as printed (the page shows the API's text, not a re-rounding).
        raw = lambda k: re.search(r'"%s":(null|[-+0-9.eE]+)' % k, line).group(1)
        text = lambda k: "–" if want[k] is None else str(want[k])
        self.open("try")
        box = d.find_element(By.ID, "try-prompt")
        box.clear()
        box.send_keys(LANDLORD)
        option = wait_until(lambda: d.find_element(By.CSS_SELECTOR, '#try-route option[value="auto"]'), 5, "the routes")
        option.click()
        d.find_element(By.ID, "try-decide").click()
        row = wait_until(lambda: d.find_element(By.CSS_SELECTOR, '#try-results tr[data-route="auto"]'), 5, "the decision")
        cell = lambda c: row.find_element(By.CLASS_NAME, c).text
        self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, "#try-results tbody tr")), 1)
        self.assertEqual(cell("col-model"), want["model"])
        self.assertEqual(cell("col-strategy"), want["strategy"])
        self.assertEqual(cell("col-tier"), text("tier"))
        self.assertEqual(cell("col-matched"), text("matched"))
        self.assertEqual(cell("col-score"), "–" if raw("score") == "null" else raw("score"))
        self.assertEqual(cell("col-similarity"), "–" if raw("similarity") == "null" else raw("similarity"))
        # Every route: one row each.
        d.find_element(By.CSS_SELECTOR, '#try-route option[value=""]').click()
        d.find_element(By.ID, "try-decide").click()
        routes = [r["name"] for r in self.stack.api("config")["routes"]]
        wait_until(lambda: len(d.find_elements(By.CSS_SELECTOR, "#try-results tbody tr")) == len(routes), 5, "a row per route")
        # Then for real, to `auto`: the answer comes back through the client listener.
        d.find_element(By.CSS_SELECTOR, '#try-route option[value="auto"]').click()
        d.find_element(By.ID, "try-send").click()
        answer = wait_until(lambda: "HTTP 200" in d.find_element(By.ID, "try-answer").text and d.find_element(By.ID, "try-answer").text,
                            15, "the answer")
        self.assertIn(want["model"], answer)
        self.assertEqual(severe(d), [])


class ProviderFailure(unittest.TestCase):
    # c. a provider answering 500 puts its model in cooldown, and the Providers page shows it
    def test_a_failing_provider_shows_a_cooldown(self):
        healthy, healthy_url = start_mock()
        failing, failing_url = start_mock("--fail-status", "500", "--fail-rate", "1")
        gw = driver = None
        try:
            config = write_config(f"""
[providers.good]
dialect = "openai"
base_url = "{healthy_url}/v1"
api_key = "sk-good"

[providers.failing]
dialect = "openai"
base_url = "{failing_url}/v1"
api_key = "sk-failing"

[models.steady]
provider = "good"
model = "gpt-4o-mini"

[models.flaky]
provider = "failing"
model = "gpt-4o-mini"

""" + admin_table())
            gw = Gateway(config, healthy_url)
            driver = browser()
            open_page(driver, gw.console, "providers")
            wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, '#table-providers tr[data-model="flaky"]'), 5, "the flaky row")
            self.assertFalse(driver.find_elements(By.CSS_SELECTOR, "#table-providers tr.cooling"))
            for _ in range(5):  # one failure should do; a few more if the breaker counts
                status, _, _ = gw.chat("flaky", "hello")
                self.assertGreaterEqual(status, 500)
                if any(m["cooling"] for m in gw.api("providers")["models"] if m["model"] == "flaky"):
                    break
            row = wait_until(lambda: driver.find_element(By.CSS_SELECTOR, '#table-providers tr.cooling[data-model="flaky"]'), 3,
                             "flaky cooling")
            self.assertRegex(row.find_element(By.CLASS_NAME, "col-cooldown").text, r"^cooling, \d+\.\d s left$")
            self.assertFalse(driver.find_elements(By.CSS_SELECTOR, 'tr.cooling[data-model="steady"]'))
            self.assertEqual(severe(driver), [])
        finally:
            if driver:
                driver.quit()
            if gw:
                gw.stop()
            healthy.stop()
            failing.stop()


class BrokenReload(unittest.TestCase):
    # d. Reload with a broken config file shows the error and the field at fault
    def test_a_reload_with_a_broken_config_shows_the_field_at_fault(self):
        stack = Stack()
        driver = None
        try:
            driver = browser()
            open_page(driver, stack.console, "config")
            before = wait_until(lambda: driver.find_element(By.ID, "config-hash-full").text, 5, "the config hash")
            with open(stack.config) as f:
                text = f.read()
            broken = text.replace('[models.mock-gemini]\nprovider = "mock-gemini"', '[models.mock-gemini]\nprovider = "nowhere"', 1)
            self.assertNotEqual(broken, text)
            with open(stack.config, "w") as f:
                f.write(broken)
            check = stack.gw.cli("--check", "--config", stack.config)
            self.assertNotEqual(check.returncode, 0)
            said = check.stderr + check.stdout
            field = re.search(r"(models\.mock-gemini\.[\w.\-\[\]]+)", said)
            self.assertIsNotNone(field, f"--check names no field of mock-gemini: {said}")
            driver.find_element(By.ID, "reload-button").click()
            shown = wait_until(lambda: driver.find_element(By.ID, "reload-field").text, 5, "the field at fault")
            self.assertEqual(shown, field.group(1))
            self.assertIn("mock-gemini", shown)
            self.assertIn("nowhere", driver.find_element(By.ID, "reload-result").text)
            wait_until(lambda: "failed" in driver.find_element(By.ID, "table-reloads").text, 3, "the failed reload listed")
            # The old table goes on serving, under the same hash.
            self.assertEqual(driver.find_element(By.ID, "config-hash-full").text, before)
            self.assertEqual(stack.chat("mock-gemini", "hi")[0], 200)
            # Fixed again: the reload succeeds and the field goes away.
            with open(stack.config, "w") as f:
                f.write(text)
            driver.find_element(By.ID, "reload-button").click()
            wait_until(lambda: driver.find_element(By.ID, "reload-result").text.startswith("Reloaded"), 5, "a good reload")
            self.assertEqual(driver.find_element(By.ID, "reload-field").text, "")
        finally:
            if driver:
                driver.quit()
            stack.stop()


def non_loopback_ipv4():
    """An IPv4 address of this host that is not loopback, or None."""
    candidates = []
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # a UDP connect sends nothing: it only picks the outgoing interface
        candidates.append(s.getsockname()[0])
    except OSError:
        pass
    finally:
        s.close()
    try:
        candidates += subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout.split()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        candidates.append(socket.gethostbyname(socket.gethostname()))
    except OSError:
        pass
    for ip in candidates:
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ip) and not ip.startswith("127.") and ip != "0.0.0.0":
            return ip
    return None


class RemoteAccess(unittest.TestCase):
    # f. from a non-loopback address the console needs the admin key; from loopback it does not
    def test_without_the_admin_token_a_non_loopback_request_is_refused(self):
        ip = non_loopback_ipv4()
        if ip is None:
            self.skipTest("this host has no non-loopback IPv4 address to connect from")
        stack = Stack(config=demo_config(admin=admin_table("0.0.0.0:0", allow_remote=True)))
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
            status, body = get(ip, {"authorization": f"Bearer {ADMIN_KEY}"})
            self.assertEqual(status, 200, body)
            self.assertIn("totals", json.loads(body))
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


class ErrorBanner(unittest.TestCase):
    # The banner shows when polls fail (the gateway went away) and goes when they work again.
    def test_the_banner_follows_the_polls(self):
        port = free_port()
        mock, mock_url = start_mock()
        config = demo_config(admin=admin_table(f"127.0.0.1:{port}"))
        gw = driver = None
        try:
            gw = Gateway(config, mock_url)
            driver = browser()
            open_page(driver, gw.console, "overview")
            time.sleep(1.2)
            banner = driver.find_element(By.ID, "api-error")
            self.assertFalse(banner.is_displayed())
            gw.stop()
            wait_until(lambda: banner.is_displayed(), 4, "the error banner")
            self.assertTrue(banner.text)
            gw = Gateway(config, mock_url)  # same admin port
            wait_until(lambda: not banner.is_displayed(), 5, "the banner gone")
        finally:
            if driver:
                driver.quit()
            if gw:
                gw.stop()
            mock.stop()
            shutil.rmtree(os.path.dirname(config), ignore_errors=True)


class Screenshots(unittest.TestCase):
    # g. a PNG of every page of `switchyard demo` after some traffic
    def test_screenshots_of_every_page(self):
        out = os.environ.get("CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="switchyard-shots-")
        os.makedirs(out, exist_ok=True)
        demo = Proc([SWITCHYARD, "demo", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        driver = None
        try:
            addr = demo.wait_for(r"switchyard listening on http://(\S+)").group(1)
            console = demo.wait_for(r"console on (http://\S+)").group(1)
            driver = browser()
            open_page(driver, console, "decisions")
            time.sleep(1.2)  # the console is open: samples and decisions are kept from now on
            traffic = [("auto", LANDLORD), ("auto", "hey whats up"), ("mock-openai", "hello"),
                       ("auto", "Explain why quicksort is O(n log n) on average, step by step."),
                       ("mock-anthropic", "hello"), ("auto", "def f(x):\n    return x * 2\nwhat does this do?"),
                       ("mock-gemini", "hello"), ("auto", "Is a verbal agreement to sell a car legally binding?"),
                       ("auto", LANDLORD), ("auto", "good morning!")]
            for model, prompt in traffic:
                status, _, body = chat(addr, model, prompt)
                self.assertEqual(status, 200, body)
                time.sleep(0.3)
            time.sleep(1.5)
            for page in PAGES:
                open_page(driver, console, page)
                time.sleep(1.5)
                if page == "try":
                    driver.find_element(By.ID, "try-decide").click()
                    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "#try-results tbody tr"), 5, "decisions")
                path = os.path.join(out, f"console-{page}.png")
                self.assertTrue(driver.save_screenshot(path), path)
                self.assertGreater(os.path.getsize(path), 10_000, path)
            self.assertEqual(severe(driver), [])
        finally:
            if driver:
                driver.quit()
            demo.stop()


if __name__ == "__main__":
    unittest.main()
