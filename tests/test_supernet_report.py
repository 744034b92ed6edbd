"""The words printed beside supernet scores: data without machine paths, binomial standard error."""
import numpy as np
import pytest

from search_repro.supernet.report import data_name, describe_score, standard_error


def test_data_name_drops_the_machine_path():
    assert data_name("fashion-mnist:/usr/share/fashion-mnist") == "Fashion-MNIST"
    # the proxy's task is named, from the source string the data pipeline records
    from search_repro.data import fashion_mnist_source, parse_task
    for task, name in (("plain", "Fashion-MNIST"), ("canvas", "Fashion-MNIST cluttered canvas"),
                       ("canvas:rotate=180", "Fashion-MNIST turned cluttered canvas")):
        assert data_name(fashion_mnist_source("/usr/share/fashion-mnist", parse_task(task))) == name
    assert data_name("folder:/home/me/data/imagenet-100") == "image folder 'imagenet-100'"


def test_standard_error_is_binomial():
    assert standard_error(0.8, 1000) == pytest.approx(np.sqrt(0.8 * 0.2 / 1000))
    assert standard_error(np.array([0.0, 0.5]), 100).tolist() == [0.0, 0.05]


def test_describe_score_names_data_split_size_and_error():
    described = {"settings": {"val_size": 1000}, "data": "fashion-mnist:/x/y"}
    line = describe_score(described, np.array([0.79, 0.81]))
    assert line == ("supernet top-1 accuracy on the first 1,000 images of the Fashion-MNIST "
                    "search-validation split (held out from supernet training); standard error "
                    "0.013 at 0.800")
    assert "/x/y" not in describe_score(described)
