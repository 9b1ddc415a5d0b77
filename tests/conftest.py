from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def load_example(name: str) -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLES / name).read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture
def reference() -> dict[str, Any]:
    return load_example("reference.yaml")


@pytest.fixture
def reference_review() -> dict[str, Any]:
    return load_example("reference-review.yaml")
