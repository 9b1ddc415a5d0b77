import re
from decimal import Decimal

import pytest

from models.quantity import QuantityError, format_units, parse_quantity, to_units


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250m", Decimal("0.25")),
        ("0.5", Decimal("0.5")),
        ("1", Decimal(1)),
        ("1.5Gi", Decimal(1536 * 2**20)),
        ("100Mi", Decimal(100 * 2**20)),
        ("1Ki", Decimal(1024)),
        ("2Ti", Decimal(2 * 2**40)),
        ("1Ei", Decimal(2**60)),
        ("2e3", Decimal(2000)),
        ("2E3", Decimal(2000)),
        ("5e-3", Decimal("0.005")),
        ("1k", Decimal(1000)),
        ("1M", Decimal(10**6)),
        ("1G", Decimal(10**9)),
        ("3T", Decimal(3 * 10**12)),
        ("100n", Decimal("1e-7")),
        ("10u", Decimal("1e-5")),
        (".5", Decimal("0.5")),
        ("+1", Decimal(1)),
        ("1.", Decimal(1)),
        (3, Decimal(3)),
        (0.1, Decimal("0.1")),
        ("0", Decimal(0)),
    ],
)
def test_valid_quantities(text: object, expected: Decimal) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "", " 1", "1 ", "1 Gi", "NaN", "Infinity", "inf", "1Gb", "1g", "1KiB", "1x", "m",
        "1.2.3", "--1", "1e", "1e3.5", "0x10", "1_000", True, None, [], float("nan"),
        float("inf"), "1e400",
    ],
)
def test_invalid_quantities(text: object) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_rounding_direction() -> None:
    # Requests round up, capacities round down, cpu in millicores.
    assert to_units("cpu", Decimal("0.0001"), round_up=True) == 1
    assert to_units("cpu", Decimal("0.0001"), round_up=False) == 0
    assert to_units("cpu", parse_quantity("250m"), round_up=True) == 250
    assert to_units("memory", parse_quantity("1Mi"), round_up=True) == 2**20
    assert to_units("nvidia.com/gpu", parse_quantity("0.5"), round_up=True) == 500
    assert to_units("pods", parse_quantity("110"), round_up=False) == 110


def test_format_round_trips() -> None:
    assert format_units("cpu", 300) == "300m"
    assert format_units("cpu", 2000) == "2"
    assert format_units("memory", 320 * 2**20) == "320Mi"
    assert format_units("memory", 16 * 2**30) == "16Gi"
    assert format_units("memory", 1000) == "1k"
    assert format_units("memory", 100_000_000) == "100M"
    assert format_units("memory", 1001) == "1001"
    for units in (1, 250, 1500, 64000):
        assert to_units("cpu", parse_quantity(format_units("cpu", units)), round_up=True) == units


@pytest.mark.parametrize(
    ("text", "suggested"),
    [
        ("512MB", {"512M": 512 * 10**6, "512Mi": 512 * 2**20}),
        ("1GB", {"1G": 10**9, "1Gi": 2**30}),
        ("2KB", {"2k": 2000, "2Ki": 2048}),
        ("1.5gb", {"1.5G": Decimal("1.5e9"), "1.5Gi": 1536 * 2**20}),
        ("512MiB", {"512Mi": 512 * 2**20}),
        ("100B", {"100": 100}),
    ],
)
def test_byte_suffixes_are_told_what_to_write(text: str, suggested: dict[str, int]) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    message = str(info.value)
    assert "no B suffix" in message
    quoted = re.findall(r"'([^']*)'", message)[1:]  # the first is the input itself
    assert quoted == list(suggested)
    for written, amount in suggested.items():  # what it suggests is valid, and that size
        assert parse_quantity(written) == amount


def test_other_bad_quantities_get_no_byte_hint() -> None:
    for text in ("xMB", "1 Gi", "Gi"):
        with pytest.raises(QuantityError) as info:
            parse_quantity(text)
        assert "B suffix" not in str(info.value)
