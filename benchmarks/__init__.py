"""Overhead of bloop against the same workload in raw boto3, measured in one run as ratios.

Run every benchmark from the repository root with ``python -m benchmarks`` (or ``make bench``);
``python -m benchmarks core`` runs only the modules whose name contains ``core``.

Every ``benchmarks/bench_*.py`` module exposes ``main()``. It may print what it likes; what it returns
(an iterable of :class:`benchmarks.canned.Result`, or of dicts / objects with the same fields) goes into
the summary table that ``python -m benchmarks`` prints at the end. No benchmark touches the network:
:func:`benchmarks.canned.patched` answers every AWS call in-process (see ``canned.py``).
"""
