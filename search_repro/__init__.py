"""A compact reproduction of the MoGA search: supernet, latency tables, weighted NSGA-II."""
