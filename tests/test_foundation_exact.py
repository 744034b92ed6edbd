"""MoGA-A/B/C are exact: sizes, equality with the authors'-layout re-implementation, and the
equality check itself is shown to catch each single broken detail (mutation tests)."""
from __future__ import annotations

import random
from functools import partial
from typing import Callable

import pytest
import timm
import torch
import torch.nn as nn

import moga_zoo
from authors_reference import MOGA_A as REF_A, MOGA_B as REF_B, MOGA_C as REF_C
from authors_reference import MoGAAuthors, randomize_and_calibrate
from moga_zoo import _timm
from moga_zoo.authors_layout import authors_key_to_timm, convert_authors_state_dict
from moga_zoo.builder import arch_def, model_kwargs
from moga_zoo.profile import count_macs, count_params
from moga_zoo.search_space import (CHOICES, MOGA_A, NUM_LAYERS, Architecture, ArchitectureError,
                                   block_path)

# From docs/moga-facts.md (counted from the authors' definitions) and the paper's Table 3.
EXPECTED = {  # name: (reference choices, params, MACs in M at 224)
    "moga_a": (REF_A, 5_159_802, 304.0),
    "moga_b": (REF_B, 5_506_236, 248.6),
    "moga_c": (REF_C, 5_488_200, 221.1),
}
SIZE = 96  # small inputs keep the equality tests fast; 224 is checked once per model below


def _ref_choices(arch: Architecture) -> list[tuple[int, int, int]]:
    return [(c.expansion, c.kernel, int(c.se)) for c in arch.choices]


@pytest.fixture(scope="module")
def calibrated() -> dict[str, MoGAAuthors]:
    """Input-sensitive reference models (random BN affine + calibrated BN statistics)."""
    refs = {}
    for seed, (name, (choices, _, _)) in enumerate(EXPECTED.items()):
        torch.manual_seed(seed)
        ref = MoGAAuthors(choices)
        randomize_and_calibrate(ref, seed=seed)
        refs[name] = ref
    return refs


def _inputs(size: int = SIZE, batch: int = 4) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(7))


def _load_authors(model: nn.Module, ref: MoGAAuthors) -> nn.Module:
    model.load_state_dict(convert_authors_state_dict(ref.state_dict()), strict=True)
    return model.eval()


def max_abs_diff(model: nn.Module, ref: MoGAAuthors, x: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x) - ref(x)).abs().max().item()


# --- sizes -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(EXPECTED))
def test_params_and_macs_match_the_paper(name):
    choices, params, macs_m = EXPECTED[name]
    model = timm.create_model(name)
    ref = MoGAAuthors(choices)
    assert count_params(model) == params == count_params(ref)
    macs = count_macs(model)
    assert macs == count_macs(ref)  # an independent model, same counter
    assert round(macs / 1e6, 1) == macs_m


# --- equality with the authors' layout ---------------------------------------------------

@pytest.mark.parametrize("name", list(EXPECTED))
def test_equal_to_authors_layout_after_key_mapping(name, calibrated):
    ref = calibrated[name]
    model = _load_authors(timm.create_model(name), ref)
    for x in (_inputs(), _inputs(224, 2)):
        with torch.no_grad():
            ours, theirs = model(x), ref(x)
        # the check is only meaningful if the logits depend on the input (facts: testing pitfall)
        assert ours.std(0).mean() > 1e-2
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_random_architectures_equal_authors_layout():
    rng = random.Random(5)
    for i in range(2):
        arch = Architecture(tuple(rng.choice(CHOICES) for _ in range(NUM_LAYERS)))
        ref = MoGAAuthors(_ref_choices(arch))
        randomize_and_calibrate(ref, seed=10 + i)
        model = _load_authors(moga_zoo.create(arch=arch), ref)
        x = _inputs(64)
        assert ref(x).std(0).mean() > 1e-2
        assert max_abs_diff(model, ref, x) < 1e-5


# --- mutation tests: the equality check must catch one broken detail ---------------------

def _mutant(arch: Architecture, edit_strings: Callable[[list[list[str]]], None] | None = None,
            **overrides) -> nn.Module:
    """Our builder's timm MobileNetV3 with one detail changed."""
    kw = model_kwargs(arch)
    if edit_strings is not None:
        strings = arch_def(arch)
        edit_strings(strings)
        kw["block_args"] = _timm.decode_arch_def(strings)
    kw.update(overrides)
    return _timm.MobileNetV3(**kw)


def _drop_noskip(strings):
    assert strings[0][0].endswith("_noskip")
    strings[0][0] = strings[0][0].removesuffix("_noskip")


def _hard_swish_in_layers_1_to_5(strings):
    flat = [(s, j) for s in range(1, 3) for j in range(len(strings[s]))]  # stages 1-2 = layers 1-5
    assert len(flat) == 5
    for s, j in flat:
        assert "_nre" in strings[s][j]
        strings[s][j] = strings[s][j].replace("_nre", "")


MUTATIONS = {
    "no noskip in the first block": dict(edit_strings=_drop_noskip),
    "hard-swish in layers 1-5": dict(edit_strings=_hard_swish_in_layers_1_to_5),
    "ReLU forced inside SE": dict(se_layer=partial(
        _timm.SqueezeExcite, gate_layer="hard_sigmoid", rd_round_fn=int, force_act_layer=nn.ReLU)),
    "sigmoid SE gate": dict(se_layer=partial(
        _timm.SqueezeExcite, gate_layer="sigmoid", rd_round_fn=int)),
}


def test_unmutated_builder_passes_the_same_check(calibrated):
    model = _load_authors(_mutant(MOGA_A), calibrated["moga_a"])
    assert max_abs_diff(model, calibrated["moga_a"], _inputs()) < 1e-5


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_equality_check_catches_mutation(mutation, calibrated):
    ref = calibrated["moga_a"]
    model = _load_authors(_mutant(MOGA_A, **MUTATIONS[mutation]), ref)  # same shapes: loads
    assert max_abs_diff(model, ref, _inputs()) > 1e-3


@pytest.mark.parametrize("mutation", ["rounded SE width", "SE width from block input", "head bias"])
def test_equality_check_catches_shape_mutation(mutation, calibrated):
    overrides = {
        "rounded SE width": dict(se_layer=partial(
            _timm.SqueezeExcite, gate_layer="hard_sigmoid", rd_round_fn=_timm.round_channels)),
        "SE width from block input": dict(se_from_exp=False),
        "head bias": dict(head_bias=True),
    }[mutation]
    with pytest.raises(RuntimeError, match="size mismatch|Unexpected key|Missing key"):
        _load_authors(_mutant(MOGA_A, **overrides), calibrated["moga_a"])


# --- key mapping -------------------------------------------------------------------------

def test_mapping_covers_exactly_our_keys_and_strips_module_prefix(calibrated):
    sd = calibrated["moga_b"].state_dict()
    ours = timm.create_model("moga_b").state_dict()
    converted = convert_authors_state_dict({f"module.{k}": v for k, v in sd.items()})
    assert set(converted) == set(ours)
    assert all(converted[k].shape == ours[k].shape for k in ours)


def test_block_path_follows_the_stages():
    assert [block_path(i) for i in (0, 1, 2, 4, 5, 8, 9, 10, 11, 13)] == [
        "blocks.1.0", "blocks.1.1", "blocks.2.0", "blocks.2.2", "blocks.3.0", "blocks.3.3",
        "blocks.4.0", "blocks.4.1", "blocks.5.0", "blocks.5.2"]
    with pytest.raises(ValueError, match="0..13"):
        block_path(14)


@pytest.mark.parametrize("key", ["foo.weight", "mb_module.14.conv1.weight", "mb_module.0.conv9.weight",
                                 "stem.2.weight", "classifier", "mb_module.0.mid_se.conv.1.weight"])
def test_mapping_raises_on_unknown_keys(key):
    with pytest.raises(KeyError, match="not a key of the authors"):
        authors_key_to_timm(key)
    with pytest.raises(KeyError):
        convert_authors_state_dict({key: torch.zeros(1)})


def test_mapping_rejects_duplicate_targets():
    with pytest.raises(KeyError, match="two keys map"):
        convert_authors_state_dict({"stem.0.weight": torch.zeros(1),
                                    "module.stem.0.weight": torch.zeros(1)})


# --- timm keyword pass-through and moga_zoo.create ---------------------------------------

def test_num_classes_in_chans_and_drop_rate_pass_through():
    model = timm.create_model("moga_a", num_classes=10, in_chans=1, drop_rate=0.5)
    assert model.classifier.out_features == 10
    assert model.conv_stem.weight.shape == (16, 1, 3, 3)
    assert model.drop_rate == 0.5
    assert count_params(model) == 5_159_802 - 1281 * 990 - 16 * 2 * 9
    assert model.eval()(torch.randn(2, 1, 64, 64)).shape == (2, 10)
    assert timm.create_model("moga_a").drop_rate == 0.2  # the authors' dropout by default
    searched = moga_zoo.create(arch=MOGA_A, num_classes=3, in_chans=1, drop_rate=0.1)
    assert (searched.classifier.out_features, searched.conv_stem.in_channels,
            searched.drop_rate) == (3, 1, 0.1)


def test_create_by_arch_string_object_codes_and_name_agree():
    expected = {k: v.shape for k, v in timm.create_model("moga_b").state_dict().items()}
    for value in (str(moga_zoo.MOGA_B), moga_zoo.MOGA_B, moga_zoo.MOGA_B.encode(),
                  list(moga_zoo.MOGA_B.encode())):
        model = moga_zoo.create(arch=value)
        assert {k: v.shape for k, v in model.state_dict().items()} == expected
        assert model.pretrained_cfg["crop_pct"] == 0.875
    assert count_params(moga_zoo.create(str(moga_zoo.MOGA_B))) == 5_506_236
    assert moga_zoo.create("moga_b.in1k").pretrained_cfg["tag"] == "in1k"
    assert set(moga_zoo.list_models()) >= {"moga_a", "moga_b", "moga_c"}
    assert set(timm.list_models("moga*")) >= {"moga_a", "moga_b", "moga_c"}


@pytest.mark.parametrize("name, close", [("moga_d", "'moga_a'"), ("mogaa", "'moga_a'"),
                                         ("moga_bb", "'moga_b'"), ("MoGA-B", "'moga_b'")])
def test_unknown_name_lists_close_matches(name, close):
    with pytest.raises(ValueError, match="Did you mean") as err:
        moga_zoo.create(name)
    assert close in str(err.value)


def test_create_rejects_bad_calls():
    with pytest.raises(ArchitectureError, match="layer 2 "):
        moga_zoo.create(str(MOGA_A).replace("e6k7", "e6k9", 1))
    with pytest.raises(ValueError, match="exactly one"):
        moga_zoo.create("moga_a", arch=MOGA_A)
    with pytest.raises(ValueError, match="exactly one"):
        moga_zoo.create()
    with pytest.raises(ValueError, match="no pretrained weights"):
        moga_zoo.create(arch=MOGA_A, pretrained=True)
