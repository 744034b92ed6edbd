"""Our models behave like timm's own: heads, features, intermediates, scripting, tracing, export,
pretrained config and the data transform it resolves to."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import timm
import torch
import torch.nn as nn
from PIL import Image
from timm.data import create_transform, resolve_data_config
from torchvision import transforms as T

import moga_zoo
from moga_zoo.search_space import MOGA_C

SIZE = 64  # every check here is resolution-independent except pool_size (checked at 224)


@pytest.fixture(scope="module")
def model_a() -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("moga_a").eval()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def test_forward_features_and_head(model_a, x):
    with torch.no_grad():
        feats = model_a.forward_features(x)
        assert feats.shape == (2, 960, SIZE // 32, SIZE // 32)
        pre = model_a.forward_head(feats, pre_logits=True)
        assert pre.shape == (2, model_a.head_hidden_size) == (2, 1280)
        torch.testing.assert_close(model_a.forward_head(feats), model_a(x), rtol=0, atol=0)
        torch.testing.assert_close(model_a.get_classifier()(pre), model_a(x), rtol=0, atol=0)
    assert model_a.num_features == 960 and model_a.num_classes == 1000


def test_reset_classifier(x):
    model = timm.create_model("moga_b").eval()
    with torch.no_grad():
        pre = model.forward_head(model.forward_features(x), pre_logits=True)
        model.reset_classifier(7)
        assert model(x).shape == (2, 7) and model.num_classes == 7
        model.reset_classifier(0)
        assert isinstance(model.get_classifier(), nn.Identity)
        torch.testing.assert_close(model(x), pre, rtol=0, atol=0)


@pytest.mark.parametrize("feature_cls", [None, "hook", "fx"])
def test_features_only_feature_info_matches_outputs(feature_cls):
    kw = {"feature_cls": feature_cls} if feature_cls else {}
    model = timm.create_model("moga_a", features_only=True, **kw).eval()
    info = model.feature_info
    with torch.no_grad():
        outs = model(torch.randn(1, 3, SIZE, SIZE))
    assert len(outs) == len(info.channels()) == 5
    assert [o.shape[1] for o in outs] == info.channels() == [16, 24, 40, 112, 960]
    assert [SIZE // o.shape[-1] for o in outs] == info.reduction() == [2, 4, 8, 16, 32]


def test_features_only_out_indices_and_searched_arch():
    model = moga_zoo.create(arch=MOGA_C, features_only=True, out_indices=(2, 4)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, SIZE, SIZE))
    assert [o.shape[1] for o in outs] == model.feature_info.channels() == [40, 960]
    assert [SIZE // o.shape[-1] for o in outs] == model.feature_info.reduction() == [8, 32]


def test_forward_intermediates_match_fx_extracted_features(model_a, x):
    modules = [f["module"] for f in model_a.feature_info]
    extractor = timm.models.create_feature_extractor(model_a, return_nodes=modules)
    with torch.no_grad():
        final, inter = model_a.forward_intermediates(x)
        expected = extractor(x)
        torch.testing.assert_close(final, model_a.forward_features(x), rtol=0, atol=0)
        assert len(inter) == len(modules)
        for got, name in zip(inter, modules):
            torch.testing.assert_close(got, expected[name], rtol=0, atol=0)
        only = model_a.forward_intermediates(x, indices=[1, 3], intermediates_only=True)
    assert [t.shape[1] for t in only] == [24, 112]


def test_torchscript_matches_eager(model_a, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in torch 2.x
        scripted = torch.jit.script(model_a)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model_a(x), rtol=0, atol=1e-6)


def test_fx_symbolic_trace_matches_eager(model_a, x):
    graph = torch.fx.symbolic_trace(model_a)
    assert sum(n.op == "placeholder" for n in graph.graph.nodes) == 1
    with torch.no_grad():
        torch.testing.assert_close(graph(x), model_a(x), rtol=0, atol=0)


def test_torch_export_matches_eager(model_a, x):
    exported = torch.export.export(model_a, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), model_a(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("model", ["moga_a", "moga_b", "moga_c", MOGA_C])
def test_pretrained_cfg_complete_and_valid(model):
    net = (timm.create_model(model) if isinstance(model, str) else moga_zoo.create(arch=model)).eval()
    cfg = net.pretrained_cfg
    assert cfg["input_size"] == (3, 224, 224)
    assert cfg["crop_pct"] == 0.875 and cfg["crop_mode"] == "center"
    assert cfg["interpolation"] == "bilinear"
    assert tuple(cfg["mean"]) == (0.485, 0.456, 0.406)
    assert tuple(cfg["std"]) == (0.229, 0.224, 0.225)
    assert cfg["num_classes"] == 1000
    assert "1908.01314" in cfg["paper_ids"] and "MoGA" in cfg["paper_name"]
    assert cfg["license"] == "apache-2.0"
    modules = dict(net.named_modules())
    first = modules[cfg["first_conv"]]
    assert isinstance(first, nn.Conv2d) and first.in_channels == cfg["input_size"][0]
    head = modules[cfg["classifier"]]
    assert isinstance(head, nn.Linear) and head.out_features == cfg["num_classes"]
    with torch.no_grad():
        feats = net.forward_features(torch.zeros(1, *cfg["input_size"]))
    assert tuple(feats.shape[-2:]) == tuple(cfg["pool_size"])  # the unpooled map, (7, 7)
    if isinstance(model, str):
        assert cfg["architecture"] == model and cfg["tag"] == "in1k"


def _photo_like_image() -> Image.Image:
    """A non-square RGB image with smooth structure and texture (not a constant)."""
    rng = np.random.default_rng(0)
    h, w = 375, 500
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / w * 255, yy / h * 255, (np.sin(xx / 17.0) * np.cos(yy / 11.0) + 1) * 127],
                    axis=-1)
    img = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(img, "RGB")


@pytest.mark.parametrize("size", [(375, 500), (500, 375)])
def test_resolved_transform_is_the_authors_eval_transform(model_a, size):
    image = _photo_like_image()
    if size != (375, 500):
        image = image.transpose(Image.Transpose.ROTATE_90)
    # the authors' eval script: resize 256 (short side), bilinear, center crop 224, ImageNet norm
    authors = T.Compose([
        T.Resize(256, interpolation=T.InterpolationMode.BILINEAR),
        T.CenterCrop(224),
        T.ToTensor(),
        T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])
    config = resolve_data_config(model=model_a)
    ours = create_transform(**config)
    expected, got = authors(image), ours(image)
    assert got.shape == (3, 224, 224)
    assert torch.equal(got, expected)
    assert expected.std() > 0.1  # a structured image: a wrong crop or resize would show
