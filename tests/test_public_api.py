"""Convention tests: each package has a small, sorted, documented public API."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = ["dunning", "dunning.datasets", "scoring", "explain"]


def _ruff_order(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions, each A-Z."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolvable(name: str) -> None:
    """``__all__`` is sorted (as ruff sorts it), unique, and every name resolves."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_ruff_order)
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert getattr(module, attr) is not None, f"{name}.{attr} does not resolve"


@pytest.mark.parametrize("name", PACKAGES)
def test_public_callables_have_examples(name: str) -> None:
    """Every public function and class has a docstring; non-exception ones show Examples."""
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no module docstring"
    for attr in module.__all__:
        obj = getattr(module, attr)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        doc = inspect.getdoc(obj) or ""
        assert doc, f"{name}.{attr} has no docstring"
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        owner_doc = inspect.getdoc(importlib.import_module(obj.__module__)) or ""
        assert "Examples" in doc or "Examples" in owner_doc, (
            f"{name}.{attr} has no Examples section (in its docstring or its module's)"
        )


def test_lazy_attributes_of_dunning() -> None:
    """``dunning.load_portfolio`` and ``dunning.run`` load on first use; unknown names fail."""
    import dunning

    assert callable(dunning.load_portfolio)
    assert callable(dunning.run)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = dunning.nonexistent  # type: ignore[attr-defined]
