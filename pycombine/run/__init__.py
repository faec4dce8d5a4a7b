"""Orchestration: one ``combine`` command line from options to output files.

``options`` (Combine's option table, :class:`RunOptions`), ``loading`` (card -> model as
``combine`` reads it), ``session`` (the compiled model and the run's parameter state),
``runner`` (banner, method dispatch), ``toys`` (the pseudo-experiment driver) and ``parallel``
(serial, process-pool and Dask back ends). Methods sit below this layer and never import it.
"""
