"""The search loop: pymoo's NSGA-II driven generation by generation, saved after each one."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pymoo.core.evaluator import Evaluator
from pymoo.core.population import Population
from pymoo.core.termination import NoTermination
from tqdm import tqdm

from moga_zoo import interrupts
from moga_zoo.errors import UsageError
from moga_zoo.fileio import write_json_atomic
from moga_zoo.records import RecordError, read_json
from moga_zoo.search_space import NAMED_ARCHITECTURES, NUM_CHOICES, NUM_LAYERS, Architecture
from search_repro.progress import listening

from .config import SearchConfig
from .defaults import check_weights
from .history import METRICS, History
from .objectives import ArrayFn, ArchitectureProblem, Scorer, fastest_architecture
from .operators import NewArchitecturesOnly, make_nsga2
from .outcome import SearchOutcome
from .results import front_indices, write_results
from .size_model import SizeModel
from .state import SearchState, StateError

__all__ = ["run_search", "check_feasible", "STATE_FILE"]

STATE_FILE = "state.json"


def check_feasible(config: SearchConfig, latency: ArrayFn, sizes: SizeModel) -> None:
    """Fail early, with the best achievable value, when a budget no architecture can meet."""
    if config.max_latency_ms is not None:
        codes, ms = fastest_architecture(latency)
        if ms > config.max_latency_ms:
            raise UsageError(
                f"no architecture meets the latency budget of {config.max_latency_ms:g} ms: the "
                f"fastest under this table is {ms:.3f} ms ({Architecture.decode(codes)}); raise "
                f"--max-latency or pick another --table")
    if config.max_macs is not None and sizes.min_macs() > config.max_macs:
        raise UsageError(
            f"no architecture meets the MAC budget of {config.max_macs / 1e6:g} M: the smallest "
            f"has {sizes.min_macs() / 1e6:.1f} M MACs; raise --max-macs")


def _load_state(path: Path, config: SearchConfig) -> SearchState | None:
    if not path.exists():
        return None
    state = SearchState.load(path)
    saved, wanted = state.config.to_json(), config.to_json()
    if saved != wanted:
        diff = ", ".join(f"{k}: saved {saved.get(k)!r} vs now {wanted.get(k)!r}"
                         for k in sorted(set(saved) | set(wanted)) if saved.get(k) != wanted.get(k))
        raise StateError(f"{path.parent} holds a search with other settings ({diff}); rerun with "
                         f"the same settings to resume it, or choose another --out folder")
    return state


def _bar(total: int, desc: str, progress: bool, initial: int = 0) -> tqdm:
    """A bar counting scored architectures (short postfix: fits 80-120 columns)."""
    return tqdm(total=total, initial=initial, desc=desc, unit="arch", disable=not progress,
                dynamic_ncols=True)


def _scored(bar: tqdm, score: Callable[[], Any], count: int) -> Any:
    """``score()``, moving ``bar`` once per architecture the evaluator reports as scored, and
    by the rest of ``count`` when it is done (for scorers that report nothing)."""
    with listening(bar.update) as heard:
        result = score()
    if count > heard():
        bar.update(count - heard())
    return result


def _measure_extras(config: SearchConfig, scorer: Scorer, progress: bool) -> dict[str, Any]:
    """MoGA-A/B/C and a seeded random-sample cloud, measured exactly like the candidates."""
    named = np.array([a.encode() for a in NAMED_ARCHITECTURES.values()], dtype=np.int64)
    rng = np.random.default_rng([config.seed, 1])
    cloud = rng.integers(0, NUM_CHOICES, size=(config.random_samples, NUM_LAYERS))
    bar = _bar(len(named) + len(cloud), "MoGA-A/B/C + random sample", progress)

    def table(codes: np.ndarray) -> dict[str, Any]:
        m = (_scored(bar, lambda: scorer(codes), len(codes)) if len(codes) else
             {k: np.zeros(0) for k in METRICS})
        return {"codes": codes.tolist(), **{k: np.asarray(m[k]).tolist() for k in METRICS}}

    with bar:
        return {"references": {"names": list(NAMED_ARCHITECTURES), **table(named)},
                "random": table(cloud)}


def _say(progress: bool) -> Callable[[str], None]:
    """Where phase lines go: stderr, next to the progress bars (nowhere without progress)."""
    return (lambda line: print(line, file=sys.stderr, flush=True)) if progress else (lambda _: None)


def _save(path: Path, config: SearchConfig, generation: int, algorithm: Any, history: History,
          extras: dict[str, Any]) -> None:
    pop = algorithm.pop
    rank = [None if r is None else int(r) for r in pop.get("rank")]
    crowding = [None if c is None else float(c) for c in pop.get("crowding")]
    SearchState(config, generation, algorithm.random_state.bit_generator.state,
                np.asarray(pop.get("X"), dtype=np.int64), rank, crowding, history,
                extras).save(path)


def run_search(config: SearchConfig, scorer: Scorer, out_dir: "str | Path",
               progress: bool = True, invocation: "dict[str, Any] | None" = None) -> SearchOutcome:
    """Run (or resume) the weighted NSGA-II search and write the results folder ``out_dir``
    (``invocation``: how this run scores, e.g. its processes, for ``run.json``).

    The state is saved atomically after every generation to ``out_dir/state.json``; calling
    again with the same settings continues from it and ends with exactly the same front.
    """
    out_dir = Path(out_dir)
    state_path = out_dir / STATE_FILE
    state = _load_state(state_path, config)
    check_feasible(config, scorer.latency, scorer.sizes)
    started, started_cpu = time.perf_counter(), time.process_time()
    say = _say(progress)
    resumed = state.generation if state else None
    _log_invocation(out_dir / "run.json", {
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "resumed_from_generation": resumed, **(invocation or {}), "finished": False})
    interrupts.resumable(f"generation {state.generation} of {config.generations} in "
                         f"{state_path}" if state else None)
    if state is not None:
        print(f"resumed from generation {state.generation} of {config.generations} "
              f"({state_path})", file=sys.stderr, flush=True)

    history = state.history if state else History()
    problem = ArchitectureProblem(scorer, history, config.objectives,
                                  config.max_latency_ms, config.max_macs)
    algorithm = make_nsga2(config.pop_size, check_weights(config.weights, len(config.objectives)),
                           config.layer_mutation_prob, config.crossover_prob, config.seed,
                           NewArchitecturesOnly(history))
    algorithm.setup(problem, termination=NoTermination())
    if state is not None:
        pop = Population.new("X", state.population)
        Evaluator().eval(problem, pop)  # from the history: nothing is re-measured
        pop.set("rank", np.array(state.rank, dtype=object),
                "crowding", np.array(state.crowding, dtype=object))
        algorithm.pop, algorithm.is_initialized = pop, True
        algorithm.n_iter = state.generation + 1
        algorithm.random_state.bit_generator.state = state.rng
    extras = state.extras if state else {}
    done = state.generation if state else 0

    bar = _bar(config.generations * config.pop_size, "search", progress,
               initial=done * config.pop_size)
    while done < config.generations:
        problem.generation = done + 1
        offspring = algorithm.ask()
        if offspring is None or len(offspring) == 0:
            break  # the space around the population is exhausted (only in tiny test spaces)
        _scored(bar, lambda: algorithm.evaluator.eval(problem, offspring), len(offspring))
        algorithm.tell(infills=offspring)
        done += 1
        _save(state_path, config, done, algorithm, history, extras)
        interrupts.resumable(f"generation {done} of {config.generations} in {state_path}")
        pop = algorithm.pop
        metrics = problem.measure(pop.get("X"))
        front = front_indices(problem, metrics)
        if bar.n < done * config.pop_size:  # generations smaller than the population
            bar.update(done * config.pop_size - bar.n)
        if len(front):
            bar.set_postfix_str(f"gen {done}, front {len(front)}, best acc "
                                f"{metrics['accuracy'][front].max():.4f}, min "
                                f"{metrics['latency_ms'][front].min():.2f} ms")
    bar.close()
    search_s = time.perf_counter() - started

    if not extras:
        extras = _measure_extras(config, scorer, progress)
        _save(state_path, config, done, algorithm, history, extras)
    population = np.asarray(algorithm.pop.get("X"), dtype=np.int64)
    metrics = problem.measure(population)
    outcome = SearchOutcome(config, history, population, metrics,
                            front_indices(problem, metrics), extras, out_dir,
                            {"generations_done": done, "evaluations": len(history),
                             "seconds_this_invocation": round(time.perf_counter() - started, 2),
                             "search_seconds_this_invocation": round(search_s, 2),
                             "cpu_seconds_this_invocation": round(time.process_time() - started_cpu, 2),
                             "resumed_from_generation": resumed})
    write_results(outcome, problem, say)
    _log_invocation(out_dir / "run.json", {**outcome.timing, "finished": True}, update_last=True)
    return outcome


def _log_invocation(path: Path, entry: dict[str, Any], update_last: bool = False) -> None:
    """Record an invocation in ``run.json``: appended when it starts (so a killed one is listed
    too), completed with its timings when it finishes."""
    try:
        invocations = read_json(path, "run log")["invocations"]
    except (RecordError, KeyError, TypeError):
        invocations = []
    if update_last and invocations:
        entry = {**invocations.pop(), **entry}
    write_json_atomic(path, {"invocations": [*invocations, entry]}, indent=1)
