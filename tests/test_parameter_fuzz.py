"""Every parameter of every registered system, given bad values from a seeded table
(issue 16): each is refused with a ValueError or TypeError that names the parameter,
never another exception; values that may be valid are accepted or refused likewise;
numpy scalars of good values are accepted and stored as Python numbers."""

import json
import math
import random
import re

import numpy as np
import pytest

from pdesim.systems import SYSTEMS, make_system

_RNG = random.Random(16)
#: Magnitudes from far below to far above any useful value, either sign (seeded).
_RANDOM_REALS = [_RNG.choice((-1, 1)) * 10.0 ** _RNG.uniform(-300, 300) for _ in range(4)]
_RANDOM_INTS = [_RNG.choice((-1, 1)) * 2 ** _RNG.randint(0, 90) for _ in range(4)]


def _kind(system: str, name: str) -> str:
    """``real``, ``int``, ``choice`` or ``structure``, from the parameter's annotation."""
    annotation = str(SYSTEMS[system].Params.__dataclass_fields__[name].type)
    for kind, prefix in (("real", "float"), ("int", "int"), ("choice", "str")):
        if annotation.startswith(prefix):
            return kind
    return "structure"


#: Values no parameter of the kind accepts.
_BAD = {
    "real": [
        "abc",
        "1.5",
        math.nan,
        math.inf,
        -math.inf,
        10**400,
        -(10**400),
        True,
        np.True_,
        [1.0],
        np.float64(math.nan),
        np.float32(math.inf),
        np.longdouble(math.inf),
        1j,
    ],
    "int": [
        "abc",
        "8",
        2.5,
        math.nan,
        math.inf,
        10**400,
        2**64,
        -(2**64),
        True,
        np.False_,
        np.float64(8.0),
        [8],
    ],
    "choice": [3, "no-such-choice", 2.5, math.nan, True, b"2/3"],
    "structure": ["abc", 3, math.nan, [[math.nan]], [[0, 1, 2, 3]], True],
}
#: Values some parameters accept: accepted, or refused naming the parameter (None is
#: the default of the optional ones).
_MAYBE = {
    "real": [
        None,
        -5.0,
        -0.5,
        -0.0,
        0.0,
        1e-300,
        1e308,
        2**70,
        -(2**70),
        np.int64(-5),
        np.uint64(2**64 - 1),
        *_RANDOM_REALS,
    ],
    "int": [
        None,
        -5,
        0,
        1,
        3,
        2**40,
        2**62,
        2**63 - 1,
        -(2**63),
        np.int64(-5),
        np.uint64(2**64 - 1),
        *_RANDOM_INTS,
    ],
    "choice": [None],
    "structure": [None, -5, 1e308],
}

ROWS = [
    (system, row["name"], row["default"])
    for system in sorted(SYSTEMS)
    for row in SYSTEMS[system].parameter_table()
]


def _names(message: str, name: str) -> bool:
    """Whether ``message`` names the parameter: ``'name'``, or ``name=`` in a limit
    that another parameter's check derives from it."""
    return f"'{name}'" in message or re.search(rf"(?<![\w-]){name}=", message) is not None


def _refused(system: str, name: str, value) -> str | None:
    """The error message of ``make_system`` with ``name=value``, or None if accepted."""
    try:
        built = make_system(system, **{name: value})
    except (ValueError, TypeError) as exc:
        return str(exc)
    params = built.params_dict()
    json.dumps(params)  # what files store
    for key, stored in params.items():
        assert not isinstance(stored, np.generic), (key, stored)
    return None


@pytest.mark.parametrize(("system", "name", "default"), ROWS)
def test_bad_values_are_refused_naming_the_parameter(system, name, default):
    kind = _kind(system, name)
    for value in _BAD[kind]:
        message = _refused(system, name, value)
        assert message is not None, f"{system}: {name}={value!r} was accepted"
        assert f"'{name}'" in message, f"{system}: {name}={value!r} -> {message}"
    for value in _MAYBE[kind]:
        message = _refused(system, name, value)
        assert message is None or _names(message, name), f"{system}: {name}={value!r} -> {message}"


@pytest.mark.parametrize(("system", "name", "default"), ROWS)
def test_numpy_scalars_of_good_values_are_accepted_as_python_numbers(system, name, default):
    kind = _kind(system, name)
    if default is None or kind == "structure":
        return
    kinds = {
        "real": (np.float64, np.float32, np.longdouble),
        "int": (np.int64, np.int32, np.uint16),
        "choice": (np.str_,),
    }[kind]
    for numpy_type in kinds:
        value = numpy_type(default)
        built = make_system(system, **{name: value})
        stored = built.params_dict()[name]
        assert type(stored) is {"real": float, "int": int, "choice": str}[kind]
        assert stored == (pytest.approx(default, rel=1e-6) if kind == "real" else default)
        json.dumps(built.params_dict())


def test_R_is_checked_with_a_custom_adjacency_and_as_a_numpy_integer():
    ring = [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
    with pytest.raises(TypeError, match="'R'"):
        make_system("chialvo_ring_star", N=3, R="abc", adjacency=ring)
    with pytest.raises(ValueError, match="'R'"):
        make_system("chialvo_ring_star", N=3, R=-5, adjacency=ring)
    with pytest.raises(ValueError, match=r"'R' must be an integer with 0 <= R <= \(N-2\)/2 = 1"):
        make_system("chialvo_ring_star", N=4, R=np.int64(64))
    assert make_system("chialvo_ring_star", N=7, R=np.int64(2)).params_dict()["R"] == 2
