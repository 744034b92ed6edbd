"""The phone extras install a consistent set: every installed package they pull in (recursively)
has its requirements met, typing-extensions included (xdsl, through litert-converter, pins it
below 4.13 while recent cattrs, through executorch's coremltools, needs 4.14)."""
from __future__ import annotations

import importlib.metadata as md

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mobile_support import require


def _unmet(extras: tuple[str, ...]) -> list[str]:
    todo = [(canonicalize_name("moga_zoo"), extras)]
    seen, problems = set(), []
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        for text in md.distribution(name).requires or []:
            req = Requirement(text)
            if req.marker is not None and not any(
                    req.marker.evaluate({"extra": e}) for e in (*wanted, "")):
                continue
            try:
                version = md.version(req.name)
            except md.PackageNotFoundError:
                problems.append(f"{name} needs {req}, which is not installed")
                continue
            if not req.specifier.contains(version, prereleases=True):
                problems.append(f"{name} needs {req}, installed {version}")
            todo.append((canonicalize_name(req.name), tuple(sorted(req.extras))))
    return problems


@pytest.mark.parametrize("extras", [("litert",), ("executorch",), ("litert", "executorch")])
def test_phone_extras_resolve_to_a_consistent_set(extras):
    for extra in extras:
        require({"litert": "ai_edge_litert", "executorch": "executorch"}[extra])
    assert _unmet(extras) == []
