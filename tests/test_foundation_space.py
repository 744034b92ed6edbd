"""The MoGA search space: sizes, encodings, named points and input validation."""
from __future__ import annotations

import random

import numpy as np
import pytest

from moga_zoo import search_space as ss
from moga_zoo.search_space import (
    CHOICES, LAYERS, MOGA_A, MOGA_B, MOGA_C, NAMED_ARCHITECTURES, NUM_CHOICES, NUM_LAYERS,
    STAGE_SIZES, Architecture, ArchitectureError, Choice, space_hash,
)

# Written out from docs/moga-facts.md and docs/search-space.md, independently of search_space.py.
FACTS_LAYERS = [(24, 2, "relu"), (24, 1, "relu"), (40, 2, "relu"), (40, 1, "relu"), (40, 1, "relu"),
                (80, 2, "hard_swish"), (80, 1, "hard_swish"), (80, 1, "hard_swish"),
                (80, 1, "hard_swish"), (112, 1, "hard_swish"), (112, 1, "hard_swish"),
                (160, 2, "hard_swish"), (160, 1, "hard_swish"), (160, 1, "hard_swish")]
FACTS_A = "e6k5 e6k7 e6k3 e6k3se e3k3se e6k3se e6k3 e6k7 e3k7se e6k7 e6k3 e6k3 e6k5se e6k5se"
FACTS_B = "e3k3 e3k3 e6k7 e3k3 e6k5 e6k3se e6k5se e3k3 e6k7se e6k7 e3k5 e6k7se e6k7se e6k3se"
FACTS_C = "e3k5 e3k3 e3k5 e3k3 e3k5 e3k5 e6k5se e3k5 e3k5 e6k3 e6k3se e6k3se e6k3se e6k3se"


def random_arch(rng: random.Random) -> Architecture:
    return Architecture(tuple(rng.choice(CHOICES) for _ in range(NUM_LAYERS)))


def test_space_size_and_layers_match_the_facts():
    assert NUM_CHOICES == len(CHOICES) == 12
    assert len(set(CHOICES)) == 12
    assert {(c.kernel, c.expansion, c.se) for c in CHOICES} == {
        (k, e, se) for k in (3, 5, 7) for e in (3, 6) for se in (False, True)}
    assert NUM_LAYERS == 14
    assert [(s.out_chs, s.stride, s.act) for s in LAYERS] == FACTS_LAYERS
    assert sum(STAGE_SIZES) == NUM_LAYERS
    assert NUM_CHOICES ** NUM_LAYERS == 1_283_918_464_548_864  # 12^14 ~ 1.28e15


@pytest.mark.parametrize("arch, facts", [(MOGA_A, FACTS_A), (MOGA_B, FACTS_B), (MOGA_C, FACTS_C)])
def test_named_architectures_match_the_authors_models(arch, facts):
    assert str(arch) == facts.replace(" ", "-")
    assert NAMED_ARCHITECTURES[{FACTS_A: "moga_a", FACTS_B: "moga_b", FACTS_C: "moga_c"}[facts]] == arch


def test_string_and_integer_round_trip_for_many_random_archs():
    rng = random.Random(1234)
    for _ in range(500):
        arch = random_arch(rng)
        text = str(arch)
        assert len(text.split("-")) == NUM_LAYERS
        assert Architecture.from_string(text) == arch
        assert Architecture.parse(text) == arch
        codes = arch.encode()
        assert all(isinstance(c, int) and 0 <= c < NUM_CHOICES for c in codes)
        assert Architecture.decode(codes) == arch
        assert Architecture.parse(list(codes)) == arch
        assert hash(Architecture.decode(codes)) == hash(arch)


def test_integer_code_is_the_index_into_choices():
    for code, choice in enumerate(CHOICES):
        arch = Architecture.decode([code] * NUM_LAYERS)
        assert arch.choices == (choice,) * NUM_LAYERS
        assert arch.encode() == (code,) * NUM_LAYERS
    # codes of MoGA-A worked out by hand from the CHOICES order (kernel, expansion, se)
    assert MOGA_A.encode() == (6, 10, 2, 3, 1, 3, 2, 10, 9, 10, 2, 2, 7, 7)


def test_choice_string_form():
    assert str(Choice(7, 3, True)) == "e3k7se"
    assert str(Choice(5, 6, False)) == "e6k5"


def test_parse_forms():
    assert Architecture.parse(MOGA_B) is MOGA_B
    assert Architecture.parse("moga_b") == MOGA_B
    assert Architecture.parse("  MoGA_B ") == MOGA_B
    assert Architecture.parse(str(MOGA_C)) == MOGA_C
    assert Architecture.parse(str(MOGA_C).upper()) == MOGA_C
    assert Architecture.parse(" " + str(MOGA_C) + "\n") == MOGA_C
    assert Architecture.parse(MOGA_A.encode()) == MOGA_A
    assert Architecture.parse(list(MOGA_A.encode())) == MOGA_A
    assert Architecture.parse(np.array(MOGA_A.encode())) == MOGA_A  # pymoo hands out arrays
    assert Architecture.parse([np.int64(c) for c in MOGA_A.encode()]) == MOGA_A
    assert Architecture.parse(list(MOGA_A.choices)) == MOGA_A


def test_equal_choices_are_canonicalised():
    # Choice(3, 3, 1) == Choice(3, 3, True): the architecture must print and build the same
    arch = Architecture((Choice(3, 3, 1),) * NUM_LAYERS)
    assert str(arch) == "-".join(["e3k3se"] * NUM_LAYERS)
    assert all(c.se is True for c in arch.choices)


def test_layers_pairs_specs_and_choices():
    pairs = MOGA_A.layers()
    assert [p[0] for p in pairs] == list(LAYERS)
    assert [p[1] for p in pairs] == list(MOGA_A.choices)


ALLOWED_TOKENS = "e{3,6}k{3,5,7}"
ALLOWED_CODES = "0..11"


def _replace_token(i: int, token: str) -> str:
    tokens = str(MOGA_A).split("-")
    tokens[i] = token
    return "-".join(tokens)


@pytest.mark.parametrize("layer, token", [(0, "e4k5"), (3, "e6k9"), (7, "e6k5sq"), (13, "k5e6"),
                                          (5, ""), (10, "e6k3se0.25"), (2, "6k3")])
def test_bad_string_token_names_layer_and_allowed_values(layer, token):
    with pytest.raises(ArchitectureError) as err:
        Architecture.from_string(_replace_token(layer, token))
    msg = str(err.value)
    assert f"layer {layer + 1} " in msg
    assert f"out {LAYERS[layer].out_chs}" in msg
    assert ALLOWED_TOKENS in msg


@pytest.mark.parametrize("count", [0, 1, 13, 15])
def test_wrong_length_is_rejected_everywhere(count):
    text = "-".join(["e3k3"] * count) if count else ""
    with pytest.raises(ArchitectureError, match=f"{NUM_LAYERS}.*got {count}"):
        Architecture.from_string(text)
    with pytest.raises(ArchitectureError, match=f"{NUM_LAYERS} integers, got {count}"):
        Architecture.decode([0] * count)
    with pytest.raises(ArchitectureError, match=f"{NUM_LAYERS} searchable layers, got {count}"):
        Architecture((CHOICES[0],) * count)


@pytest.mark.parametrize("layer, code, why", [
    (0, 12, "out of range"), (4, -1, "out of range"), (13, 99, "out of range"),
    (2, 1.0, "not an integer"), (6, "3", "not an integer"), (9, True, "not an integer"),
    (11, None, "not an integer"), (1, np.float64(2.0), "not an integer"),
])
def test_bad_integer_code_names_layer_and_allowed_values(layer, code, why):
    codes = list(MOGA_A.encode())
    codes[layer] = code
    with pytest.raises(ArchitectureError) as err:
        Architecture.decode(codes)
    msg = str(err.value)
    assert f"layer {layer + 1} " in msg and why in msg and ALLOWED_CODES in msg


@pytest.mark.parametrize("bad", [Choice(4, 6, False), Choice(3, 4, True), (3, 6, False), "e6k3"])
def test_bad_choice_object_names_layer_and_allowed_values(bad):
    choices = list(MOGA_B.choices)
    choices[8] = bad
    with pytest.raises(ArchitectureError) as err:
        Architecture(tuple(choices))
    msg = str(err.value)
    assert "layer 9 " in msg and ALLOWED_TOKENS in msg


@pytest.mark.parametrize("bad", [None, 3.5, 14, {"a": 1}, b"e6k5"])
def test_wrong_type_is_rejected(bad):
    with pytest.raises(ArchitectureError, match="moga_a, moga_b, moga_c"):
        Architecture.parse(bad)


@pytest.mark.parametrize("bad", [None, 14, "e6k5"])
def test_wrong_container_type_is_rejected(bad):
    with pytest.raises(ArchitectureError, match="expected"):
        Architecture(bad)
    with pytest.raises(ArchitectureError, match="expected"):
        Architecture.decode(bad)
    if not isinstance(bad, str):
        with pytest.raises(ArchitectureError, match="expected an architecture string"):
            Architecture.from_string(bad)


def test_architecture_error_is_a_value_error():
    assert issubclass(ArchitectureError, ValueError)


def test_space_hash_is_stable_and_tracks_the_definition(monkeypatch):
    # Latency tables and supernets record this hash; changing the space must change it, and
    # nothing else may. Update the constant only together with every bundled artifact.
    assert space_hash() == space_hash() == "7810502209c92c13"
    changed = tuple(ss.LayerSpec(s.out_chs, s.stride, "relu") for s in LAYERS)
    monkeypatch.setattr(ss, "LAYERS", changed)
    assert space_hash() != "7810502209c92c13"
