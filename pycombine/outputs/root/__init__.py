"""ROOT file serialisation without ROOT, and without any knowledge of Combine.

* :mod:`.file` -- :class:`~.file.RootFileWriter`: atomic writing of a ROOT file through uproot
  (trees, histograms, graphs, any uproot-writable object);
* :mod:`.flat_tree` -- :class:`~.flat_tree.FlatTree`: a TTree writer linear in branches x entries
  (uproot's is quadratic in the number of branches), with :mod:`.tree_record` the bytes it writes;
* :mod:`.rawfile` -- :class:`~.rawfile.TreeFileWriter`: a file of flat TTrees in directories
  (``higgsCombine*.root``) written without uproot, whose import costs ~0.3 s of every command;
  :mod:`.tree_streamers` holds the StreamerInfo records it writes (uproot's, as constants);
  it also writes ``fitDiagnostics*.root``, whose histograms and graphs :mod:`.objects` serialises
  (with :mod:`.object_streamers` their StreamerInfo records);
* :mod:`.histograms` -- TH1/TH2 models with the statistics ROOT would store;
* :mod:`.tgraph` -- ``TGraphAsymmErrors``, which uproot cannot write;
* :mod:`.roofit` -- ``RooFitResult`` and ``RooArgSet``/``RooArgList`` of ``RooRealVar`` (ROOT's
  bytes, from the plain data of :mod:`.roofit_data`), with :mod:`.roofit_streamers` the
  StreamerInfo records they need;
* :mod:`.garwood` -- ROOT's ``kPoisson`` (Garwood) error bars.

Nothing is imported here: uproot (and scipy, for large counts in :mod:`.garwood`) are only
imported when something is written.
"""
