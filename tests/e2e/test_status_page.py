"""The status page in a real browser: Debian's headless Chromium, driven by Selenium, against
a running three-region group with a trigger.

It shows what a person needs: every region ACTIVE, every link STREAMING with a lag figure
and a sparkline, a trigger's row, and a conflict after a forced concurrent write (with a
hostile key, shown as text); it updates without a reload; the same address serves JSON. A
screenshot is saved under artifacts/ (its path is printed).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from meridian.cli.supervisor import Child, status_url, wait_ready
from meridian.config import load
from meridian.model import items
from meridian.pb import node_pb2 as pb
from meridian.wire.channels import connect
from tests.e2e.helpers import ORDERS, child_logs, e2e_group, supervised
from tests.harness import NotYet, free_address, wait_until, write_group

pytestmark = pytest.mark.e2e

REPO = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
REGIONS = ("us-east", "eu-west", "ap-south")
HOSTILE_KEY = "<img src=x onerror=\"document.title='owned'\">&amp;"
LAG = re.compile(r"^\d+(\.\d)? (ms|s|min)$")
WAIT_S = 40.0
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
)


def browser_paths() -> tuple[str, str]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.fail(
            "chromium and chromedriver are missing: install Debian's chromium and "
            "chromium-driver packages (.ci/run does)"
        )
    return chromium, driver


@pytest.fixture
def browser(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = browser_paths()
    monkeypatch.setenv("SE_OFFLINE", "true")  # never look for a driver on the internet
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    service = Service(executable_path=driver_path, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def group(tmp_path: pathlib.Path) -> Iterator[tuple[pathlib.Path, dict[str, Child]]]:
    """Three regions, and a trigger in us-east that appends each record's key to a file."""
    script = tmp_path / "append.py"
    script.write_text(
        "import json, os, sys\n"
        "event = json.load(sys.stdin)\n"
        "with open(os.environ['OUT'], 'a') as f:\n"
        "    f.write(''.join(r['dynamodb']['Keys']['pk']['S'] + '\\n' for r in event['Records']))\n"
    )
    doc = e2e_group(tmp_path, REGIONS, durability="buffered", tables=[ORDERS])
    doc["replication"] = {"heartbeat_interval": "200ms"}
    doc["regions"][0]["triggers"] = {"listen": free_address(), "metrics": free_address()}
    doc["triggers"] = [
        {
            "name": "append",
            "table": "orders",
            "regions": ["us-east"],
            "function": {"command": [sys.executable, str(script)]},
            "starting_position": "TRIM_HORIZON",
            "environment": {"OUT": str(tmp_path / "out.txt")},
        }
    ]
    config = write_group(tmp_path / "group.yaml", doc)
    with supervised(config) as procs:
        for component in ("node", "replicator", "triggers"):
            batch = [c for c in procs.values() if c.component == component]
            for child in batch:
                child.start()
            wait_ready(batch)
        yield config, procs


def put(config: pathlib.Path, region: str, item: dict[str, Any]) -> None:
    channel, stub = connect(str(load(config).region(region).node_listen))
    with channel:
        stub.PutItem(pb.PutItemRequest(table="orders", item=items.from_plain(item)), timeout=10)


def page_json(url: str, accept: str | None = None) -> Any:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
        return json.loads(response.read())


def in_page(driver: Any, check: Callable[[], Any], what: str, logs: Callable[[], str]) -> Any:
    """Poll what the browser shows until `check` holds; an element not there yet is a no."""
    from selenium.common.exceptions import WebDriverException

    def attempt() -> Any:
        try:
            return check()
        except WebDriverException as exc:
            raise NotYet(exc.msg or type(exc).__name__) from None

    return wait_until(attempt, WAIT_S, what, logs=[logs], interval=0.2)


def cells(driver: Any, selector: str) -> list[list[str]]:
    """The visible text of each cell of each row matched by `selector`."""
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, selector)
    return [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def link_row(driver: Any, source: str, target: str) -> list[str]:
    rows = cells(driver, f'#links tr[data-link="{source}->{target}"]')
    if len(rows) != 1:
        raise NotYet(f"no row for link {source} -> {target}")
    return rows[0]


def test_the_status_page_shows_a_live_group_in_a_browser(
    group: tuple[pathlib.Path, dict[str, Child]], browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    config, procs = group
    logs = child_logs(procs)
    url = status_url(load(config), load(config).region("us-east"))

    def all_streaming() -> bool:
        links = page_json(f"{url}?format=json")["links"]
        if len(links) != 6 or {x["state"] for x in links} != {"STREAMING"}:
            raise NotYet(f"links: {[(x['source'], x['target'], x['state']) for x in links]}")
        return True

    wait_until(all_streaming, WAIT_S, "every link streaming", logs=[logs])

    browser.get(url)
    assert browser.title == "Meridian e2e: us-east"
    regions = cells(browser, "#regions tbody tr")
    assert [(r[0], r[1]) for r in regions] == [(name, "ACTIVE") for name in REGIONS]
    for source in REGIONS:
        for target in REGIONS:
            if source != target:
                row = link_row(browser, source, target)
                assert row[1] == "STREAMING", row
                assert LAG.match(row[2]), f"lag figure {row[2]!r}"
    assert browser.find_elements(By.CSS_SELECTOR, "#links svg.spark polyline")

    # Live: writes in us-east show up as applied records on its links, with no reload.
    browser.execute_script("window.sameDocument = 'yes';")
    for n in range(5):
        put(config, "us-east", {"pk": f"live-{n}", "sk": "x"})

    def applied_in_eu_west() -> int:
        applied = int(link_row(browser, "us-east", "eu-west")[5])
        if applied < 5:
            raise NotYet(f"applied {applied}")
        return applied

    in_page(browser, applied_in_eu_west, "the applied count to change on screen", logs)
    assert browser.execute_script("return window.sameDocument;") == "yes"

    def trigger_ran() -> list[str]:
        (row,) = cells(browser, '#triggers tr[data-trigger="append"]')
        if row[2] != "RUNNING" or row[4] in ("-", "0"):
            raise NotYet(f"trigger row {row}")
        return row

    trigger = in_page(browser, trigger_ran, "the trigger's row to show invocations", logs)
    assert trigger[:2] == ["append", "orders"]

    # A forced concurrent write: us-east's replicator is paused while eu-west and then
    # us-east write the same key; once it resumes, eu-west's older write loses in us-east.
    replicator = procs["us-east.replicator"].proc
    assert replicator is not None
    key = {"pk": HOSTILE_KEY, "sk": "x"}
    replicator.send_signal(signal.SIGSTOP)
    try:
        put(config, "eu-west", {**key, "v": "eu-west"})
        time.sleep(0.05)  # us-east's write is stamped later, whatever the HLC's resolution
        put(config, "us-east", {**key, "v": "us-east"})
    finally:
        replicator.send_signal(signal.SIGCONT)

    def conflict_shown() -> list[str]:
        rows = cells(browser, "#conflicts tbody tr")
        if not rows:
            raise NotYet("no conflict yet")
        return rows[0]

    table, keys, winner, loser, lost, rule, _ = in_page(
        browser, conflict_shown, "the conflict to appear on screen", logs
    )
    assert table == "orders"
    assert json.loads(keys) == key  # the hostile key, shown as text
    assert winner.endswith("@us-east") and loser.endswith("@eu-west"), (winner, loser)
    assert lost == "(item)"  # item merge mode: the whole write lost
    assert rule
    assert not browser.find_elements(By.CSS_SELECTOR, "main img")
    assert browser.title == "Meridian e2e: us-east"
    assert browser.execute_script("return window.sameDocument;") == "yes"

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "status-page.png"
    assert browser.save_screenshot(str(shot)), "no screenshot"
    print(f"status page screenshot: {shot}")

    # The same address serves JSON, by query or by Accept header.
    for document in (
        page_json(f"{url}?format=json"),
        page_json(url, accept="application/json"),
    ):
        assert [r["state"] for r in document["regions"]] == ["ACTIVE"] * 3
        assert len(document["links"]) == 6
        assert document["conflicts"]["items"][0]["keys"] == key
        assert document["triggers"][0]["trigger"] == "append"
        assert document["triggers"][0]["invocations"] >= 1
    assert os.path.getsize(shot) > 10_000
