"""The replicator's status page: the view model (a pure function of what was collected),
its HTML (escaping every name and value that callers control), the choice between HTML and
JSON, the cache that keeps its cost independent of viewers, and the read-only HTTP side."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html.parser
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from meridian.config.security import BasicAuth
from meridian.daemon.metrics_endpoint import MetricsEndpoint
from meridian.model import items
from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2 as rpb
from replicator.status import html as page_html
from replicator.status.collect import Collected, RegionReply
from replicator.status.page import StatusCache, rendered, status_app, wants_json
from replicator.status.view import lag_text, link_health, view
from tests.harness import free_address

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>\"'&"


def status(region: str, *links: rpb.LinkStatus, state: str = "ACTIVE") -> RegionReply:
    return RegionReply(region, rpb.StatusResponse(region=region, region_state=state, links=links))


def link(source: str, target: str, **fields: Any) -> rpb.LinkStatus:
    return rpb.LinkStatus(source=source, target=target, **{"state": "STREAMING", **fields})


def collected(*regions: RegionReply, **fields: Any) -> Collected:
    return Collected(group="g", region="a", at_ms=1_000, regions=list(regions), **fields)


def conflict(
    table: str, pk: str, winner: str, loser: str, at_ms: int, lost: list[str] | None = None
) -> pb.Conflict:
    return pb.Conflict(
        attributes=lost or [],
        table=table,
        keys=items.from_plain({"pk": pk}),
        winner=pb.Version(hlc=200, region=winner),
        loser=pb.Version(hlc=100, region=loser),
        rule="newer_clock",
        at_ms=at_ms,
    )


def trigger_row(name: str, state: str, **fields: Any) -> dict[str, Any]:
    row = {
        "region": "a",
        "trigger": name,
        "table": "t",
        "state": state,
        "checkpoint": 3,
        "behind": 0,
        "iterator_age_seconds": 0.0,
        "invocations": 2,
        "errors": 0,
        "records": 2,
        "dead_letters": 0,
        "error": "",
    }
    return {**row, **fields}


# ---------------------------------------------------------------- the view model


@pytest.mark.parametrize(
    ("state", "lag", "expected"),
    [
        ("STREAMING", 0.01, "ok"),
        ("STREAMING", 6.0, "warn"),
        ("CONNECTING", 0.0, "warn"),
        ("RESYNCING", 0.0, "warn"),
        ("WAITING", 0.0, "warn"),
        ("DOWN", 0.0, "bad"),
        ("REFUSED", 0.0, "bad"),
        ("CLOCK_REJECTED", 0.0, "bad"),
        ("RESYNC_NEEDED", 0.0, "bad"),
        ("UNREACHABLE", 0.0, "bad"),
    ],
)
def test_link_health(state: str, lag: float, expected: str) -> None:
    assert link_health(state, lag) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "0 ms"), (0.0124, "12 ms"), (1.0, "1.0 s"), (42.25, "42.2 s"), (600.0, "10 min")],
)
def test_lag_text(seconds: float, text: str) -> None:
    assert lag_text(seconds) == text


def test_links_of_every_region_sorted_with_their_lag_history() -> None:
    v = view(
        collected(
            status("b", link("a", "b", lag_seconds=0.5, lag_history=[0.1, 0.5], applied=7)),
            status("a", link("b", "a", lag_records=3)),
        )
    )
    assert [(x["source"], x["target"]) for x in v["links"]] == [("a", "b"), ("b", "a")]
    first = v["links"][0]
    assert first["lag_history"] == [0.1, 0.5]
    assert (first["lag_text"], first["applied"], first["health"]) == ("500 ms", 7, "ok")
    assert v["links"][1]["lag_records"] == 3
    assert [r["state"] for r in v["regions"]] == ["ACTIVE", "ACTIVE"]


def test_an_unreachable_region_shows_its_links_by_name_with_the_reason() -> None:
    v = view(
        collected(
            status("a", link("b", "a")),
            RegionReply("b", None, "replicator b unreachable: UNAVAILABLE"),
        )
    )
    region_b = v["regions"][1]
    assert (region_b["state"], region_b["health"]) == ("UNREACHABLE", "bad")
    into_b = [x for x in v["links"] if x["target"] == "b"]
    assert [(x["source"], x["state"], x["lag_seconds"]) for x in into_b] == [
        ("a", "UNREACHABLE", None)
    ]
    assert "UNAVAILABLE" in into_b[0]["error"]


@pytest.mark.parametrize(
    ("entries", "estimate", "percent"),
    [(0, 0, None), (50, 200, 25), (200, 200, 100), (250, 200, 100)],
)
def test_bootstrap_progress(entries: int, estimate: int, percent: int | None) -> None:
    reply = rpb.StatusResponse(
        region="a",
        region_state="BOOTSTRAPPING",
        bootstrap=pb.BootstrapState(
            source="b", entries=entries, entries_estimate=estimate, reason="empty"
        ),
    )
    region = view(collected(RegionReply("a", reply)))["regions"][0]
    assert region["health"] == "warn"
    assert region["bootstrap"]["percent"] == percent
    assert region["bootstrap"]["source"] == "b"


def test_an_active_region_has_no_bootstrap_row() -> None:
    assert view(collected(status("a")))["regions"][0]["bootstrap"] is None


def test_conflicts_newest_first_with_both_versions() -> None:
    v = view(
        collected(
            status("a"),
            conflicts=[conflict("t", "old", "b", "a", 1), conflict("t", "new", "a", "b", 2)],
        )
    )
    shown = v["conflicts"]["items"]
    assert [c["keys"] for c in shown] == [{"pk": "new"}, {"pk": "old"}]
    assert shown[0]["winner"] == {"hlc": 200, "region": "a"}
    assert shown[0]["loser"] == {"hlc": 100, "region": "b"}


def test_conflicts_name_the_attributes_that_lost() -> None:
    both = [conflict("t", "whole", "b", "a", 1), conflict("t", "part", "a", "b", 2, ["x", "y"])]
    document = page_html.render(view(collected(status("a"), conflicts=both)))
    parsed = Tags()
    parsed.feed(document)
    text = "".join(parsed.text)
    assert "x, y" in text and "(item)" in text


@pytest.mark.parametrize(
    ("state", "health"),
    [("RUNNING", "ok"), ("STARTING", "warn"), ("DISABLED", "warn"), ("NOT_RUNNING", "bad")],
)
def test_trigger_health(state: str, health: str) -> None:
    v = view(collected(status("a"), triggers=[trigger_row("t1", state)]))
    assert v["triggers"][0]["health"] == health
    assert v["triggers"][0]["invocations"] == 2


@pytest.mark.parametrize(
    ("values", "points"),
    [
        ([], ""),
        ([0.0], "0.0,23.0"),
        ([0.0, 1.0], "0.0,23.0 120.0,1.0"),
        ([1.0, 0.5, 0.0], "0.0,1.0 60.0,12.0 120.0,23.0"),
        ([0.01, 0.0], "0.0,20.8 120.0,23.0"),  # below the floor: small stays small
    ],
)
def test_sparkline_points(values: list[float], points: str) -> None:
    assert page_html.sparkline_points(values) == points


# ---------------------------------------------------------------- escaping


class Tags(html.parser.HTMLParser):
    """Every start tag of a document, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_hostile_names_and_values_are_shown_as_text_never_as_markup() -> None:
    reply = rpb.StatusResponse(
        region=HOSTILE,
        region_state="BOOTSTRAPPING",
        bootstrap=pb.BootstrapState(source=HOSTILE, entries=1, entries_estimate=2),
        links=[link(HOSTILE, HOSTILE, error=HOSTILE, state=HOSTILE)],
    )
    v = view(
        Collected(
            group=HOSTILE,
            region=HOSTILE,
            at_ms=0,
            regions=[RegionReply(HOSTILE, reply), RegionReply("b", None, HOSTILE)],
            conflicts=[conflict(HOSTILE, HOSTILE, HOSTILE, HOSTILE, 0, [HOSTILE])],
            conflicts_error=HOSTILE,
            triggers=[trigger_row(HOSTILE, HOSTILE, table=HOSTILE, error=HOSTILE)],
        )
    )
    document = page_html.render(v)
    parsed = Tags()
    parsed.feed(document)
    names = {tag for tag, _ in parsed.tags}
    assert "img" not in names
    assert [tag for tag, _ in parsed.tags].count("script") == 1  # the page's own
    assert not any(key.startswith("on") for _, attrs in parsed.tags for key in attrs), (
        "an event handler attribute slipped in"
    )
    text = "".join(parsed.text)
    assert text.count(HOSTILE) >= 8  # the names are there, as text
    assert "<script>alert" not in document and "<img" not in document


def test_the_csp_admits_exactly_the_pages_own_script_and_style() -> None:
    document = page_html.render(view(collected(status("a"))))
    script = re.search(r"<script>(.*)</script>", document, re.S)
    style = re.search(r"<style>(.*)</style>", document, re.S)
    assert script is not None and style is not None
    for body in (script.group(1), style.group(1)):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in page_html.CSP
    assert "unsafe-inline" not in page_html.CSP and "default-src 'none'" in page_html.CSP
    assert "http" not in document.replace("http-equiv", "")  # nothing fetched from elsewhere


# ---------------------------------------------------------------- HTML or JSON


@pytest.mark.parametrize(
    ("query", "accept", "as_json"),
    [
        ("", "", False),
        ("", "text/html,application/xhtml+xml,*/*;q=0.8", False),
        ("", "application/json", True),
        ("format=json", "text/html", True),
        ("format=html", "application/json", False),
        ("format=json&format=html", "", False),
        ("other=1", "application/json, text/plain", True),
    ],
)
def test_json_or_html(query: str, accept: str, as_json: bool) -> None:
    assert wants_json(query, accept) is as_json


# ---------------------------------------------------------------- the cache


class CountingCollector:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def collect(self) -> Collected:
        self.calls += 1
        await self.release.wait()
        return collected(status("a"))


def test_concurrent_viewers_share_one_collection_and_reuse_it_within_the_ttl() -> None:
    async def scenario() -> None:
        source = CountingCollector()
        cache = StatusCache(source.collect, ttl_s=3600)
        waiting = [asyncio.ensure_future(cache.get()) for _ in range(20)]
        await asyncio.sleep(0)
        source.release.set()
        pages = await asyncio.gather(*waiting)
        assert source.calls == 1
        assert len({id(p) for p in pages}) == 1
        assert await cache.get() is pages[0] and source.calls == 1

    asyncio.run(scenario())


def test_an_aged_page_is_collected_again() -> None:
    async def scenario() -> None:
        source = CountingCollector()
        source.release.set()
        cache = StatusCache(source.collect, ttl_s=0)
        await cache.get()
        await cache.get()
        assert source.calls == 2

    asyncio.run(scenario())


def test_a_failed_collection_is_not_kept() -> None:
    calls = []

    async def failing() -> Collected:
        calls.append(1)
        raise RuntimeError("node gone")

    async def scenario() -> None:
        cache = StatusCache(failing, ttl_s=3600)
        for _ in range(2):
            with pytest.raises(RuntimeError):
                await cache.get()
        assert len(calls) == 2

    asyncio.run(scenario())


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(5)
    running.close()


def serve(
    loop: asyncio.AbstractEventLoop, auth: BasicAuth | None = None
) -> Iterator[tuple[str, CountingCollector]]:
    source = CountingCollector()
    source.release.set()
    cache = StatusCache(source.collect, ttl_s=3600)
    address = free_address()
    endpoint = MetricsEndpoint(
        address,
        CollectorRegistry(),
        "replicator.metrics",
        auth=auth,
        pages={"/status": status_app(cache, loop)},
    )
    endpoint.start()
    try:
        yield f"http://{address}", source
    finally:
        endpoint.stop()


@pytest.fixture
def served(loop: asyncio.AbstractEventLoop) -> Iterator[tuple[str, CountingCollector]]:
    yield from serve(loop)


def fetch(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_html_and_json_at_the_same_path(served: tuple[str, CountingCollector]) -> None:
    base, _ = served
    code, headers, body = fetch(f"{base}/status")
    assert code == 200 and headers["Content-Type"].startswith("text/html")
    assert headers["Content-Security-Policy"] == page_html.CSP
    assert headers["Cache-Control"] == "no-store" and headers["Vary"] == "Accept"
    assert b"<h2>Links</h2>" in body
    for url, extra in (
        (f"{base}/status?format=json", {}),
        (f"{base}/status/", {"Accept": "application/json"}),
    ):
        code, headers, body = fetch(url, **extra)
        assert code == 200 and headers["Content-Type"] == "application/json"
        assert json.loads(body)["regions"][0]["region"] == "a"
    code, headers, _ = fetch(f"{base}/metrics")
    assert code == 200 and headers["Content-Type"].startswith("text/plain")


def test_the_page_is_read_only(served: tuple[str, CountingCollector]) -> None:
    base, source = served
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        code, headers, _ = fetch(f"{base}/status", method)
        assert (code, headers["Allow"]) == (405, "GET, HEAD")
    code, _, body = fetch(f"{base}/status", "HEAD")
    assert (code, body) == (200, b"")
    assert source.calls == 1  # one collection for every request above


def test_the_page_sits_behind_the_endpoints_basic_auth(
    loop: asyncio.AbstractEventLoop, tmp_path: Any
) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    for base, source in serve(loop, BasicAuth("ops", secret)):
        code, _, _ = fetch(f"{base}/status")
        assert code == 401 and source.calls == 0
        token = base64.b64encode(b"ops:s3cret").decode()
        code, _, _ = fetch(f"{base}/status", Authorization=f"Basic {token}")
        assert code == 200


def test_rendered_once_per_collection() -> None:
    page = rendered(collected(status("a")), at=0.0)
    assert json.loads(page.json)["group"] == "g"
    assert page.html.startswith(b"<!doctype html>")


# ---------------------------------------------------------------- the lag history


class FakeNode:
    """The two peer-door calls region_status makes."""

    async def NodeInfo(self, request: pb.NodeInfoRequest, timeout: float) -> pb.NodeInfoResponse:
        return pb.NodeInfoResponse(bootstrap=pb.BootstrapState(state="ACTIVE"))

    async def DescribeStream(self, request: Any, timeout: float) -> pb.DescribeStreamResponse:
        raise AssertionError("no tables here")


def test_each_link_keeps_a_bounded_lag_history_that_status_hands_out() -> None:
    from replicator.link import LAG_HISTORY
    from replicator.service import region_status
    from tests.unit.test_link_errors import link as make_link

    link = make_link()
    for n in range(LAG_HISTORY + 30):
        link.status.lag_history.append(float(n))
    assert len(link.status.lag_history) == LAG_HISTORY
    reply = asyncio.run(region_status("us", FakeNode(), [link], link.pins))  # type: ignore[arg-type]
    (shown,) = reply.links
    assert list(shown.lag_history) == [float(n) for n in range(30, LAG_HISTORY + 30)]
    assert (shown.source, shown.target, reply.region_state) == ("eu", "us", "ACTIVE")


def test_a_failed_collection_answers_503_and_the_next_request_tries_again(
    loop: asyncio.AbstractEventLoop,
) -> None:
    calls = []

    async def failing() -> Collected:
        calls.append(1)
        raise RuntimeError("node gone")

    address = free_address()
    endpoint = MetricsEndpoint(
        address,
        CollectorRegistry(),
        "replicator.metrics",
        pages={"/status": status_app(StatusCache(failing), loop)},
    )
    endpoint.start()
    try:
        for _ in range(2):
            code, _, body = fetch(f"http://{address}/status")
            assert (code, body) == (503, b"status not available; see the replicator's log\n")
    finally:
        endpoint.stop()
    assert len(calls) == 2


def test_tables_left_out_and_set_aside_are_warnings() -> None:
    excluded = [rpb.TableMismatch(table="carts", reason="table 'carts' differs in b")]
    reply = rpb.StatusResponse(
        region="a",
        region_state="ACTIVE",
        links=[link("b", "a", excluded_tables=excluded)],
        set_aside=[pb.SetAsideTable(table="carts", kept_as="x", reason="another came first")],
    )
    model = view(collected(RegionReply("a", reply)))
    (shown,) = model["links"]
    assert shown["health"] == "warn" and "left out: table 'carts' differs in b" in shown["error"]
    (region_a,) = model["regions"]
    assert region_a["health"] == "warn"
    assert region_a["error"] == "table carts set aside: another came first"
