"""Start-up: shape templates are found without uproot (pycombine/shapes/rawroot.py), the common
path of a shape card imports neither uproot nor pandas nor scipy.optimize, and ``combine --help``
is click's page rendered without importing click (pycombine/cli/fast_help.py).

The raw reader must give exactly what the uproot-based path gives (same templates, same absent
names) for files written by ROOT 5.22 to 6.24 and by uproot, and hand anything it does not handle
(other compression algorithms, damaged files, cycles) back to uproot. Timing belongs to bench/.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pycombine.shapes import root as shapes_root
from pycombine.shapes.rawroot import RawReadError, RawRootFile

uproot = pytest.importorskip("uproot")

REPO = Path(__file__).resolve().parents[1]
REFERENCE_CARDS = REPO.parent / "shared" / "reference" / "cards"


def _root_files() -> list[Path]:
    files = sorted((REPO / "datacards").glob("*/*.root"))
    if REFERENCE_CARDS.is_dir():  # ROOT-written inputs of the regression suite, ROOT 5.22 to 6.24
        for folder in ("shapes", "longexercise", "CAT23001", "hww6bins", "rate_params", "summer11_htt", "ci"):
            files += sorted((REFERENCE_CARDS / folder).glob("*.root"))
    return files


def _th1_paths(path: Path) -> list[str]:
    f = uproot.open(path)
    return [k for k, c in f.classnames(cycle=False).items() if c in ("TH1F", "TH1D")]


def _uproot_only(path: Path) -> shapes_root.RootSource:
    """A RootSource that never uses the raw reader (the path every template took before)."""
    src = shapes_root.RootSource(str(path))
    src._raw = None
    return src


def _same(a, b) -> None:
    """Equal templates (values, errors, integral, source), or both absent."""
    assert (a is None) == (b is None)
    if a is not None:
        for field in ("values", "errors"):
            x, y = getattr(a, field), getattr(b, field)
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
        assert (a.integral == b.integral or (a.integral != a.integral and b.integral != b.integral)) and a.source == b.source


@pytest.mark.parametrize("path", _root_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_raw_reader_gives_uproots_templates(path):
    names = _th1_paths(path)
    raw, slow = shapes_root.RootSource(str(path)), _uproot_only(path)
    assert raw._raw is not None
    # records: byte for byte what uproot decompresses
    f = uproot.open(path)
    for name in names[:50]:
        key = raw._raw.key(name)
        assert key is not None and key.classname == f.key(name).fClassName
        chunk, cursor = f.key(name).get_uncompressed_chunk_cursor()
        assert raw._raw.record(key) == chunk.get(chunk.start, chunk.stop, cursor, {}).tobytes()
    for name in names[:200] + ["no_such_histogram", "no_such_dir/h"]:
        _same(raw.get(name), slow.get(name))
    assert raw._uproot_file is None  # uproot was never needed


def test_uproot_files_and_fallbacks(tmp_path):
    """uproot-written files in every compression; what the raw reader refuses goes to uproot."""
    rng = np.random.default_rng(3)
    values = rng.random(12) * 100
    hist = (values, np.linspace(0, 12, 13))
    for comp in (uproot.ZLIB(1), uproot.LZMA(2), uproot.LZ4(1), uproot.ZSTD(1), None):
        path = tmp_path / f"in_{type(comp).__name__}.root"
        with uproot.recreate(path, compression=comp) as f:
            f["sig"] = hist
            f["dir/sub/bkg"] = (values.astype(np.float32), np.linspace(0, 12, 13))
        raw, slow = shapes_root.RootSource(str(path)), _uproot_only(path)
        for name in ("sig", "dir/sub/bkg", "dir/nothing", "nothing"):
            _same(raw.get(name), slow.get(name))
        assert raw.get("sig") is not None
    # LZ4/ZSTD records are not decompressed here: RawReadError, then uproot's reader
    lz4 = RawRootFile(str(tmp_path / "in_LZ4.root"))
    with pytest.raises(RawReadError):
        lz4.record(lz4.key("sig"))


def test_not_root_files(tmp_path):
    empty, text = tmp_path / "empty.root", tmp_path / "text.root"
    empty.write_bytes(b"")
    text.write_text("not a ROOT file at all, but long enough to hold a header " * 3)
    for path in (empty, text):
        with pytest.raises(RawReadError):
            RawRootFile(str(path))
        with pytest.raises(Exception, match="cannot open ROOT file"):  # uproot's path and message
            shapes_root.RootSource(str(path))
    with pytest.raises(Exception, match="no such file"):
        shapes_root.RootSource(str(tmp_path / "missing.root"))


_STARTUP = r"""
import sys
from pycombine.cli.combine import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    if e.code:
        raise
heavy = sorted(m for m in ("uproot", "awkward", "pandas", "scipy.optimize") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


def test_shape_card_imports_no_heavy_library(tmp_path):
    """A shape card with TH1 templates: AsymptoticLimits reads them and writes its limit file without uproot."""
    for f in (REPO / "datacards" / "shapes").iterdir():
        if f.suffix in (".txt", ".root"):
            (tmp_path / f.name).write_bytes(f.read_bytes())
    p = subprocess.run([sys.executable, "-c", _STARTUP, "-M", "AsymptoticLimits", "dijet_resonance.txt"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "HEAVY=\n" in p.stdout, p.stdout[-2000:]


@pytest.mark.parametrize("options", [[], ["--saveShapes", "--saveWithUncertainties", "--saveOverallShapes",
                                          "--saveNormalizations", "--plots"]])
def test_fit_diagnostics_imports_no_heavy_library(tmp_path, options):
    """FitDiagnostics writes its histograms, graphs, RooFit objects and trees without uproot."""
    for f in (REPO / "datacards" / "shapes").iterdir():
        if f.suffix in (".txt", ".root"):
            (tmp_path / f.name).write_bytes(f.read_bytes())
    p = subprocess.run([sys.executable, "-c", _STARTUP, "-M", "FitDiagnostics", "dijet_resonance.txt", *options],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "HEAVY=\n" in p.stdout, p.stdout[-2000:]
    with uproot.open(tmp_path / "fitDiagnosticsTest.root") as f:
        assert f.classname_of("fit_s") == "RooFitResult" and f.classname_of("tree_fit_sb") == "TTree"
        if options:
            assert f.classname_of("shapes_fit_s/total_data") == "TGraphAsymmErrors"
            assert f.classname_of("shapes_prefit/overall_total_covar") == "TH2D"


# ------------------------------------------------------------------------------ combine --help
def _click_help() -> str:
    import contextlib
    import io

    from pycombine.cli.combine import build_command

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        build_command().main(["--help"], prog_name="combine")  # click reads $COLUMNS
    return buf.getvalue()


@pytest.mark.parametrize("width", [200, 110, 100, 80, 60, 40])
def test_fast_help_is_clicks_page(width, monkeypatch):
    """Character for character, also where lines wrap at hyphens, double spaces and long words."""
    from pycombine.cli.combine import help_text

    monkeypatch.setenv("COLUMNS", str(width))
    assert help_text() == _click_help()


def test_fast_wrap_matches_clicks():
    from click._textwrap import TextWrapper

    from pycombine.cli.fast_help import wrap

    texts = ["Use the pre-fit (a-priori) Asimov data set  [default: x]", "Report the p-value instead of it",
             "a-b-c well-known long-established x-ray re-fit 2-sided", "averyveryverylongwordthatdoesnotfit here", "x (--generateNuisances 0 --generateExternalMeasurements)"]
    for text in texts:
        for width in (6, 10, 17, 25, 40):
            assert wrap(text, width) == TextWrapper(width, replace_whitespace=False).wrap(text), (text, width)


def test_help_imports_no_click():
    code = ("import sys, io, contextlib\nfrom pycombine.cli.combine import main\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf): main(['--help'])\n"
            "assert 'Usage: combine' in buf.getvalue()\nassert 'click' not in sys.modules, 'click imported'\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
