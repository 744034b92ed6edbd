"""Weighted NSGA-II search over the MoGA space, built on pymoo; resumable, scalable over processes.

Modules: ``defaults`` (objective names, weights, budgets), ``config`` (:class:`SearchConfig`),
``size_model`` (exact vectorised params/MACs), ``objectives`` (scorer and pymoo problem),
``crowding`` (weighted crowding distance), ``operators`` (categorical variation, NSGA-II),
``history`` / ``state`` (every evaluation; the resume file), ``distributed`` (torch.distributed
evaluation), ``runner`` (:func:`run_search`), ``outcome`` (:class:`SearchOutcome`, what a run
hands on), ``results`` / ``plot`` (the results folder).
Nothing is imported here, so reading the defaults stays cheap.
"""
