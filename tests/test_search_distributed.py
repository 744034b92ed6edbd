"""Candidate evaluation over torch.distributed: 2 gloo processes under torchrun on CPU."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import search_helpers
from search_repro.search.distributed import ShardedEvaluation

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--generations", "4", "--pop-size", "10"]


def _codes(path: Path) -> list[tuple[int, ...]]:
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_two_gloo_processes_share_the_work_and_find_the_same_front(tmp_path):
    search_helpers.main([str(tmp_path / "single"), *ARGS])
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node", "2", str(Path(search_helpers.__file__)),
                    str(tmp_path / "two"), *ARGS, "--score-log", str(logs)], env=env, check=True,
                   timeout=300)
    for name in ("front.json", "history.csv", "references.csv"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "single" / name).read_bytes()
    rank0, rank1 = _codes(logs / "rank0.txt"), _codes(logs / "rank1.txt")
    assert rank0 and rank1 and not set(rank0) & set(rank1)
    history = (tmp_path / "two" / "history.csv").read_text().splitlines()[1:]
    evaluated = {tuple(map(int, row.rsplit(",", 1)[1].split())) for row in history}
    assert evaluated <= set(rank0) | set(rank1)


def test_single_process_is_a_plain_call():
    calls = []
    evaluation = ShardedEvaluation(lambda c: calls.append(len(c)) or np.arange(len(c), dtype=float))
    assert evaluation.world == 1
    assert evaluation(np.zeros((3, 14), dtype=np.int64)).tolist() == [0.0, 1.0, 2.0]
    assert calls == [3]
