"""The package rules in pyproject.toml, checked by import-linter on every run
of ./scripts/test, name packages one by one: a package added later would be
allowed everywhere unless it is added to each list. This test says so."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "hubbub"

# What each rule's source may import, beside itself.
ALLOWED = {
    "hubbub.protocol": set(),
    "hubbub.core": {"hubbub.protocol"},
    "hubbub.blobs": {"hubbub.boto", "hubbub.core", "hubbub.protocol"},
    "hubbub.session": {"hubbub.core", "hubbub.protocol"},
    "hubbub.client": {"hubbub.protocol"},
    "hubbub.transfer": {"hubbub.boto", "hubbub.core", "hubbub.protocol", "hubbub.store"},
}


def packages() -> set[str]:
    """hubbub's first-level modules and packages that hold Python code."""
    out = set()
    for p in SRC.iterdir():
        if p.is_dir() and (p / "__init__.py").exists():
            out.add(f"hubbub.{p.name}")
        elif p.suffix == ".py" and not p.name.startswith("__"):
            out.add(f"hubbub.{p.stem}")
    return out


def contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def test_each_rule_forbids_every_other_package() -> None:
    forbidden = {
        c["source_modules"][0]: set(c["forbidden_modules"])  # type: ignore[index]
        for c in contracts()
        if c["type"] == "forbidden"
    }
    assert set(forbidden) == set(ALLOWED)
    for source, allowed in ALLOWED.items():
        assert forbidden[source] == packages() - allowed - {source}, source


def test_the_drivers_are_independent() -> None:
    independent = [set(c["modules"]) for c in contracts() if c["type"] == "independence"]  # type: ignore[call-overload]
    assert {"hubbub.server", "hubbub.aws"} in independent
