"""The probe registry: built-in probes and third-party ones from the ``fever.probes`` entry points.

A plugin distribution declares, in its ``pyproject.toml``::

    [project.entry-points."fever.probes"]
    my-probe = "my_package.module:MyProbe"

and ``probes.create("my-probe", ...)`` then builds it like a built-in one.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, Callable

from .base import Probe, ProbeError

ENTRY_POINT_GROUP = "fever.probes"
_BUILTIN: dict[str, type[Probe]] = {}


def register(name: str) -> Callable[[type[Probe]], type[Probe]]:
    """Class decorator of the built-in probes.

    Args:
        name: the name :func:`create` takes.

    Returns:
        The decorator, which returns the class unchanged (with ``name`` set).
    """

    def wrap(cls: type[Probe]) -> type[Probe]:
        if name in _BUILTIN:
            raise ValueError(f"probe {name!r} is registered twice")
        cls.name = name
        _BUILTIN[name] = cls
        return cls

    return wrap


def _plugins() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Names of every probe.

    Returns:
        The sorted names of the built-in probes and of installed plugins.
    """
    _load_builtins()
    return sorted(set(_BUILTIN) | set(_plugins()))


def create(name: str, **params: Any) -> Probe:
    """Build an unfitted probe by name.

    Args:
        name: a name of :func:`available`.
        **params: the probe's parameters (e.g. ``C=100`` for ``logistic``).

    Returns:
        The probe.
    """
    _load_builtins()
    if name in _BUILTIN:
        return _BUILTIN[name](**params)
    plugins = _plugins()
    if name in plugins:
        cls = plugins[name].load()
        if not (isinstance(cls, type) and issubclass(cls, Probe)):
            raise ProbeError(f"plugin {name!r} ({plugins[name].value}) is not a probes.Probe subclass")
        cls.name = name
        return cls(**params)
    raise ProbeError(f"unknown probe {name!r}; available: {', '.join(available())}")


def _load_builtins() -> None:
    from . import blstm_clip, logistic, lstm_va, multitask  # noqa: F401  (each registers itself)
