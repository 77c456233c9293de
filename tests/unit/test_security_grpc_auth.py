"""Access keys on gRPC calls: the signed header, the replay cache, and a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from meridian.security import certs, grpc_auth
from meridian.security.access import AccessKey, Permission
from meridian.security.grpc_auth import (
    Refusal,
    ReplayCache,
    Signed,
    Unauthenticated,
    access_key_interceptors,
)
from meridian.wire import errors
from tests.unit.security_support import (
    BIDI,
    CLIENT_STREAM,
    SERVER_STREAM,
    UNARY,
    Seen,
    echo_server,
    run,
)

KEY = AccessKey("MKTESTKEY00000000001", "secret-0123456789abcdef", Permission.READ_WRITE)
KEYS = {KEY.key_id: KEY}
METHOD = "/meridian.Client/PutItem"
NOW = 1_700_000_000_000  # the pure tests take any clock: nothing here reads the real one
NONCE = "0123456789abcdef01234567"
SKEW = grpc_auth.MAX_SKEW_MS


def header(
    method: str = METHOD, at: int = NOW, nonce: str = NONCE, secret: str = KEY.secret
) -> str:
    return grpc_auth.sign(KEY.key_id, secret, method, at, nonce)


def test_a_signed_call_verifies() -> None:
    signed = grpc_auth.verify(header(), METHOD, NOW, KEYS.get)
    assert signed == Signed(KEY, NONCE, NOW)
    for now in (NOW - SKEW, NOW + SKEW):
        assert grpc_auth.verify(header(), METHOD, now, KEYS.get).key == KEY


def _swap(value: str, field: str, new: str) -> str:
    head, _, rest = value.partition(f"{field}=")
    _, comma, tail = rest.partition(",")
    return f"{head}{field}={new}{comma}{tail}"


@pytest.mark.parametrize(
    ("value", "method", "now", "reason"),
    [
        (None, METHOD, NOW, Refusal.MISSING),
        ("", METHOD, NOW, Refusal.MISSING),
        (KEY.secret, METHOD, NOW, Refusal.MALFORMED),
        (f"Bearer {KEY.secret}", METHOD, NOW, Refusal.MALFORMED),
        (
            header().replace("MERIDIAN-HMAC-SHA256", "AWS4-HMAC-SHA256"),
            METHOD,
            NOW,
            Refusal.MALFORMED,
        ),
        (header().replace(", ", ","), METHOD, NOW, Refusal.MALFORMED),
        (header() + " ", METHOD, NOW, Refusal.MALFORMED),
        (header(nonce="abc"), METHOD, NOW, Refusal.MALFORMED),
        (
            header().upper().replace("MERIDIAN-HMAC-SHA256", "MERIDIAN-HMAC-SHA256"),
            METHOD,
            NOW,
            Refusal.MALFORMED,
        ),
        (header(), METHOD, NOW + SKEW + 1, Refusal.CLOCK_SKEW),
        (header(), METHOD, NOW - SKEW - 1, Refusal.CLOCK_SKEW),
        (_swap(header(), "Credential", "MKUNKNOWN00000000001"), METHOD, NOW, Refusal.UNKNOWN_KEY),
        (header(secret="another-secret-0123456"), METHOD, NOW, Refusal.BAD_SIGNATURE),
        (header(), "/meridian.Client/DeleteItem", NOW, Refusal.BAD_SIGNATURE),
        (_swap(header(), "Timestamp", str(NOW + 1)), METHOD, NOW, Refusal.BAD_SIGNATURE),
        (_swap(header(), "Nonce", "f" * 24), METHOD, NOW, Refusal.BAD_SIGNATURE),
    ],
)
def test_bad_headers_are_refused(value: str | None, method: str, now: int, reason: Refusal) -> None:
    with pytest.raises(Unauthenticated) as refused:
        grpc_auth.verify(value, method, now, KEYS.get)
    assert refused.value.reason is reason
    assert KEY.secret not in str(refused.value)


def test_refusal_messages() -> None:
    with pytest.raises(Unauthenticated, match=r"signed \+300\.1 s from the server's clock"):
        grpc_auth.verify(header(), METHOD, NOW + SKEW + 100, KEYS.get)
    with pytest.raises(Unauthenticated, match="unknown access key MKUNKNOWN00000000001"):
        grpc_auth.verify(
            _swap(header(), "Credential", "MKUNKNOWN00000000001"), METHOD, NOW, KEYS.get
        )


def signed(at: int, nonce: str = NONCE, key: AccessKey = KEY) -> Signed:
    return Signed(key, nonce, at)


def replayed(cache: ReplayCache, entry: Signed, now: int) -> bool:
    try:
        cache.admit(entry, now)
    except Unauthenticated as exc:
        assert exc.reason is Refusal.REPLAYED
        return True
    return False


def test_each_nonce_is_admitted_once() -> None:
    cache = ReplayCache()
    other_key = AccessKey("MKOTHER0000000000001", "x" * 20, Permission.READ_ONLY)
    assert not replayed(cache, signed(NOW), NOW)
    assert replayed(cache, signed(NOW), NOW)
    assert replayed(cache, signed(NOW), NOW + SKEW)
    assert not replayed(cache, signed(NOW, "b" * 24), NOW)
    assert not replayed(cache, signed(NOW, key=other_key), NOW)
    assert len(cache) == 3


def test_old_entries_are_forgotten_but_never_readmitted() -> None:
    cache = ReplayCache()
    cache.admit(signed(NOW), NOW)
    cache.admit(signed(NOW + 10, "b" * 24), NOW + SKEW + 5)  # forgets the first
    assert len(cache) == 1
    assert replayed(cache, signed(NOW), NOW)  # the clock stepped back: still refused


def test_a_full_cache_refuses_what_it_may_have_forgotten() -> None:
    cache = ReplayCache(max_entries=3)
    for i in range(4):
        cache.admit(signed(NOW + i, f"{i:024x}"), NOW)
    assert len(cache) == 3
    assert replayed(cache, signed(NOW, f"{0:024x}"), NOW)  # forgotten, refused by the floor
    assert replayed(cache, signed(NOW, "e" * 24), NOW)  # new, but as old as the forgotten
    assert not replayed(cache, signed(NOW + 1, "f" * 24), NOW)


def test_authenticate_takes_exactly_one_header() -> None:
    cache = ReplayCache()
    value = header()
    with pytest.raises(Unauthenticated) as refused:
        grpc_auth.authenticate([("authorization", value)] * 2, METHOD, NOW, KEYS.get, cache)
    assert refused.value.reason is Refusal.MALFORMED
    key = grpc_auth.authenticate(
        [("x-other", "1"), ("authorization", value)], METHOD, NOW, KEYS.get, cache
    )
    assert key == KEY
    with pytest.raises(Unauthenticated) as refused:
        grpc_auth.authenticate([("authorization", value)], METHOD, NOW, KEYS.get, cache)
    assert refused.value.reason is Refusal.REPLAYED


# --------------------------------------------------------------------------- real gRPC


def refusal_of(exc: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str, str]:
    """The status code and the ErrorInfo reason and refusal of a failed call."""
    trailers = dict(exc.trailing_metadata() or ())
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.domain == "meridian"
    return exc.code(), info.reason, info.metadata["refusal"]


async def every_kind(channel: grpc.aio.Channel) -> list[Any]:
    async def two() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    results: list[Any] = [await channel.unary_unary(UNARY)(b"u", timeout=5)]
    results.append([r async for r in channel.unary_stream(SERVER_STREAM)(b"s", timeout=5)])
    results.append(await channel.stream_unary(CLIENT_STREAM)(two(), timeout=5))
    results.append([r async for r in channel.stream_stream(BIDI)(two(), timeout=5)])
    return results


EXPECTED = [b"u", [b"s", b"s"], b"ab", [b"a", b"b"]]


def serving(seen: Seen, public: tuple[str, ...] = ()) -> Any:
    seen.hook = lambda context: seen.auth.append({"key": [grpc_auth.current_access_key()]})  # type: ignore[list-item]
    return grpc_auth.access_key_guard(KEYS.get, public=public)


def keys_seen(seen: Seen) -> list[Any]:
    return [a["key"][0] for a in seen.auth if "key" in a]


def test_signed_calls_of_every_kind_reach_the_handler_with_their_key() -> None:
    seen = Seen()
    interceptors = access_key_interceptors(KEY.key_id, KEY.secret)

    async def scenario() -> None:
        async with echo_server(None, seen, [serving(seen)]) as port:
            target = f"127.0.0.1:{port}"
            async with grpc.aio.insecure_channel(target, interceptors=interceptors) as channel:
                assert await every_kind(channel) == EXPECTED

    run(scenario)
    assert keys_seen(seen) == [KEY] * 4
    assert all(str(m["authorization"]).startswith("MERIDIAN-HMAC-SHA256 ") for m in seen.metadata)


def test_signed_calls_over_tls() -> None:
    ca = certs.new_ca("g1")
    server = certs.issue_region(ca, "g1", "r1", loopback=True)
    credentials = grpc.ssl_server_credentials([(server.key_pem(), server.cert_pem())])
    seen = Seen()

    async def scenario() -> None:
        async with echo_server(credentials, seen, [serving(seen)]) as port:
            channel = grpc.aio.secure_channel(
                f"127.0.0.1:{port}",
                grpc.ssl_channel_credentials(ca.cert_pem()),
                interceptors=access_key_interceptors(KEY.key_id, KEY.secret),
            )
            async with channel:
                assert await every_kind(channel) == EXPECTED

    run(scenario)
    assert keys_seen(seen) == [KEY] * 4


@pytest.mark.parametrize(
    ("interceptors", "refusal"),
    [
        ([], Refusal.MISSING),
        (access_key_interceptors(KEY.key_id, "wrong-secret-0123456789"), Refusal.BAD_SIGNATURE),
        (access_key_interceptors("MKUNKNOWN00000000001", KEY.secret), Refusal.UNKNOWN_KEY),
        (
            access_key_interceptors(KEY.key_id, KEY.secret, lambda: 1_000),  # a clock far off
            Refusal.CLOCK_SKEW,
        ),
    ],
)
def test_calls_without_a_valid_key_are_refused_before_the_handler(
    interceptors: list[Any], refusal: Refusal
) -> None:
    seen = Seen()
    calls: list[Callable[[grpc.aio.Channel], Any]] = [
        lambda c: c.unary_unary(UNARY)(b"u", timeout=5),
        lambda c: _drain(c.unary_stream(SERVER_STREAM)(b"s", timeout=5)),
        lambda c: c.stream_unary(CLIENT_STREAM)(iter([b"a"]), timeout=5),
        lambda c: _drain(c.stream_stream(BIDI)(iter([b"a"]), timeout=5)),
    ]

    async def scenario() -> None:
        async with echo_server(None, seen, [serving(seen)]) as port:
            target = f"127.0.0.1:{port}"
            async with grpc.aio.insecure_channel(target, interceptors=interceptors) as channel:
                for call in calls:
                    with pytest.raises(grpc.aio.AioRpcError) as failed:
                        await call(channel)
                    code, reason, why = refusal_of(failed.value)
                    assert (code, reason, why) == (
                        grpc.StatusCode.UNAUTHENTICATED,
                        "UNAUTHENTICATED",
                        refusal,
                    )

    run(scenario)
    assert seen.metadata == []  # no handler ran


async def _drain(call: Any) -> list[Any]:
    return [r async for r in call]


def test_a_captured_header_cannot_be_replayed() -> None:
    seen = Seen()

    async def scenario() -> None:
        async with echo_server(None, seen, [serving(seen)]) as port:
            target = f"127.0.0.1:{port}"
            interceptors = access_key_interceptors(KEY.key_id, KEY.secret)
            async with grpc.aio.insecure_channel(target, interceptors=interceptors) as channel:
                assert await channel.unary_unary(UNARY)(b"u", timeout=5) == b"u"
            captured = seen.metadata[0]["authorization"]
            async with grpc.aio.insecure_channel(target) as channel:
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await channel.unary_unary(UNARY)(
                        b"evil", timeout=5, metadata=[("authorization", captured)]
                    )
            assert refusal_of(failed.value)[2] == Refusal.REPLAYED

    run(scenario)
    assert len(seen.metadata) == 1


def test_public_methods_need_no_key() -> None:
    seen = Seen()

    async def scenario() -> None:
        async with (
            echo_server(None, seen, [serving(seen, public=(UNARY,))]) as port,
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            assert await channel.unary_unary(UNARY)(b"u", timeout=5) == b"u"
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await _drain(channel.unary_stream(SERVER_STREAM)(b"s", timeout=5))
            assert failed.value.code() == grpc.StatusCode.UNAUTHENTICATED

    run(scenario)
    assert keys_seen(seen) == [None]


def test_a_refusal_keeps_the_message_and_the_reason() -> None:
    with pytest.raises(errors.Unauthenticated) as refused:
        grpc_auth.admitted_key((), METHOD, NOW, KEYS.get, ReplayCache())
    assert "authorization" in str(refused.value)
    assert refused.value.metadata == {"refusal": Refusal.MISSING}
