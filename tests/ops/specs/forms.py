"""Op database: the other ways to call the ops above (Tensor methods, operators, in-place
methods and aliases).

PyTorch reaches most ops through several bindings (``torch.abs``, ``torch.absolute``,
``x.abs()``, ``abs(x)`` through ``__abs__``, ``x.abs_()``), and each binding can drift on its own:
a missing parameter, a reflected operator with its operands swapped, an in-place method that
does not cast back. Each form here reuses its base spec's first sample that fits, so a binding
costs a few cases instead of a copy of the spec.

Form syntax: ``name`` is ``lib.name(*args)``; ``.name`` is the method ``args[0].name(*rest)``;
``.name_`` and ``.__iop__`` run in place on a clone of ``args[0]`` (so gradients still reach
it); ``.__rop__`` is the reflected operator, ``args[1].__rop__(args[0])``.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample

_UNARY_INPLACE = (
    "exp exp2 log log2 log10 log1p expm1 sqrt rsqrt sin cos tan asin acos atan sinh cosh tanh "
    "sigmoid relu erf abs sign floor ceil round trunc reciprocal square neg"
).split()

FORMS: dict[str, str] = {
    **{name: f".{name} .{name}_" for name in _UNARY_INPLACE},
    "asin": ".asin .asin_ arcsin .arcsin .arcsin_",
    "acos": ".acos .acos_ arccos .arccos .arccos_",
    "atan": ".atan .atan_ arctan .arctan .arctan_",
    "abs": ".abs .abs_ absolute .absolute .absolute_ .__abs__",
    "trunc": ".trunc .trunc_ fix .fix .fix_",
    "neg": ".neg .neg_ negative .negative .negative_ .__neg__",
    "clone": ".clone .__pos__",
    "isnan": ".isnan",
    "isinf": ".isinf",
    "isfinite": ".isfinite",
    "add": ".add .add_ .__add__ .__radd__ .__iadd__",
    "sub": ".sub .sub_ subtract .subtract .subtract_ .__sub__ .__rsub__ .__isub__",
    "mul": ".mul .mul_ multiply .multiply .multiply_ .__mul__ .__rmul__ .__imul__",
    "div": ".div .div_ divide .divide .divide_ true_divide .true_divide .true_divide_ "
    ".__truediv__ .__rtruediv__ .__itruediv__",
    "floor_divide": ".floor_divide .floor_divide_ .__floordiv__ .__rfloordiv__",
    "remainder": ".remainder .remainder_ .__mod__ .__rmod__",
    "fmod": ".fmod .fmod_",
    "pow": ".pow .pow_ .__pow__ .__rpow__ .__ipow__",
    "maximum": ".maximum",
    "minimum": ".minimum",
    "atan2": ".atan2 .atan2_ arctan2 .arctan2 .arctan2_",
    "eq": ".eq .eq_ .__eq__",
    "ne": ".ne .ne_ not_equal .not_equal .not_equal_ .__ne__",
    "lt": ".lt .lt_ less .less .less_ .__lt__",
    "le": ".le .le_ less_equal .less_equal .less_equal_ .__le__",
    "gt": ".gt .gt_ greater .greater .greater_ .__gt__",
    "ge": ".ge .ge_ greater_equal .greater_equal .greater_equal_ .__ge__",
    "logical_and": ".logical_and .logical_and_ .__and__ .__rand__",
    "logical_or": ".logical_or .logical_or_ .__or__ .__ror__",
    "logical_xor": ".logical_xor .logical_xor_ .__xor__ .__rxor__",
    "logical_not": ".logical_not .logical_not_ .__invert__",
    "clamp": ".clamp .clamp_ clip .clip .clip_",
    "lerp": ".lerp .lerp_",
    "prod": ".prod",
    "amax": ".amax",
    "amin": ".amin",
    "max_dim": ".max",
    "argmax": ".argmax",
    "argmin": ".argmin",
    "var": ".var",
    "std": ".std",
    "logsumexp": ".logsumexp",
    "norm": ".norm",
    "all": ".all",
    "any": ".any",
    "cumsum": ".cumsum .cumsum_",
    "count_nonzero": ".count_nonzero",
    "flatten": ".flatten",
    "unflatten": ".unflatten",
    "squeeze": ".squeeze",
    "unsqueeze": ".unsqueeze",
    "transpose": ".transpose",
    "swapaxes": ".swapaxes swapdims .swapdims",
    "movedim": ".movedim moveaxis .moveaxis",
    "broadcast_to": ".broadcast_to",
    "tile": ".tile",
    "split": ".split",
    "chunk": ".chunk",
    "unbind": ".unbind",
    "narrow": ".narrow",
    "roll": ".roll",
    "tril": ".tril .tril_",
    "triu": ".triu .triu_",
    "gather": ".gather",
    "scatter": ".scatter .scatter_",
    "scatter_add": ".scatter_add .scatter_add_",
    "index_select": ".index_select",
    "index_add": ".index_add .index_add_",
    "masked_fill": ".masked_fill .masked_fill_",
    "masked_select": ".masked_select",
    "take_along_dim": ".take_along_dim",
    "take": ".take",
    "nonzero": ".nonzero argwhere .argwhere",
    "sort": ".sort",
    "argsort": ".argsort",
    "topk": ".topk",
    "matmul": ".matmul .__matmul__ .__rmatmul__",
    "mm": ".mm",
    "bmm": ".bmm",
    "mv": ".mv",
    "dot": ".dot",
    "outer": ".outer ger .ger",
    "isclose": ".isclose",
    "allclose": ".allclose",
    "addcmul": ".addcmul .addcmul_",
    "addcdiv": ".addcdiv .addcdiv_",
    "clamp_min": ".clamp_min .clamp_min_",
    "clamp_max": ".clamp_max .clamp_max_",
    "addmm": ".addmm",
    "addmv": ".addmv",
    "addr": ".addr",
    "baddbmm": ".baddbmm",
    "addbmm": ".addbmm",
    "kron": ".kron",
    "tensor_split": ".tensor_split",
    "hsplit": ".hsplit",
    "vsplit": ".vsplit",
    "dsplit": ".dsplit",
    "rot90": ".rot90",
    "diff": ".diff",
    "ravel": ".ravel",
    "nansum": ".nansum",
    "nanmean": ".nanmean",
    "acosh": ".acosh arccosh .arccosh",
    "asinh": ".asinh arcsinh .arcsinh",
    "atanh": ".atanh arctanh .arctanh",
    "deg2rad": ".deg2rad .deg2rad_",
    "rad2deg": ".rad2deg .rad2deg_",
    "frac": ".frac .frac_",
    "sinc": ".sinc .sinc_",
    "logaddexp": ".logaddexp",
    "logaddexp2": ".logaddexp2",
    "hypot": ".hypot .hypot_",
    "xlogy": ".xlogy .xlogy_",
    "heaviside": ".heaviside .heaviside_",
    "float_power": ".float_power",
    "fmax": ".fmax",
    "fmin": ".fmin",
    "positive": ".positive",
    "sgn": ".sgn .sgn_",
    "logit": ".logit .logit_",
    "nan_to_num": ".nan_to_num .nan_to_num_",
    "isposinf": ".isposinf",
    "isneginf": ".isneginf",
    "cumprod": ".cumprod .cumprod_",
    "cummax": ".cummax",
    "cummin": ".cummin",
    "logcumsumexp": ".logcumsumexp",
    "bitwise_and": ".bitwise_and .bitwise_and_ .__and__ .__rand__ .__iand__",
    "bitwise_or": ".bitwise_or .bitwise_or_ .__or__ .__ror__ .__ior__",
    "bitwise_xor": ".bitwise_xor .bitwise_xor_ .__xor__ .__rxor__ .__ixor__",
    "bitwise_not": ".bitwise_not .bitwise_not_ .__invert__",
    "index_fill": ".index_fill .index_fill_",
    "index_copy": ".index_copy .index_copy_",
    "masked_scatter": ".masked_scatter .masked_scatter_",
    "diag_embed": ".diag_embed",
    "cross": ".cross",
    "bitwise_left_shift": ".bitwise_left_shift .bitwise_left_shift_ .__lshift__ .__rlshift__ "
    ".__ilshift__",
    "bitwise_right_shift": ".bitwise_right_shift .bitwise_right_shift_ .__rshift__ .__rrshift__ "
    ".__irshift__",
    "lgamma": ".lgamma .lgamma_",
    "digamma": ".digamma .digamma_",
    "mvlgamma": ".mvlgamma .mvlgamma_",
    "erfc": ".erfc .erfc_",
    "erfinv": ".erfinv .erfinv_",
    "i0": ".i0 .i0_",
    "igamma": ".igamma .igamma_",
    "igammac": ".igammac .igammac_",
    "copysign": ".copysign .copysign_",
    "signbit": ".signbit",
    "nextafter": ".nextafter .nextafter_",
    "ldexp": ".ldexp .ldexp_",
    "frexp": ".frexp",
    "gcd": ".gcd .gcd_",
    "lcm": ".lcm .lcm_",
    "angle": ".angle",
    "isreal": ".isreal",
    "is_complex": ".is_complex",
    "is_floating_point": ".is_floating_point",
    "is_signed": ".is_signed",
    "is_nonzero": ".is_nonzero",
    "is_same_size": ".is_same_size",
    "median": ".median",
    "nanmedian": ".nanmedian",
    "kthvalue": ".kthvalue",
    "mode": ".mode",
    "aminmax": ".aminmax",
    "msort": ".msort",
    "quantile": ".quantile",
    "nanquantile": ".nanquantile",
    "corrcoef": ".corrcoef",
    "dist": ".dist",
    "renorm": ".renorm .renorm_",
    "histc": ".histc",
    "histogram": ".histogram",
    "bincount": ".bincount",
    "unique": ".unique",
    "unique_consecutive": ".unique_consecutive",
}


_OPERATORS = "add|sub|mul|truediv|floordiv|mod|pow|matmul|and|or|xor|lshift|rshift"


def _kind(form: str) -> str:
    name = form.lstrip(".")
    if not form.startswith("."):
        return "function"
    if re.fullmatch(f"__r({_OPERATORS})__", name):
        return "reflected"
    if re.fullmatch(f"__i({_OPERATORS})__", name) or re.fullmatch(r"[a-z]\w*_", name):
        return "inplace"
    return "method"


def _call(lib: object, form: str) -> object:
    """The callable for ``form`` in ``lib`` (looked up at call time, as a program would)."""
    name, kind = form.lstrip("."), _kind(form)
    if kind == "function":
        return lambda *a, **k: getattr(lib, name)(*a, **k)
    if kind == "reflected":
        return lambda a, b, *rest, **k: getattr(b, name)(a, *rest, **k)
    if kind == "inplace":
        return lambda x, *a, **k: getattr(x.clone(), name)(*a, **k)
    return lambda x, *a, **k: getattr(x, name)(*a, **k)


def _fits(form: str, sample: Sample) -> bool:
    """Whether ``sample`` can be passed to ``form``: methods need a tensor first (reflected
    operators one second); in-place forms a float or bool tensor the result does not outgrow."""
    kind, args = _kind(form), sample.args
    if kind == "function":
        return True
    if kind == "reflected":
        return len(args) > 1 and isinstance(args[1], np.ndarray)
    if not isinstance(args[0], np.ndarray):
        return False
    if kind == "inplace":
        others = [a.shape for a in args[1:] if isinstance(a, np.ndarray)]
        shape = args[0].shape
        try:
            grows = np.broadcast_shapes(shape, *others) != shape
        except ValueError:  # operands that do not broadcast: an indexing op, shaped by args[0]
            grows = False
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        integral = all(a.dtype.kind in "iu" for a in arrays)  # integer ops stay integer
        return (args[0].dtype.kind in "fb" or integral) and not grows
    return True


def _form(base: OpSpec, form: str) -> OpSpec:
    def samples(rng: np.random.Generator) -> list[Sample]:
        fitting = [s for s in base.samples(rng) if _fits(form, s)]
        assert fitting, f"no sample of {base.name} fits the form {form}"
        return fitting[:1]

    return dataclasses.replace(
        base,
        name=f"{base.name}{'' if form.startswith('.') else ':'}{form}",
        ember_fn=_call(ember, form),
        torch_fn=_call(torch, form),
        samples=samples,
        prims=(),
        gradcheck=False,  # the base spec checks the op's gradient against finite differences
        second_order=False,
    )


def forms_of(specs: list[OpSpec]) -> list[OpSpec]:
    """The form specs of ``FORMS`` for the base specs among ``specs``."""
    by_name = {s.name: s for s in specs}
    missing = sorted(set(FORMS) - set(by_name))
    assert not missing, f"FORMS names unknown base specs: {missing}"
    return [_form(by_name[base], f) for base, forms in FORMS.items() for f in forms.split()]
