"""Statistical methods (``combine -M <Method>``), one module each.

Every method module exposes the same three functions, used by :mod:`pycombine.runner`:

``check_options(opts) -> None``
    raise :class:`~pycombine.errors.OptionError` for invalid method options, before any output;
``option_messages(opts) -> list[str]``
    lines Combine prints before ``>>> Method used is ...`` (e.g. AsymptoticLimits' note about
    a-priori expected limits);
``run(session) -> int``
    analyse ``session.main_dataset()``, print the method's console block, write
    ``higgsCombine*.root`` (and method files) atomically, return the exit status.

The numerical work lives in functions that take a :class:`~pycombine.session.Session` and a
:class:`~pycombine.model.likelihood.Dataset` and return a result object, so the toy driver,
the Python API and the parallel runners reuse them without the console/file layer.
"""
