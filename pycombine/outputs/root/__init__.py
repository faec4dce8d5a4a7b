"""ROOT file serialisation without ROOT, and without any knowledge of Combine.

* :mod:`.file` -- :class:`~.file.RootFileWriter`: atomic writing of a ROOT file through uproot
  (trees, histograms, graphs, any uproot-writable object);
* :mod:`.flat_tree` -- :class:`~.flat_tree.FlatTree`: a TTree writer linear in branches x entries
  (uproot's is quadratic in the number of branches), with :mod:`.tree_record` the bytes it writes;
* :mod:`.histograms` -- TH1/TH2 models with the statistics ROOT would store;
* :mod:`.tgraph` -- ``TGraphAsymmErrors``, which uproot cannot write;
* :mod:`.garwood` -- ROOT's ``kPoisson`` (Garwood) error bars.

Nothing is imported here: uproot (and scipy, for large counts in :mod:`.garwood`) are only
imported when something is written.
"""
