"""The MoGA weight-sharing supernet: model, FairNAS strict-fairness training, evaluator, files."""
from .checkpoint import CheckpointError, load_supernet, save_supernet
from .evaluator import (EvaluatorSettings, SupernetEvaluator, load_bundled_evaluator,
                        load_evaluator)
from .fairness import fair_paths, fair_step
from .model import Supernet

__all__ = ["Supernet", "SupernetEvaluator", "EvaluatorSettings", "load_bundled_evaluator",
           "load_evaluator", "fair_paths", "fair_step", "load_supernet", "save_supernet",
           "CheckpointError"]
