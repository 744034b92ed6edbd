"""predict: images through the model's own transform, names from the weights' config, bad files
reported by name, and the same answer on every runtime and batch size."""
from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch
from PIL import Image
from timm.models import save_for_hf
from torchvision import transforms

import moga_zoo
from moga_zoo.cli import main
from moga_zoo.inference import Classifier, load_image, predict

from authors_reference import randomize_and_calibrate

LABELS = ["cat", "dog", "bird"]
SIDE = 96  # a small input keeps the tests fast; the transform is the model's own


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """A converted folder (timm's save_for_hf): 3 classes, label names, a 96 px data config."""
    model = moga_zoo.create("moga_c", num_classes=3)
    randomize_and_calibrate(model, size=64)
    with torch.no_grad():  # random features give huge logits; scale them into softmax's range
        model.classifier.weight.mul_(0.02)
    model.pretrained_cfg = dict(model.pretrained_cfg, input_size=(3, SIDE, SIDE), num_classes=3)
    folder = tmp_path_factory.mktemp("weights")
    save_for_hf(model, folder, model_config={"label_names": LABELS}, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("images")
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (120 + 10 * i, 150, 3), dtype=np.uint8)).save(root / f"img{i}.jpg")
    rgba = rng.integers(0, 256, (100, 100, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(root / "img4_alpha.png")
    (root / "img5_broken.jpg").write_bytes((root / "img0.jpg").read_bytes()[:400])
    (root / "img6_text.png").write_text("not an image")
    return root


def _independent_probabilities(model, paths):
    """Authors' eval transform written out with torchvision: resize side/0.875, centre crop."""
    pipeline = transforms.Compose([
        transforms.Resize(int(SIDE / 0.875), interpolation=transforms.InterpolationMode.BILINEAR),
        transforms.CenterCrop(SIDE), transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    x = torch.stack([pipeline(load_image(p)) for p in paths])
    with torch.inference_mode():
        return torch.softmax(model(x).double(), 1).numpy()


def test_predict_matches_an_independent_pipeline(weights_dir, images):
    classifier = Classifier(f"local-dir:{weights_dir}", runtime="torch", batch_size=2)
    assert classifier.class_names == LABELS
    results = classifier.predict(sorted(images.iterdir()), top_k=3)
    assert [r.source.rsplit("/", 1)[-1] for r in results] == sorted(p.name for p in images.iterdir())
    bad = {r.source.rsplit("/", 1)[-1]: r.error for r in results if not r.ok}
    assert set(bad) == {"img5_broken.jpg", "img6_text.png"}
    assert all("img5_broken.jpg" in e or "img6_text.png" in e for e in bad.values())
    good = [r for r in results if r.ok]
    expected = _independent_probabilities(classifier.model, [r.source for r in good])
    assert expected.std(axis=0).max() > 0.01  # the calibrated model tells the images apart
    for result, row in zip(good, expected):
        assert [label.name for label in result.labels] == [LABELS[i] for i in np.argsort(-row)]
        np.testing.assert_allclose([label.probability for label in result.labels],
                                   np.sort(row)[::-1], atol=1e-5)


def test_runtimes_and_batch_sizes_agree(weights_dir, images, tmp_path):
    files = sorted(images.glob("img[0-4]*"))
    torch_run = Classifier(f"local-dir:{weights_dir}", runtime="torch", batch_size=32).predict(files)
    ort_run = predict([images], f"local-dir:{weights_dir}", runtime="onnxruntime", batch_size=2,
                      cache=tmp_path)
    ort_good = [r for r in ort_run if r.ok]
    assert [r.source for r in ort_good] == [str(f) for f in files]
    for a, b in zip(torch_run, ort_good):
        assert [x.index for x in a.labels] == [x.index for x in b.labels]
        np.testing.assert_allclose([x.probability for x in a.labels],
                                   [x.probability for x in b.labels], atol=1e-4)
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 1


def test_pillow_images_are_accepted(weights_dir, images):
    classifier = Classifier(f"local-dir:{weights_dir}", runtime="torch")
    from_file = classifier.predict([images / "img4_alpha.png"])[0]
    from_pil = classifier.predict([Image.open(images / "img4_alpha.png")])[0]
    assert from_pil.labels == from_file.labels


def test_cli_predict_json_and_exit_code(weights_dir, images, capsys):
    rc = main(["predict", str(images), "--model", f"local-dir:{weights_dir}", "--runtime", "torch",
               "--top-k", "2", "--json"])
    out, err = capsys.readouterr()
    assert rc == 1  # two files failed
    rows = json.loads(out)
    assert len(rows) == 7 and sum(r["error"] is None for r in rows) == 5
    assert all(len(r["labels"]) == 2 and r["labels"][0]["name"] in LABELS for r in rows if not r["error"])
    assert "img5_broken.jpg" in err and "img6_text.png" in err

    rc = main(["predict", str(images / "img0.jpg"), "--model", f"local-dir:{weights_dir}",
               "--runtime", "torch"])
    out, _ = capsys.readouterr()
    assert rc == 0 and out.startswith(str(images / "img0.jpg")) and "cat" in out


def test_cli_user_errors_exit_2(weights_dir, images, capsys):
    with pytest.raises(SystemExit) as exit_:  # refused by the option parser, before any loading
        main(["predict", str(images), "--model", f"local-dir:{weights_dir}", "--top-k", "0",
              "--runtime", "torch"])
    assert exit_.value.code == 2
    assert "argument --top-k: expected a positive integer, got 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="top-k must be at least 1"):
        Classifier(f"local-dir:{weights_dir}", runtime="torch").predict([images / "img0.jpg"], top_k=0)
    assert main(["predict", str(images), "--model", "moga_q", "--random-weights"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_cli_export_torchscript(weights_dir, tmp_path, capsys):
    out = tmp_path / "m.pt"
    rc = main(["export", "--model", f"local-dir:{weights_dir}", "--format", "torchscript",
               "-o", str(out), "--input-size", "64", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0 and out.exists()
    assert report["validation"]["max_abs_diff"] <= report["validation"]["tolerance"]


@pytest.mark.skipif("weights" not in inspect.signature(moga_zoo.create).parameters,
                    reason="moga_zoo.create(weights=...) comes with the weights issue (3)")
def test_weights_folder_through_create(weights_dir, images):
    via_create = Classifier("moga_c", weights=weights_dir, runtime="torch")
    via_timm = Classifier(f"local-dir:{weights_dir}", runtime="torch")
    files = sorted(images.glob("img[0-3]*"))
    assert via_create.predict(files) == via_timm.predict(files)


def test_label_names_that_do_not_match_the_class_count_are_refused():
    from moga_zoo.errors import UsageError
    from moga_zoo.inference.labels import class_names

    model = moga_zoo.create("moga_c", num_classes=3)
    model.pretrained_cfg = {**model.pretrained_cfg, "label_names": ["a", "b"]}
    with pytest.raises(UsageError, match="lists 2 label names for a model with 3 classes"):
        class_names(model)
    model.pretrained_cfg = {**model.pretrained_cfg, "label_names": {"0": "a", "2": "c"}}
    assert class_names(model) == ["a", "class_1", "c"]
