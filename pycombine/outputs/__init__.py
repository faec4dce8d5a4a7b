"""Combine's output files and console text.

Combine's own layouts live here: :mod:`.limit_tree` (``higgsCombine*.root``),
:mod:`.fit_diagnostics_file` (``fitDiagnostics*.root``), :mod:`.data_graph` (the observed-data
``TGraphAsymmErrors``) and :mod:`.console` (number formatting). How ROOT objects are serialised,
without any Combine knowledge, is :mod:`.root`'s business.
"""
