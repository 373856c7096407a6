"""Signatures of PyTorch and ember callables, and how they differ.

Builtins carry no signature; PyTorch's ``torch.overrides.get_testing_overrides()`` maps each
of them to a lambda with its parameters, which stands in for it. Tensor methods share those
lambdas with the functions, so their ``out=`` (which no Tensor method takes) is dropped.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

P = inspect.Parameter
POSITIONAL = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
# torch's losses still take these before ``reduction``; its docs mark them deprecated in its favour
DEPRECATED = frozenset({"size_average", "reduce"})


def _callable_of(obj: Any) -> Any:
    """The function whose parameters describe ``obj``: a class's constructor, a descriptor's
    function; None for data attributes (properties, fields), which have no signature."""
    if isinstance(obj, (staticmethod, classmethod)):
        return obj.__func__
    if inspect.isclass(obj):
        init = inspect.getattr_static(obj, "__init__")
        if init is not object.__init__:
            return init
        new = inspect.getattr_static(obj, "__new__")
        return new.__func__ if isinstance(new, staticmethod) else None
    if isinstance(obj, property) or inspect.isdatadescriptor(obj):
        return None
    return obj if callable(obj) else None


def signature_of(
    obj: Any, overrides: Mapping[Any, Any] = {}, bound: bool = False
) -> inspect.Signature | None:
    """``obj``'s parameters without ``self``/``cls`` (``bound``: obj is a method or a class);
    None where nothing can be inspected or all it says is ``(*args, **kwargs)``."""
    fn = _callable_of(obj)
    if fn is None:
        return None
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        stand_in = overrides.get(fn, overrides.get(obj))
        if stand_in is None:
            return None
        sig = inspect.signature(stand_in)
        if bound:
            sig = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "out"])
    params = list(sig.parameters.values())
    drop_first = (bound and not isinstance(obj, staticmethod)) or inspect.isclass(obj)
    if drop_first and params and params[0].kind in POSITIONAL:
        params = params[1:]
    if all(p.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD) for p in params) and params:
        return None
    return sig.replace(parameters=params)


def _same(a: Any, b: Any) -> bool:
    """Equal defaults: 0 and 0.0 are, True and 1 are not."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool):
        return not isinstance(b, bool) and a == b
    try:
        return type(a) is type(b) and bool(a == b) or repr(a) == repr(b)
    except Exception:  # a default whose == is not a bool (an array, a tensor)
        return repr(a) == repr(b)


def differences(torch_sig: inspect.Signature, ember_sig: inspect.Signature) -> list[str]:
    """How ember's parameters depart from torch's: names and order of positional parameters,
    keyword names, defaults, and parameters ember requires that torch does not. torch's
    private (``_stacklevel``) and deprecated parameters are not compared."""
    ref = [
        p
        for p in torch_sig.parameters.values()
        if not p.name.startswith("_") and p.name not in DEPRECATED
    ]
    ours = ember_sig.parameters
    our_pos = [p for p in ours.values() if p.kind in POSITIONAL]
    var_pos = any(p.kind is P.VAR_POSITIONAL for p in ours.values())
    var_kw = any(p.kind is P.VAR_KEYWORD for p in ours.values())
    problems: list[str] = []
    for i, p in enumerate(q for q in ref if q.kind in POSITIONAL):
        if i >= len(our_pos):
            if not var_pos:
                problems.append(f"lacks {p.name}")
        elif p.kind is P.POSITIONAL_OR_KEYWORD and our_pos[i].name != p.name:
            problems.append(f"{our_pos[i].name} where torch has {p.name}")
    for p in ref:
        if p.kind is P.VAR_POSITIONAL and not var_pos:
            problems.append(f"lacks *{p.name}")
        elif p.kind is P.KEYWORD_ONLY and p.name not in ours and not var_kw:
            problems.append(f"lacks {p.name}")
    for p in ref:
        mine = ours.get(p.name)
        if mine is None or p.default is P.empty or p.kind is P.POSITIONAL_ONLY:
            continue
        if mine.default is P.empty and mine.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD):
            problems.append(f"{p.name} required")
        elif mine.default is not P.empty and not _same(mine.default, p.default):
            problems.append(f"{p.name}={mine.default!r} where torch has {p.default!r}")
    known = {p.name for p in ref}
    for p in our_pos[len([q for q in ref if q.kind in POSITIONAL]) :]:
        if p.default is P.empty and p.name not in known:
            problems.append(f"requires {p.name}")
    return problems
