"""The public API says what its arguments are and what it returns (Args/Returns docstrings)."""

import dataclasses
import inspect

import fever
import probes


def _missing(name, obj):
    doc = inspect.getdoc(obj) or ""
    sig = inspect.signature(obj)
    params = [p for p in sig.parameters if p not in ("self", "cls", "args", "kwargs")]
    gaps = []
    if params and "Args:" not in doc:
        gaps.append(f"{name}: no Args")
    returns = sig.return_annotation not in (None, "None", inspect.Signature.empty)
    if returns and "Returns:" not in doc and "Yields:" not in doc:
        gaps.append(f"{name}: no Returns")
    return gaps


def test_public_functions_and_methods_have_args_and_returns():
    gaps = []
    for name in fever.__all__:
        obj = getattr(fever, name)
        if inspect.isfunction(obj):
            gaps += _missing(f"fever.{name}", obj)
        elif inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if inspect.isfunction(member) and not attr.startswith("_"):
                    gaps += _missing(f"fever.{name}.{attr}", member)
            if not dataclasses.is_dataclass(obj) and "__init__" in vars(obj):
                doc = inspect.getdoc(obj) or ""
                if "Args:" not in doc and "Args:" not in (inspect.getdoc(obj.__init__) or ""):
                    gaps.append(f"fever.{name}: constructor without Args")
    for name in probes.__all__:
        obj = getattr(probes, name)
        if inspect.isfunction(obj):
            gaps += _missing(f"probes.{name}", obj)
    assert not gaps, "\n".join(gaps)
