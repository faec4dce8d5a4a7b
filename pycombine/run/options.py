"""Combine's command-line options: one table, and the options of one run.

Combine parses options with Boost.Program_options: long options accept ``--opt value`` and
``--opt=value``, any unambiguous prefix of a long option is accepted, boolean-valued options
(``--floatOtherPOIs 1``) need a value while flags take none, and some options may be repeated.
The table below drives the click command in :mod:`pycombine.cli.combine` and the defaults of
:class:`RunOptions` (what the Python API passes around); it only declares options, the methods
interpret them. It lives here, below the command line, because the run layer and the Python API
need the same defaults as the console script.

Kinds: ``str``, ``float``, ``float32`` (Combine stores it as a C float), ``int``, ``bool``
(needs a value 1/0/true/false), ``flag`` (no value), ``multi`` (repeatable string).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

from ..errors import OptionError


@dataclass(frozen=True)
class Opt:
    names: tuple[str, ...]  # e.g. ("-M", "--method")
    dest: str
    kind: str
    default: object
    help: str
    group: str = "common"


def _o(names, dest, kind, default, help, group="common"):
    return Opt(tuple(names.split()), dest, kind, default, help, group)


OPTIONS: list[Opt] = [
    # ------------------------------------------------------------------ main
    _o("-M --method", "method", "str", "AsymptoticLimits", "Method: AsymptoticLimits, Significance, FitDiagnostics, MultiDimFit, GoodnessOfFit"),
    _o("-d --datacard", "datacard", "str", None, "Datacard file (may also be given without -d)"),
    _o("-v --verbose", "verbose", "int", 0, "Verbosity level (-1 very quiet, 0 quiet, 1 verbose, 2+ debug)"),
    _o("-n --name", "name", "str", "Test", "Name of the job; enters the output file name"),
    _o("-m --mass", "mass", "float32", 120.0, "Mass (stored in the output tree, substituted for $MASS)"),
    _o("-t --toys", "toys", "int", 0, "Number of toys (-1: Asimov data set)"),
    _o("-s --seed", "seed", "int", 123456, "Random seed (-1: random)"),
    _o("-C --cl", "cl", "float32", 0.95, "Confidence level"),
    _o("-D --dataset", "dataset", "str", "data_obs", "Dataset name"),
    _o("--dataMapName", "data_map_name", "str", "data_obs", "Name of the data in the datacard"),
    _o("-H --hintMethod", "hint_method", "str", "", "Run a hint method first (not supported)"),
    _o("-L --LoadLibrary", "load_library", "multi", (), "Load a library (ignored: no ROOT)"),
    _o("--keyword-value", "keyword_value", "multi", (), "WORD=VALUE: replace $WORD in the datacard and extend the file name"),
    _o("--X-rtd", "x_rtd", "multi", (), "Run-time switch NAME[=VALUE] (used: MINIMIZER_no_analytic, longName; others only tune RooFit)"),
    _o("--text2workspace", "text2workspace", "str", "", "Extra text2workspace options (e.g. --channel-masks)"),
    _o("--toysFile", "toys_file", "str", "", "Read toys from this file"),
    # ------------------------------------------------------------------ model / parameters
    _o("--rMin", "r_min", "float32", None, "Minimum of the first POI (r is reset to the middle of its range)"),
    _o("--rMax", "r_max", "float32", None, "Maximum of the first POI (r is reset to the middle of its range)"),
    _o("--expectSignal", "expect_signal", "float32", None, "Signal strength of toys and Asimov data (default 0)"),
    _o("--expectSignalMass", "expect_signal_mass", "float32", -99.0, "Mass for toy generation"),
    _o("--toysFrequentist", "toys_frequentist", "flag", False, "Generate toys/Asimov after a fit to the data"),
    _o("--toysNoSystematics", "toys_no_systematics", "flag", False, "Do not randomise nuisances in toys"),
    _o("--bypassFrequentistFit", "bypass_frequentist_fit", "flag", False, "Skip the fit of frequentist toys"),
    _o("--setParameters", "set_parameters", "str", "", "Set parameters: a=1,b=2 (rgx{...} allowed; old name --setPhysicsModelParameters)"),
    _o("--setParameterRanges", "set_parameter_ranges", "str", "", "Set ranges: a=lo,hi:b=lo,hi"),
    _o("--redefineSignalPOIs", "redefine_signal_pois", "str", "", "Comma-separated list of POIs"),
    _o("--freezeParameters", "freeze_parameters", "str", "", "Freeze parameters (names, rgx{...}, var{...}, allConstrainedNuisances; old name --freezeNuisances)"),
    _o("--freezeNuisanceGroups", "freeze_nuisance_groups", "str", "", "Freeze nuisance groups (^group: all but the group)"),
    _o("--freezeWithAttributes", "freeze_with_attributes", "str", "", "Freeze parameters with these attributes"),
    _o("--floatParameters", "float_parameters", "str", "", "Make parameters floating"),
    _o("--floatAllNuisances", "float_all_nuisances", "bool", False, "Make all nuisances floating"),
    _o("--freezeAllGlobalObs", "freeze_all_global_obs", "bool", True, "Global observables are constant"),
    _o("-w --workspaceName", "workspace_name", "str", "w", "Workspace name in a workspace file (read, and written by --saveWorkspace)"),
    _o("--snapshotName", "snapshot_name", "str", "", "Load this snapshot of the workspace (e.g. MultiDimFit, saved by --saveWorkspace)"),
    _o("--overrideSnapshotMass", "override_snapshot_mass", "flag", False, "Keep -m over the snapshot's MH"),
    _o("--trackParameters", "track_parameters", "str", "", "Add branches with these parameter values"),
    _o("--trackErrors", "track_errors", "str", "", "Add branches with these parameter errors"),
    _o("--saveWorkspace", "save_workspace", "flag", False, "Save the workspace in the output file (MultiDimFit: with the best-fit snapshot 'MultiDimFit')"),
    _o("--saveToys", "save_toys", "flag", False, "Save toys"),
    _o("--pickToy", "pick_toy", "int", 0, "Run only this toy"),
    _o("--noMCbonly", "no_mc_bonly", "bool", False, "Do not build a background-only model"),
    _o("--optimizeSimPdf", "optimize_sim_pdf", "bool", True, "Use the cached NLL (always on)"),
    _o("--forceRecreateNLL", "force_recreate_nll", "flag", False, "Rebuild the NLL for each dataset (no effect)"),
    # ------------------------------------------------------------------ minimiser
    _o("--cminDefaultMinimizerType", "cmin_type", "str", "Minuit2", "Minimiser type"),
    _o("--cminDefaultMinimizerAlgo", "cmin_algo", "str", "Migrad", "Minimiser algorithm"),
    _o("--cminDefaultMinimizerTolerance", "cmin_tolerance", "float", 0.1, "Minimiser tolerance"),
    _o("--cminDefaultMinimizerStrategy", "cmin_strategy", "int", 1, "Minimiser strategy (0, 1, 2)"),
    _o("--cminDefaultMinimizerPrecision", "cmin_precision", "float", -1.0, "Machine precision override"),
    _o("--cminFallbackAlgo", "cmin_fallback_algo", "multi", (), "Fallback minimiser (Type[,Algo],strategy[:tol])"),
    _o("--cminPreFit", "cmin_pre_fit", "int", 0, "Pre-fit with constrained nuisances frozen"),
    _o("--cminApproxPreFitTolerance", "cmin_approx_pre_fit_tolerance", "float", 0.0, "Coarse pre-fit tolerance"),
    _o("--cminPoiOnlyFit", "cmin_poi_only_fit", "flag", False, "Scan the POI before the fit"),
    _o("--cminSetZeroPoint", "cmin_set_zero_point", "bool", True, "Zero the NLL during minimisation"),
    _o("--cminInitialHesse", "cmin_initial_hesse", "bool", False, "Hesse before minimising"),
    _o("--cminFinalHesse", "cmin_final_hesse", "bool", False, "Hesse after minimising"),
    _o("--nllbackend", "nll_backend", "str", "combine", "RooFit NLL backend: combine, legacy, cpu, codegen (no effect in pycombine)", "compat"),
    # ------------------------------------------------------------------ AsymptoticLimits
    _o("--run", "run", "str", "both", "AsymptoticLimits: both, expected, observed, blind", "AsymptoticLimits"),
    _o("--noFitAsimov", "no_fit_asimov", "flag", False, "Use the pre-fit (a-priori) Asimov data set", "AsymptoticLimits"),
    _o("--rAbsAcc", "r_abs_acc", "float", None, "Absolute accuracy on r (AsymptoticLimits 0.0005, HybridNew 0.1)", "AsymptoticLimits"),
    _o("--rRelAcc", "r_rel_acc", "float", None, "Relative accuracy on r (AsymptoticLimits 0.005, HybridNew 0.05)", "AsymptoticLimits"),
    _o("--rule", "rule", "str", "CLs", "CLs or Pmu", "AsymptoticLimits"),
    _o("--qtilde", "qtilde", "bool", True, "Bound r >= 0 in the test statistic", "AsymptoticLimits"),
    _o("--minosAlgo", "minos_algo", "str", "stepping", "Median search algorithm", "AsymptoticLimits"),
    _o("--singlePoint", "single_point", "str", None, "Compute CLs at this r only (HybridNew: also r=1,x=2)", "AsymptoticLimits"),
    _o("--strictBounds", "strict_bounds", "flag", False, "Never go above rMax", "AsymptoticLimits"),
    _o("--signalStrengthForExpected", "signal_strength_for_expected", "float", 0.0, "Asimov signal for expected limits", "AsymptoticLimits"),
    _o("--newExpected", "new_expected", "bool", True, "Expected bands by crossing searches", "AsymptoticLimits"),
    _o("--picky", "picky", "flag", False, "Abort on fit failures", "AsymptoticLimits"),
    _o("--getLimitFromGrid", "get_limit_from_grid", "str", "", "Not supported", "AsymptoticLimits"),
    # ------------------------------------------------------------------ Significance
    _o("--pvalue", "pvalue", "flag", False, "Report the p-value instead of the significance", "Significance"),
    _o("--uncapped", "uncapped", "bool", False, "Signed significance", "Significance"),
    _o("--signalForSignificance", "signal_for_significance", "str", None, "Significance: null-hypothesis signal strength (0); HybridNew: signal of the expected significance (1)", "Significance"),
    # ------------------------------------------------------------------ FitDiagnostics / fits
    _o("--preFitValue", "pre_fit_value", "float", 1.0, "Starting value of r and r of the pre-fit shapes", "FitDiagnostics"),
    _o("--minos", "minos", "str", "poi", "Minos on: none, poi, all", "FitDiagnostics"),
    _o("--robustFit", "robust_fit", "bool", False, "Crossing search instead of Minos", "FitDiagnostics"),
    _o("--stepSize", "step_size", "float", 0.1, "Robust-fit step (fraction of the range)", "FitDiagnostics"),
    _o("--setCrossingTolerance", "crossing_tolerance", "float", 1e-4, "Robust-fit crossing tolerance", "FitDiagnostics"),
    _o("--setRobustFitAlgo", "robust_fit_algo", "str", "", "Robust-fit minimiser algorithm", "FitDiagnostics"),
    _o("--setRobustFitStrategy", "robust_fit_strategy", "int", 0, "Robust-fit strategy", "FitDiagnostics"),
    _o("--setRobustFitTolerance", "robust_fit_tolerance", "float", -1.0, "Robust-fit tolerance", "FitDiagnostics"),
    _o("--maxFailedSteps", "max_failed_steps", "int", 5, "Robust fit: maximum failed steps", "FitDiagnostics"),
    _o("--do95", "do95", "bool", False, "Also 95% intervals", "FitDiagnostics"),
    _o("--saveShapes", "save_shapes", "flag", False, "Save pre/post-fit shapes", "FitDiagnostics"),
    _o("--saveNormalizations", "save_normalizations", "flag", False, "Save pre/post-fit yields", "FitDiagnostics"),
    _o("--saveWithUncertainties", "save_with_uncertainties", "flag", False, "Add uncertainties to saved shapes and yields", "FitDiagnostics"),
    _o("--saveOverallShapes", "save_overall_shapes", "flag", False, "Save shapes of all channels concatenated", "FitDiagnostics"),
    _o("--numToysForShapes", "num_toys_for_shapes", "int", 200, "Parameter draws for shape uncertainties (pycombine uses at least 1000)", "FitDiagnostics"),
    _o("--skipBOnlyFit", "skip_b_only_fit", "flag", False, "Skip the background-only fit", "FitDiagnostics"),
    _o("--skipSBFit", "skip_sb_fit", "flag", False, "Skip the signal+background fit", "FitDiagnostics"),
    _o("--justFit", "just_fit", "flag", False, "Only fit (no output file)", "FitDiagnostics"),
    _o("--noErrors", "no_errors", "flag", False, "No errors on the POI", "FitDiagnostics"),
    _o("--plots", "plots", "flag", False, "Make plots (covariance matrices are saved)", "FitDiagnostics"),
    _o("--out", "out", "str", ".", "Output directory of fitDiagnostics files", "FitDiagnostics"),
    _o("--customStartingPoint", "custom_starting_point", "flag", False, "Start from the given parameter values", "FitDiagnostics"),
    _o("--initFromBonly", "init_from_bonly", "flag", False, "Start the s+b fit from the b-only fit", "FitDiagnostics"),
    _o("--ignoreCovWarning", "ignore_cov_warning", "flag", False, "Save uncertainties even with a bad covariance", "FitDiagnostics"),
    _o("--savePredictionsPerToy", "save_predictions_per_toy", "flag", False, "Save yields in the trees", "FitDiagnostics"),
    _o("--robustHesse", "robust_hesse", "bool", False, "Alternative covariance", "FitDiagnostics"),
    _o("--saveNLL", "save_nll", "flag", False, "Save the NLL in the limit tree", "FitDiagnostics"),
    _o("--keepFailures", "keep_failures", "flag", False, "Keep failed fits", "FitDiagnostics"),
    _o("--oldNormNames", "old_norm_names", "flag", False, "Use coefficient names for saved yields", "FitDiagnostics"),
    # ------------------------------------------------------------------ MultiDimFit
    _o("--algo --algorithm", "algo", "str", None, "MultiDimFit: none, singles, grid, fixed, impact; GoodnessOfFit: saturated, KS, AD", "MultiDimFit"),
    _o("-P --parameters", "parameters", "multi", (), "POIs to fit or scan (repeatable)", "MultiDimFit"),
    _o("--floatOtherPOIs", "float_other_pois", "bool", False, "Let the other POIs float", "MultiDimFit"),
    _o("--points", "points", "int", 50, "Grid points", "MultiDimFit"),
    _o("--firstPoint", "first_point", "int", 0, "First grid point", "MultiDimFit"),
    _o("--lastPoint", "last_point", "int", -1, "Last grid point", "MultiDimFit"),
    _o("--gridPoints", "grid_points", "str", "", "Points per dimension n1,n2", "MultiDimFit"),
    _o("--alignEdges", "align_edges", "bool", False, "Grid points on the range edges", "MultiDimFit"),
    _o("--fastScan", "fast_scan", "flag", False, "No profiling in the grid", "MultiDimFit"),
    _o("--maxDeltaNLLForProf", "max_delta_nll_for_prof", "float", None, "Profile only below this deltaNLL", "MultiDimFit"),
    _o("--startFromPreFit", "start_from_pre_fit", "bool", False, "Start each point from the pre-fit values", "MultiDimFit"),
    _o("--skipInitialFit", "skip_initial_fit", "flag", False, "Skip the initial fit", "MultiDimFit"),
    _o("--autoRange", "auto_range", "float", None, "Range: best fit +- X sigma", "MultiDimFit"),
    _o("--centeredRange", "centered_range", "float", None, "Range: best fit +- X", "MultiDimFit"),
    _o("--fixedPointPOIs", "fixed_point_pois", "str", "", "Point for --algo fixed", "MultiDimFit"),
    _o("--setParametersForGrid", "set_parameters_for_grid", "str", "", "Parameters at each grid point", "MultiDimFit"),
    _o("--saveSpecifiedNuis", "save_specified_nuis", "str", "", "Save these nuisances (all, names, groups)", "MultiDimFit"),
    _o("--saveSpecifiedFunc", "save_specified_func", "str", "", "Save these functions", "MultiDimFit"),
    _o("--saveSpecifiedIndex", "save_specified_index", "str", "", "Save these category indices", "MultiDimFit"),
    _o("--saveInactivePOI", "save_inactive_poi", "bool", False, "Save the inactive POIs", "MultiDimFit"),
    _o("--saveFitResult", "save_fit_result", "flag", False, "Save the fit result", "MultiDimFit"),
    # ------------------------------------------------------------------ GoodnessOfFit
    _o("--setParametersForFit", "set_parameters_for_fit", "str", "", "Parameters for the fit", "GoodnessOfFit"),
    _o("--setParametersForEval", "set_parameters_for_eval", "str", "", "Parameters for the evaluation", "GoodnessOfFit"),
    _o("--fixedSignalStrength", "fixed_signal_strength", "float", None, "Signal strength of the fit (with --fixedSignalStrength)", "GoodnessOfFit"),
    # ------------------------------------------------------------------ HybridNew
    _o("--LHCmode", "lhc_mode", "str", "", "LHC-limits, LHC-significance or LHC-feldman-cousins (sets the options below)", "HybridNew"),
    _o("--testStat", "test_stat", "str", "LEP", "Test statistic: LEP, TEV, LHC, Profile", "HybridNew"),
    _o("--generateNuisances", "generate_nuisances", "bool", True, "Generate nuisance parameters for each toy", "HybridNew"),
    _o("--generateExternalMeasurements", "generate_external_measurements", "bool", False, "Generate the global observables for each toy", "HybridNew"),
    _o("--fitNuisances", "fit_nuisances", "bool", False, "Fit the nuisances to the data before generating toys", "HybridNew"),
    _o("--frequentist", "frequentist", "flag", False, "Frequentist toys (--generateNuisances 0 --generateExternalMeasurements 1 --fitNuisances 1)", "HybridNew"),
    _o("-T --toysH", "toys_h", "int", 500, "Toys per iteration (S+B toys; B toys: a quarter of them)", "HybridNew"),
    _o("-i --iterations", "iterations", "int", 1, "Iterations of -T toys at a single point (with --clsAcc 0)", "HybridNew"),
    _o("--clsAcc", "cls_acc", "float", 0.005, "Absolute accuracy on CLs (0: no adaptive toys)", "HybridNew"),
    _o("--interpAcc", "interp_acc", "float", 0.2, "Minimum relative width of the limit's interpolation interval", "HybridNew"),
    _o("--searchAlgo", "search_algo", "str", "logSecant", "Limit search (accepted; pycombine fits log CLs near the crossing)", "HybridNew"),
    _o("--fullBToys", "full_b_toys", "flag", False, "As many background toys as signal+background ones", "HybridNew"),
    _o("--expectedFromGrid", "expected_from_grid", "float", None, "Expected limit for this quantile of the background-only toys", "HybridNew"),
    _o("--clsQuantiles", "cls_quantiles", "bool", True, "Quantiles of CLs instead of the test statistic", "HybridNew"),
    _o("--saveHybridResult", "save_hybrid_result", "flag", False, "Save the toys' test statistics in the output file", "HybridNew"),
    _o("--readHybridResults", "read_hybrid_results", "flag", False, "Read the toys from --grid (or --toysFile)", "HybridNew"),
    _o("--grid", "grid", "str", "", "File with the toys of a grid of points (merged --saveHybridResult outputs)", "HybridNew"),
    _o("--noUpdateGrid", "no_update_grid", "flag", False, "Use the data test statistic stored in the grid", "HybridNew"),
    _o("--saveGrid", "save_grid", "flag", False, "Save CLs at every grid point in the limit tree", "HybridNew"),
    _o("--fullGrid", "full_grid", "flag", False, "Evaluate every grid point", "HybridNew"),
    _o("--onlyTestStat", "only_test_stat", "flag", False, "Only the test statistic of the data (with --singlePoint)", "HybridNew"),
    _o("--plot", "plot", "str", "", "Save a plot of CLs against the POI (limit search) or of the test statistics", "HybridNew"),
    _o("--fork", "fork", "int", 0, "Processes (accepted: pycombine uses --parallel)", "HybridNew"),
    _o("--adaptiveToys", "adaptive_toys", "float", -1.0, "Fewer toys far from the contours (not supported)", "HybridNew"),
    _o("--importantContours", "important_contours", "str", "0.68,0.95", "Contours for --adaptiveToys", "HybridNew"),
    _o("--maxProbability", "max_probability", "float", 0.999, "With --adaptiveToys", "HybridNew"),
    _o("--confidenceTolerance", "confidence_tolerance", "float", 0.2, "With --adaptiveToys", "HybridNew"),
    _o("--newToyMCSampler", "new_toymc_sampler", "bool", True, "RooFit internals (no effect)", "HybridNew"),
    _o("--optimizeProductPdf", "optimize_product_pdf", "bool", True, "RooFit internals (no effect)", "HybridNew"),
    _o("--optimizeTestStatistics", "optimize_test_statistics", "bool", True, "RooFit internals (no effect)", "HybridNew"),
    # ------------------------------------------------------------------ pycombine extensions
    _o("--dump-model", "dump_model", "flag", False, "Print channels, processes, yields and systematics and exit", "pycombine"),
    _o("--json", "json", "flag", False, "With --dump-model: print JSON", "pycombine"),
    _o("--debug", "debug", "flag", False, "Show tracebacks of errors", "pycombine"),
    _o("--parallel", "parallel", "int", 0, "Worker processes for toys (-t N) and other independent tasks (0: one per core)", "pycombine"),
    _o("--dask-scheduler", "dask_scheduler", "str", None, "Run toys on a Dask cluster: tcp://host:port, or 'local' for a LocalCluster", "pycombine"),
    # ------------------------------------------------------------------ pyhf JSON workspaces (input ending in .json)
    _o("--patch", "patch", "multi", (), "pyhf workspace: apply this JSON patch file (RFC 6902; repeatable, in order)", "pyhf"),
    _o("--patchset", "patchset", "str", "", "pyhf workspace: a HEPData patchset file (with --patch-name)", "pyhf"),
    _o("--patch-name", "patch_name", "str", "", "pyhf workspace: the patch of --patchset to apply (its name, or its values a,b)", "pyhf"),
    _o("--measurement", "measurement", "str", "", "pyhf workspace: the measurement to use (default: the first)", "pyhf"),
    _o("--normsys-interpcode", "normsys_interpcode", "str", "code4", "pyhf workspace: normsys interpolation, code1 or code4 (pyhf's default)", "pyhf"),
    _o("--histosys-interpcode", "histosys_interpcode", "str", "code4p", "pyhf workspace: histosys interpolation, code0 or code4p (pyhf's default)", "pyhf"),
]

BY_DEST = {o.dest: o for o in OPTIONS}

#: option names of older Combine versions, accepted for their current names (Combine v10 refuses them)
OLD_OPTION_NAMES = {"--setPhysicsModelParameters": "--setParameters", "--freezeNuisances": "--freezeParameters"}
#: ``-M`` names of older Combine versions (v10 answers ``Unsupported method: Asymptotic``)
METHOD_ALIASES = {"Asymptotic": "AsymptoticLimits"}
#: ``--nllbackend`` values Combine accepts (``FitterAlgoBase``)
NLL_BACKENDS = ("combine", "legacy", "cpu", "codegen")

# ---------------------------------------------------------------------------------- text2workspace
#: The options of ``text2workspace.py`` (Combine's ``addDatacardParserOptions`` and the script's own),
#: for the console script and for ``combine --text2workspace "..."``. Groups: ``model`` (they
#: change the model or the file), ``noeffect`` (they tune the RooFit workspace: accepted with a note),
#: ``unsupported`` (refused). Kinds as above, plus ``pair`` (two values, repeatable).
T2W_OPTIONS: list[Opt] = [
    _o("-o --out", "out", "str", None, "Output workspace file (default: the card's name without .txt, plus .root)", "model"),
    _o("-m --mass", "mass", "float", 0.0, "Mass: substituted for $MASS in shapes lines, given to the physics model", "model"),
    _o("-P --physics-model", "physics_model", "str", "HiggsAnalysis.CombinedLimit.PhysicsModel:defaultModel",
       "Physics model, as module:object", "model"),
    _o("--PO --physics-option", "physics_options", "multi", (), "Option of the physics model (repeatable)", "model"),
    _o("--channel-masks", "channel_masks", "flag", False, "Create the channel-masking parameters mask_<channel>", "model"),
    _o("-s --stat", "stat", "flag", False, "Keep only statistical uncertainties, no systematics", "model"),
    _o("--X-exclude-nuisance", "exclude_nuisance", "multi", (), "Drop the nuisances matching this regular expression (repeatable)", "model"),
    _o("--X-allow-no-signal", "allow_no_signal", "flag", False, "Accept datacards without signal processes", "model"),
    _o("--X-allow-no-background", "allow_no_background", "flag", False, "Accept datacards without background processes", "model"),
    _o("--X-no-check-norm", "no_check_norm", "flag", False, "Do not check the card's rates against the template integrals", "model"),
    _o("--X-no-jmax", "no_jmax", "flag", False, "Do not check jmax against the number of processes", "model"),
    _o("--dataMapName", "data_map_name", "str", "data_obs", "Name of the observed data in the datacard", "model"),
    _o("--keyword-value", "keyword_value", "multi", (), "WORD=VALUE: replace $WORD in the datacard (repeatable)", "model"),
    _o("--default-morphing", "default_morphing", "str", "shape", "Morphing of 'shape' lines (only 'shape' is supported)", "model"),
    _o("--just-check-physics-model", "just_check_physics_model", "flag", False,
       "Only run the physics model on the card; write nothing", "model"),
    _o("-v --verbose", "verbose", "int", 0, "Verbosity level", "model"),
    _o("-b --binary", "binary", "flag", False, "Write a workspace file (always)", "model"),
    # RooFit workspace tuning: nothing to tune in pycombine
    _o("--for-fits --no-b-only", "no_b_only", "flag", False, "Do not save the background-only pdf (no effect)", "noeffect"),
    _o("--no-wrappers", "no_wrappers", "flag", False, "Do not save CMSHistFuncWrapper objects (no effect)", "noeffect"),
    _o("--use-histsum", "use_histsum", "flag", False, "Use CMSHistSum (no effect)", "noeffect"),
    _o("--no-optimize-pdfs", "no_optimize_pdfs", "flag", False, "Do not use RooSimultaneousOpt (no effect)", "noeffect"),
    _o("--optimize-simpdf-constraints", "optimize_simpdf_constraints", "str", "none", "Constraint placement (no effect)", "noeffect"),
    _o("--X-pack-asympows", "pack_asympows", "flag", False, "Merge AsymPow objects (no effect)", "noeffect"),
    _o("--X-no-optimize-templates", "no_optimize_templates", "flag", False, "Do not optimise templates (no effect)", "noeffect"),
    _o("--X-no-optimize-bound-nusances", "no_optimize_bound_nuisances", "flag", False, "No bound flags (no effect)", "noeffect"),
    _o("--X-no-optimize-bins", "no_optimize_bins", "flag", False, "Do not optimise template bins (no effect)", "noeffect"),
    _o("--X-optimizeMHDependency", "optimize_mh_dependency", "str", None, "Simplify MH-dependent objects (no effect)", "noeffect"),
    _o("--X-force-no-simpdf", "force_no_simpdf", "flag", False, "No RooSimultaneous for one channel (no effect)", "noeffect"),
    _o("--X-assign-flatParam-prior", "flat_param_prior", "flag", False, "RooUniform pdfs for flatParams (no effect)", "noeffect"),
    _o("--use-HistPdf", "use_hist_pdf", "str", "never", "Use RooHistPdf (no effect)", "noeffect"),
    _o("--no-data", "no_data", "flag", False, "Do not save the data (no effect: the workspace keeps them)", "noeffect"),
    _o("--poisson", "poisson", "int", 0, "Poisson generation of binned toys (no effect)", "noeffect"),
    _o("-c --compiled", "compiled", "flag", False, "Compiled expressions (no effect)", "noeffect"),
    _o("-f --fix-pars", "fix_pars", "flag", False, "Fix the parameters of RooFit pdfs (no effect: templates only)", "noeffect"),
    _o("--remove-multipdf", "remove_multipdf", "flag", False, "Replace RooMultiPdfs (no effect: none exist)", "noeffect"),
    _o("-L --LoadLibrary", "load_library", "multi", (), "Load a library (no effect: no ROOT)", "noeffect"),
    # what pycombine cannot do
    _o("-a --ascii", "ascii", "flag", False, "Legacy HLF text output (not supported)", "unsupported"),
    _o("--dump-datacard", "dump_datacard", "flag", False, "Print the card as a python config (not supported)", "unsupported"),
    _o("--X-rescale-nuisance", "rescale_nuisance", "pair", (), "Rescale constraints (not supported)", "unsupported"),
    _o("--X-nuisance-function", "nuisance_function", "pair", (), "Constraint widths as functions (not supported)", "unsupported"),
    _o("--X-nuisance-group-function", "nuisance_group_function", "pair", (), "Group constraint widths as functions (not supported)",
       "unsupported"),
]

T2W_BY_DEST = {o.dest: o for o in T2W_OPTIONS}


def t2w_defaults() -> dict:
    """text2workspace's option values when none is given (by destination name)."""
    return {o.dest: (tuple(o.default) if o.kind in ("multi", "pair") else o.default) for o in T2W_OPTIONS}


def parse_t2w_arguments(tokens: list[str], where: str = "text2workspace") -> tuple[dict, list[str], list[str]]:
    """optparse-like reading of text2workspace arguments: ``(values, given dests, positionals)``.

    Long options may be abbreviated to an unambiguous prefix and written ``--opt=value``; short ones
    take their value attached (``-Pmod:obj``) or as the next token. Used for ``--text2workspace "..."``
    (the console script parses with click over the same table).
    """
    values, given, positional = t2w_defaults(), [], []
    by_name = {n: o for o in T2W_OPTIONS for n in o.names}
    longs = [n for n in by_name if n.startswith("--")]
    i = 0
    while i < len(tokens):
        t = tokens[i]
        i += 1
        if not t.startswith("-") or t == "-":
            positional.append(t)
            continue
        attached = None
        if t.startswith("--"):
            name, eq, rest = t.partition("=")
            attached = rest if eq else None
            if name not in by_name:
                matches = [n for n in longs if n.startswith(name)]
                if len(set(by_name[n].dest for n in matches)) != 1:
                    what = "ambiguous" if matches else "no such"
                    raise OptionError(f"{where}: {what} option: {name}")
                name = matches[0]
        else:
            name, attached = t[:2], (t[2:] or None)
            if name not in by_name:
                raise OptionError(f"{where}: no such option: {name}")
        o = by_name[name]
        if o.kind == "flag":
            if attached is not None:
                raise OptionError(f"{where}: option {name} takes no value")
            values[o.dest] = True
        else:
            n = 2 if o.kind == "pair" else 1
            args = [attached] if attached is not None else []
            while len(args) < n:
                if i >= len(tokens):
                    raise OptionError(f"{where}: option {name} requires {'2 arguments' if n == 2 else 'an argument'}")
                args.append(tokens[i])
                i += 1
            try:
                if o.kind == "multi":
                    values[o.dest] = values[o.dest] + (args[0],)
                elif o.kind == "pair":
                    values[o.dest] = values[o.dest] + (tuple(args),)
                else:
                    values[o.dest] = {"str": str, "float": float, "int": int}[o.kind](args[0])
            except ValueError:
                raise OptionError(f"{where}: option {name}: invalid {o.kind} value: {args[0]!r}") from None
        given.append(o.dest)
    return values, given, positional


def t2w_option_notes(given) -> list[str]:
    """Refuse the text2workspace options pycombine cannot honour; one note for those without effect."""
    given = list(dict.fromkeys(given))
    for dest in given:
        o = T2W_BY_DEST[dest]
        if o.group == "unsupported":
            raise OptionError(f"text2workspace option {o.names[-1]} is not supported by pycombine")
    noeffect = [T2W_BY_DEST[d].names[0] for d in given if T2W_BY_DEST[d].group == "noeffect"]
    if not noeffect:
        return []
    verb = "has" if len(noeffect) == 1 else "have"
    return [f"Note: {', '.join(noeffect)} {verb} no effect in pycombine (RooFit workspace tuning)"]


class RunOptions(SimpleNamespace):
    """All command-line options by destination name (see :data:`OPTIONS`)."""

    @classmethod
    def from_cli(cls, kwargs: dict) -> "RunOptions":
        return cls(**kwargs)

    @classmethod
    def defaults(cls, **overrides) -> "RunOptions":
        values = {o.dest: (tuple(o.default) if o.kind == "multi" else o.default) for o in OPTIONS}
        values["cards"] = ()
        values["_given"] = set(overrides)
        values.update(overrides)
        return cls(**values)


def datacard_path(opts: RunOptions) -> str:
    """The one datacard of a command line (positional or ``-d``)."""
    cards = list(opts.cards)
    if opts.datacard:
        cards.insert(0, opts.datacard)
    if not cards:
        raise OptionError("Missing datacard file (give it as an argument or with -d)")
    if len(cards) > 1:
        raise OptionError(f"only one datacard can be given, got {', '.join(cards)}")
    return cards[0]


#: ``--X-rtd`` switches that change what pycombine does; every other one tunes RooFit or Minuit
#: internals pycombine does not have, and is accepted with a note on stderr
RUNTIME_DEFINES_USED = {
    "MINIMIZER_no_analytic": "autoMCStats (BB-lite) parameters are minimised numerically, not analytically",
    "longName": "the fitDiagnostics file name carries the mass and toy tags",
}


def _atoi(value: str) -> int:
    """C ``atoi``: the leading integer of ``value``, 0 if none."""
    digits = re.match(r"\s*[+-]?\d+", value)
    return int(digits.group()) if digits else 0


def runtime_define(opts, name: str) -> int:
    """Value of ``--X-rtd name[=value]`` (1 without a value, C ``atoi`` of the value, 0 if absent);
    the last occurrence wins, as in Combine's ``runtimedef::set``."""
    out = 0
    for item in getattr(opts, "x_rtd", ()) or ():
        key, eq, value = item.partition("=")
        if key == name:
            out = _atoi(value) if eq else 1
    return out


def runtime_define_lines(opts) -> tuple[list[str], list[str]]:
    """Combine's ``--X-rtd`` handling: its ``-v`` stdout lines, and stderr notes for the switches
    that have no effect here."""
    out, notes = [], []
    for item in getattr(opts, "x_rtd", ()) or ():
        name, eq, value = item.partition("=")
        if opts.verbose > 0:
            out.append(f"Setting runtime-define {name} to {_atoi(value)}" if eq else f"Turning on runtime-define {name}")
        if name not in RUNTIME_DEFINES_USED:
            notes.append(f"Note: --X-rtd {item} has no effect in pycombine (it tunes RooFit/Minuit internals)")
    return out, notes
