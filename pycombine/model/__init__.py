"""The statistical model: datacard -> model description (``spec``) -> compiled arrays -> likelihood.

``build`` (with its ``build_*`` steps) makes text2workspace's decisions and records them as a
:class:`~.spec.ModelSpec`; ``compile`` turns that into flat numpy arrays; ``likelihood`` and
``hessian`` evaluate the NLL, its gradient and the Gauss-Newton Hessian, vectorised over bins,
processes and nuisances.
"""
