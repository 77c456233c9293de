"""Key encodings: bytewise order equals DynamoDB order, and encodings are prefix-free."""

from __future__ import annotations

import decimal
import itertools
import random
import struct
from decimal import Decimal

import pytest

from meridian.model.items import ItemError
from meridian.model.keys import check_type, encode_component, encode_prefix
from meridian.pb import node_pb2 as pb

S, N, B = pb.KEY_TYPE_S, pb.KEY_TYPE_N, pb.KEY_TYPE_B

NUMBERS = [
    "-9.9999999999999999999999999999999999999E+125",
    "-1E+125",
    "-12345678901234567890123456789012345678",
    "-1E+21",
    "-101",
    "-100",
    "-10",
    "-9.99",
    "-9",
    "-1.5",
    "-1.01",
    "-1.0",
    "-1",
    "-0.1",
    "-0.10",
    "-0.09",
    "-0.0900001",
    "-0.000001",
    "-1E-129",
    "-1E-130",
    "-0",
    "0",
    "0.000",
    "0E+5",
    "1E-130",
    "1.5E-130",
    "1E-129",
    "0.000001",
    "0.09",
    "0.0900001",
    "0.1",
    "0.10",
    "0.11",
    "1",
    "1.0",
    "1." + "0" * 36 + "1",  # 38 significant digits
    "1." + "0" * 36 + "2",
    "1.01",
    "1.1",
    "1.5",
    "2",
    "9",
    "9.99",
    "10",
    "10.5",
    "11",
    "99",
    "100",
    "101",
    "110",
    "1E+21",
    "12345678901234567890123456789012345678",
    "1E+125",
    "9.99E+125",
    "9.9999999999999999999999999999999999999E+125",
]

STRINGS = [
    "",
    "\x00",
    "\x00\x00",
    "\x00\x01",
    "\x01",
    "A",
    "Z",
    "a",
    "a\x00",
    "a\x00\x00",
    "a\x00b",
    "a\x01",
    "ab",
    "abc",
    "b",
    "\x7f",
    "é",
    "ée",
    "\u0800",
    "\uffff",
    "😀",
    "😀\x00",
]

BINARIES = [
    b"",
    b"\x00",
    b"\x00\x00",
    b"\x00\x01",
    b"\x00\xff",
    b"\x00\xff\x00",
    b"\x01",
    b"\x01\x00",
    b"a",
    b"a\x00",
    b"ab",
    b"\xfe",
    b"\xff",
    b"\xff\x00",
    b"\xff\xff",
]


def av_n(text: str) -> pb.AttributeValue:
    return pb.AttributeValue(n=text)


def av_s(text: str) -> pb.AttributeValue:
    return pb.AttributeValue(s=text)


def av_b(data: bytes) -> pb.AttributeValue:
    return pb.AttributeValue(b=data)


def enc_n(text: str) -> bytes:
    return encode_component(N, av_n(text), "k")


def enc_s(text: str) -> bytes:
    return encode_component(S, av_s(text), "k")


def enc_b(data: bytes) -> bytes:
    return encode_component(B, av_b(data), "k")


def assert_order_preserved(values: list, encode, true_key) -> None:
    """Sorting by encoding gives the true order, and encodings are equal iff values are."""
    encoded = [(encode(v), true_key(v)) for v in values]
    random.Random(7).shuffle(encoded)
    by_encoding = sorted(encoded, key=lambda pair: pair[0])
    assert [key for _, key in by_encoding] == sorted(key for _, key in encoded)
    for (enc_a, key_a), (enc_b, key_b) in itertools.combinations(encoded, 2):
        assert (enc_a == enc_b) == (key_a == key_b), (key_a, key_b)


def assert_prefix_free(encodings: list[bytes]) -> None:
    for a, b in itertools.permutations(set(encodings), 2):
        assert not b.startswith(a), (a, b)


def true_order(key_type: int, value: str | bytes) -> Decimal | bytes:
    """DynamoDB's order: numbers numerically, strings by UTF-8 bytes, binaries as they are."""
    if key_type == N:
        return Decimal(value)
    return value.encode() if isinstance(value, str) else value


def random_number(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 38)))
    digits = digits.lstrip("0") or "0"
    sign = rng.choice(["", "-"])
    # Keep the magnitude inside DynamoDB's range for any digit count.
    exponent = rng.randint(-130, 125 - len(digits) + 1)
    if rng.random() < 0.5:
        exponent = rng.randint(-8, 3)  # plenty of collisions in a narrow band
    return f"{sign}{digits}E{exponent}"


def random_bytes(rng: random.Random) -> bytes:
    # Mostly the bytes the escaping treats specially.
    return bytes(rng.choice([0x00, 0x01, 0xFE, 0xFF, 0x61]) for _ in range(rng.randint(0, 6)))


def random_string(rng: random.Random) -> str:
    return "".join(rng.choice("\x00\x01aé\uffff😀") for _ in range(rng.randint(0, 5)))


def test_numbers_sort_numerically() -> None:
    assert_order_preserved(NUMBERS, enc_n, Decimal)


def test_strings_sort_by_utf8_bytes() -> None:
    assert_order_preserved(STRINGS, enc_s, lambda s: s.encode())


def test_binaries_sort_by_unsigned_bytes() -> None:
    assert_order_preserved(BINARIES, enc_b, bytes)


def test_random_numbers_sort_numerically() -> None:
    rng = random.Random(20240601)
    assert_order_preserved([random_number(rng) for _ in range(400)], enc_n, Decimal)


def test_random_binaries_sort_by_unsigned_bytes() -> None:
    rng = random.Random(1)
    assert_order_preserved([random_bytes(rng) for _ in range(300)], enc_b, bytes)


def test_random_strings_sort_by_utf8_bytes() -> None:
    rng = random.Random(2)
    assert_order_preserved([random_string(rng) for _ in range(300)], enc_s, lambda s: s.encode())


@pytest.mark.parametrize(
    ("a", "b"),
    [("1", "1.0"), ("-0", "0"), ("0", "0.000"), ("100", "1E+2"), ("0.1", ".10"), ("-5", "-5.00")],
)
def test_equal_numbers_encode_identically(a: str, b: str) -> None:
    assert enc_n(a) == enc_n(b)


def test_trailing_zeros_do_not_lengthen_number_encodings() -> None:
    assert len(enc_n("100000000000000000000")) == len(enc_n("1"))
    assert len(enc_n("-1E+125")) == len(enc_n("-1"))


def stored_number_encoding(text: str) -> bytes:
    """The number encoding as written to disk, computed through Decimal (the reference the
    digit-reading encoder must match byte for byte, or existing stores would misorder)."""
    d = Decimal(text).normalize(decimal.Context(prec=38))
    if d.is_zero():
        return b"\x02"
    negative, digits, _ = d.as_tuple()
    body = struct.pack(">H", d.adjusted() + 0x8000) + bytes(0x30 + x for x in digits)
    if negative:
        return b"\x01" + bytes(0xFF - x for x in body) + b"\xff"
    return b"\x03" + body + b"\x00"


def positional(rng: random.Random) -> str:
    """A number as clients usually spell one: digits, maybe a point, maybe a sign."""
    whole = rng.choice(["0", "7", "10", "1000", str(rng.randint(1, 10 ** rng.randint(1, 20)))])
    fraction = rng.choice(["", "5", "05", "000001", "0000001", str(rng.randint(0, 10**9))])
    sign = rng.choice(["", "-"])
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def test_number_encoding_matches_the_stored_format() -> None:
    rng = random.Random(2026)
    values = NUMBERS + [random_number(rng) for _ in range(2000)]
    values += [positional(rng) for _ in range(2000)]
    for text in values:
        assert enc_n(text) == stored_number_encoding(text), text


def test_encodings_are_prefix_free() -> None:
    assert_prefix_free([enc_n(n) for n in NUMBERS])
    assert_prefix_free([enc_s(s) for s in STRINGS])
    assert_prefix_free([enc_b(b) for b in BINARIES])


@pytest.mark.parametrize(
    ("pk_type", "pk_values", "pk_encode", "sk_type", "sk_values", "sk_encode"),
    [
        (S, STRINGS, av_s, N, NUMBERS[::3], av_n),
        (B, BINARIES, av_b, S, STRINGS[::2], av_s),
        (N, NUMBERS[::2], av_n, B, BINARIES, av_b),
    ],
)
def test_concatenated_keys_sort_by_partition_then_sort_key(
    pk_type, pk_values, pk_encode, sk_type, sk_values, sk_encode
) -> None:
    pairs = list(itertools.product(pk_values, sk_values))
    random.Random(3).shuffle(pairs)

    def encode(pair: tuple) -> bytes:
        pk, sk = pair
        return encode_component(pk_type, pk_encode(pk), "pk") + encode_component(
            sk_type, sk_encode(sk), "sk"
        )

    def order(pair: tuple) -> tuple:
        pk, sk = pair
        return true_order(pk_type, pk), true_order(sk_type, sk)

    assert [order(p) for p in sorted(pairs, key=encode)] == sorted(order(p) for p in pairs)


@pytest.mark.parametrize(
    ("key_type", "encode", "values"),
    [(S, av_s, STRINGS), (B, av_b, BINARIES)],
)
def test_prefix_matches_exactly_the_values_it_begins(key_type, encode, values) -> None:
    rng = random.Random(4)
    more = [random_string(rng) if key_type == S else random_bytes(rng) for _ in range(60)]
    for value, prefix in itertools.product(values + more, values):
        component = encode_component(key_type, encode(value), "k")
        matches = component.startswith(encode_prefix(key_type, encode(prefix), "k"))
        assert matches == value.startswith(prefix), (value, prefix)


@pytest.mark.parametrize(
    ("key_type", "value", "max_len", "message"),
    [
        (N, av_s("1"), 2048, "key attribute 'k': expected type N, got S"),
        (S, av_n("1"), 2048, "key attribute 'k': expected type S, got N"),
        (B, av_s("x"), 2048, "key attribute 'k': expected type B, got S"),
        (S, pb.AttributeValue(bool=True), 2048, "key attribute 'k': expected type S, got BOOL"),
        (S, pb.AttributeValue(ss=pb.StringSet(values=["a"])), 2048, "expected type S, got SS"),
        (S, pb.AttributeValue(), 2048, "key attribute 'k': expected type S, got no type"),
        (pb.KEY_TYPE_UNSPECIFIED, av_s("x"), 2048, "key attribute 'k': unsupported key type 0"),
        (S, av_s(""), 2048, "key attribute 'k': must not be empty"),
        (B, av_b(b""), 2048, "key attribute 'k': must not be empty"),
        (S, av_s("x" * 2049), 2048, "key attribute 'k': 2049 bytes exceeds the 2048-byte limit"),
        (S, av_s("é" * 513), 1024, "1026 bytes exceeds the 1024-byte limit"),
        (B, av_b(b"x" * 1025), 1024, "1025 bytes exceeds the 1024-byte limit"),
    ],
)
def test_check_type_rejects(key_type: int, value, max_len: int, message: str) -> None:
    with pytest.raises(ItemError) as exc:
        check_type(key_type, value, "k", max_len)
    assert message in str(exc.value)


@pytest.mark.parametrize(
    ("key_type", "value", "max_len"),
    [
        (S, av_s("x" * 2048), 2048),
        (S, av_s("é" * 512), 1024),
        (B, av_b(b"\x00" * 1024), 1024),
        (N, av_n("-1.5"), 1024),
    ],
)
def test_check_type_accepts(key_type: int, value, max_len: int) -> None:
    check_type(key_type, value, "k", max_len)


def test_check_type_default_limit_is_2048() -> None:
    check_type(S, av_s("x" * 2048), "pk")
    with pytest.raises(ItemError, match="2049 bytes"):
        check_type(S, av_s("x" * 2049), "pk")


def test_encode_component_rejects_type_mismatch() -> None:
    with pytest.raises(ItemError, match="key attribute 'pk': expected type N, got S"):
        encode_component(N, av_s("1"), "pk")


@pytest.mark.parametrize("text", ["abc", "1E+126", "1E-131", "1" * 39, ""])
def test_encode_component_rejects_invalid_numbers(text: str) -> None:
    with pytest.raises(ItemError, match="'pk'"):
        encode_component(N, av_n(text), "pk")


def test_encode_prefix_rejects_numbers() -> None:
    with pytest.raises(ItemError, match="key attribute 'sk': begins_with"):
        encode_prefix(N, av_n("1"), "sk")
