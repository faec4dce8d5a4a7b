"""combineCards.py: the merged card must equal CMS Combine v10.6.0's, token for token.

(a) every reference case recorded from the real Combine whose setup runs combineCards.py;
(b) hand-derived formatting rules (number spelling, column widths, labels, channel selection,
    shapes lines, edits, merging of types) and the one-line error reporting of the command.
"""

from __future__ import annotations

import gzip
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from refsuite import AVAILABLE, REF, compare_card, needs_reference, params, ref_path

from pycombine.cli.combine_cards import main as cli_main
from pycombine.datacard.combine_cards import (
    CombineCardsOptions,
    combine_cards,
    float_to_string,
    float_to_string_scientific,
    format_effect,
    format_rate,
)
from pycombine.errors import PyCombineError

SEP = "-" * 130


# ------------------------------------------------------------------------------ reference suite
def _reference_cases() -> list:
    cases = []
    for path in sorted(ref_path("expected").glob("*.json")):
        exp = json.loads(path.read_text())
        if "combined_card" in exp and exp.get("rc", 0) == 0:
            cases.append(pytest.param(exp, id=exp["id"]))
    return cases if AVAILABLE else params([])


def _run_cli(argv, capsys) -> tuple[int, str, str]:
    try:
        cli_main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("exp", _reference_cases())
def test_reference_combined_card(exp, tmp_path, monkeypatch, capsys):
    """Run the case's setup like check.py: in a copy of its folder, combineCards.py through our CLI."""
    work = tmp_path / "work"
    shutil.copytree(ref_path("cards", exp["folder"]), work)
    monkeypatch.chdir(work)
    target = None
    for step in exp["setup"]:
        if "combineCards" in step:
            command, target = step.split(">")
            argv = shlex.split(command)
            assert argv[0] == "combineCards.py"
            code, out, err = _run_cli(argv[1:], capsys)
            assert code == 0, err
            target = target.strip()
            (work / target).write_text(out)
        elif "text2workspace" in step:  # what follows combineCards.py is not its business
            break
        else:  # e.g. printf '...' >> combined.txt
            subprocess.run(step, shell=True, cwd=work, check=True)
    got = (work / target).read_text()
    assert compare_card(exp["combined_card"], got)
    # Combine's spacing is reproduced too: the text is identical
    assert got == exp["combined_card"]


@needs_reference
def test_reference_suite_found():
    assert _reference_cases(), "the reference suite has no combineCards.py case"


@needs_reference
def test_console_script_runs_a_reference_case(tmp_path):
    ref = REF
    cases = [p.values[0] for p in _reference_cases()]
    exp = next(e for e in cases if e["folder"] == "rate_params")
    exe = Path(sys.executable).parent / "combineCards.py"
    if not exe.exists():
        pytest.skip("console script not installed next to the interpreter")
    setup = [s for s in exp["setup"] if "combineCards" in s][0]
    args = shlex.split(setup.split(">")[0])[1:]
    p = subprocess.run([str(exe), *args], cwd=ref / "cards" / exp["folder"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout == exp["combined_card"]


# ------------------------------------------------------------------------------ number spelling
@pytest.mark.parametrize(
    "value, text",
    [(0.000123, "0.000123"), (1e-6, "1e-06"), (0.0005, "0.0005"), (1.23456e-5, "1.2346e-05"), (-1.0, "-1"),
     (0.0, "0"), (2.5, "2.5"), (3.0, "3"), (3.14159265358979, "3.1415926536"), (0.0012345678, "0.0012345678"),
     (1e-3, "0.001")],
)
def test_rate_spelling(value, text):
    # FloatToString if 0 or > 1e-3, else FloatToStringScientific (%.<max(4, digits-1)>g)
    assert format_rate(value) == text


def test_float_to_string_helpers():
    assert float_to_string(832.0) == "832"
    assert float_to_string(20.5) == "20.5"
    assert float_to_string(1e-12) == "0"
    assert float_to_string_scientific(0.000123456789) == "0.000123457"  # 7 digits -> %.6g
    assert float_to_string_scientific(2e-5) == "2e-05"


@pytest.mark.parametrize(
    "value, text",
    [(1.0, "1.0"), (1.025, "1.025"), (0.3, "0.3"), (2.0, "2.0"), (0.0, "-"), ((0.9, 1.1), "0.9/1.1"),
     ((1.0, 1.05), "1/1.05"), (1e-5, "1e-05")],
)
def test_effect_spelling(value, text):
    # symmetric values are str(float), asymmetric ones FloatToString(lo)/FloatToString(hi), 0 is '-'
    assert format_effect(value) == text


# ------------------------------------------------------------------------------ small cards
CARD_A = """imax 1
jmax 1
kmax 2
bin A
observation 5
bin A A
process sig bkg
process 0 1
rate 0.000123 2.5
lumi lnN 1.025 1.025
eff lnN 0.9/1.1 -
"""

CARD_B = """imax 1
jmax 1
kmax *
bin B
observation 7
bin B B
process bkg sig
process 1 0
rate 3 0
lumi lnN 1.03 -
"""

# two channels, shapes, rateParams, params, groups, edits, autoMCStats, a regularization term
CARD_MULTI = """imax 2
jmax 3
kmax *
shapes * * sub/shapes_$CHANNEL.root $PROCESS_$MASS $PROCESS_$SYSTEMATIC
shapes data_obs chA sub/data.root obs_$CHANNEL
shapes bkg2 * FAKE
bin chA chB
observation 10 20.5
bin      chA   chA   chA   chA    chB  chB   chB   chB
process  bkg1  sig   bkg2  sig2   sig  bkg1  bkg2  sig2
process  1     0     2     -1     0    1     2     -1
rate     3.5   0.000123  1e-6  2  0.2  0  4.12345678901  -1
lumi     lnN   1.025 1.025 - 1.025 1.025 1.025 - 1.025
lumi2[nofloat] lnN   0.9/1.1 - - - 1.05/0.95 - - -
jes      shape  1 - 1 - 0.5 - - -
bgN      gmN 12  - - 0.25 - - - 0.3 -
alpha    param 0 1
flt      flatParam
disc     discrete
ea       extArg 1.0 [0,2]
r_bkg    rateParam chB bkg1 1 [0,10]
r_bkg    rateParam chA bkg1 1 [0,10]
f_sig    rateParam chA sig (@0*@1) r_bkg,alpha
w_all    rateParam * bkg2 1
chA autoMCStats 10 1 2
chB autoMCStats 5
mygrp group = lumi jes alpha
mygrp group += bgN lumi
nuisance edit add sig chA newsys lnN 1.1
nuisance edit rename * * lumi lumi_new
nuisance edit drop bkg1 * jes
nuisance edit freeze alpha
nuisance edit rename alpha alpha2
constr0 constr @0-1 r_bkg delta[10.]
"""

CARD_SINGLE = """imax 1
jmax 2
kmax *
bin ch1
observation 7
bin ch1 ch1 ch1
process sig bkg1 bkgX
process 0 1 2
rate 1.1 2.2 3e-4
lumi lnN 1.025 1.03 -
jes lnN 1.1 - -
alpha param 0 1
r_bkg rateParam ch1 bkg1 1
nuisance edit drop * ch1 jes
nuisance edit add * * foo lnN 1.2
ch1 autoMCStats 0
"""

CARD_SHAPE = """imax 1
jmax 1
kmax *
shapes * * f.root $PROCESS $PROCESS_$SYSTEMATIC
bin sr
observation -1
bin sr sr
process sig bkg1
process 0 1
rate -1 -1
jes shape 1 1
"""

CARD_NO_OBS = """imax 1
jmax 1
kmax *
bin cc
bin cc cc
process sig bkg
process 0 1
rate 1 2
"""


@pytest.fixture
def cards(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, text in {"a.txt": CARD_A, "b.txt": CARD_B, "multi.txt": CARD_MULTI, "single.txt": CARD_SINGLE,
                       "shape.txt": CARD_SHAPE, "noobs.txt": CARD_NO_OBS}.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def _combine(args, **opts) -> str:
    return combine_cards(args, CombineCardsOptions(warn=False, **opts))


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_full_layout_by_hand(cards):
    # cmax: 5 -> 7 ('0.9/1.1') -> 8 ('0.000123'); hmax = len('lumi        [nofloat]  lnN []') = 29
    expected = [
        "Combination of x=a.txt  y=b.txt",
        "imax 2 number of bins",
        "jmax 1 number of processes minus 1",
        "kmax 2 number of nuisance parameters",
        SEP,
        "bin          x        y      ",
        "observation  5        7      ",
        SEP,
        "bin                             x         x         y         y       ",
        "process                         sig       bkg       sig       bkg     ",
        "process                         0         1         0         1       ",
        "rate                            0.000123  2.5       0         3       ",
        SEP,
        "eff                     lnN     0.9/1.1   -         -         -       ",
        "lumi                    lnN     1.025     1.025     -         1.03    ",
    ]
    assert _lines(_combine(["x=a.txt", "y=b.txt"])) == expected


def test_pairs_api(cards):
    # (label, path) pairs; label None gives the default ch<k>
    assert _combine([("x", "a.txt"), ("y", "b.txt")]) == _combine(["x=a.txt", "y=b.txt"])
    assert _combine([(None, "a.txt"), (None, "b.txt")]) == _combine(["a.txt", "b.txt"])


def test_default_labels_and_process_ids(cards):
    out = _combine(["single.txt", "shape.txt", "a.txt"])
    tokens = [l.split() for l in _lines(out)]
    bins = next(t for t in tokens if t[0] == "bin" and "sig" not in t and len(t) > 4)
    assert bins[1:] == ["ch1", "ch1", "ch1", "ch2", "ch2", "ch3", "ch3"]
    procs = [t for t in tokens if t[0] == "process"]
    assert procs[0][1:] == ["sig", "bkg1", "bkgX", "sig", "bkg1", "sig", "bkg"]
    assert procs[1][1:] == ["0", "1", "2", "0", "1", "0", "3"]
    assert "jmax 3 number of processes minus 1" in out


def test_signals_first_and_multiple_signals(cards):
    out = _combine(["m=multi.txt"])
    tokens = {l.split()[0] + str(i): l.split() for i, l in enumerate(_lines(out)) if l.strip()}
    procs = [t for t in tokens.values() if t[0] == "process"]
    # per channel: signals first (card order), then backgrounds; ids ..., -1, 0 then 1, 2, ...
    assert procs[0][1:] == ["sig", "sig2", "bkg1", "bkg2", "sig", "sig2", "bkg1", "bkg2"]
    assert procs[1][1:] == ["-1", "0", "1", "2", "-1", "0", "1", "2"]
    rate = next(t for t in tokens.values() if t[0] == "rate")
    assert rate[1:] == ["0.000123", "2", "3.5", "1e-06", "0.2", "-1", "0", "4.123456789"]


def test_label_dot(cards):
    out = _combine([".=a.txt", ".=multi.txt"])
    assert "bin          A          chA        chB      " in _lines(out)
    assert [l.split() for l in _lines(out) if l.startswith("bin ")][1][1:3] == ["A", "A"]
    # '.' on a multi-channel card: no prefix; named edit channel becomes label+channel = 'chA'
    assert "nuisance edit  add sig chA newsys lnN 1.1" in _lines(out)


def test_multi_channel_label_and_shapes_lines(cards):
    out = _combine(["m=multi.txt", "s=shape.txt"], keyword_values=["MASS=125"])
    shapes = [l for l in _lines(out) if l.startswith("shapes")]
    # sorted by (channel, process), $CHANNEL -> original channel name, padded to the longest name + 1
    assert shapes == [
        "shapes *         m_chA     sub/shapes_chA.root $PROCESS_125 $PROCESS_$SYSTEMATIC",
        "shapes bkg2      m_chA     FAKE",
        "shapes data_obs  m_chA     sub/data.root obs_chA",
        "shapes *         m_chB     sub/shapes_chB.root $PROCESS_125 $PROCESS_$SYSTEMATIC",
        "shapes bkg2      m_chB     FAKE",
        "shapes *         s         f.root $PROCESS $PROCESS_$SYSTEMATIC",
    ]


def test_card_directory_is_prefixed_to_shape_files(cards):
    (cards / "d").mkdir()
    (cards / "d" / "shape.txt").write_text(CARD_SHAPE.replace("f.root", "/abs/f.root", 0))
    out = _combine(["d/shape.txt"])
    assert "shapes *    ch1  d/f.root $PROCESS $PROCESS_$SYSTEMATIC" in _lines(out)
    (cards / "d" / "abs.txt").write_text(CARD_SHAPE.replace("f.root", "/abs/f.root"))
    out = _combine(["d/abs.txt"])
    assert "/abs/f.root" in out and "d//abs" not in out
    # -P prefixes the paths (and so the shape files), the 'Combination of' line keeps the arguments
    out = _combine(["x=shape.txt"], prefix="d/")
    assert out.startswith("Combination of x=shape.txt\n")
    assert "shapes *  x  d/f.root $PROCESS $PROCESS_$SYSTEMATIC" in _lines(out)


def test_gzipped_card(cards):
    with gzip.open(cards / "a.txt.gz", "wt") as f:
        f.write(CARD_A)
    assert _combine(["x=a.txt.gz", "y=b.txt"]).split("\n", 1)[1] == _combine(["x=a.txt", "y=b.txt"]).split("\n", 1)[1]


def test_exclude_and_include_channels(cards):
    # re.match on the label for single-channel cards, on the original name for multi-channel ones
    out = _combine(["x=a.txt", "y=b.txt", "m=multi.txt"], exclude_channels=["y", "chB"])
    assert "bin          x        m_chA  " in _lines(out)
    assert "imax 2 number of bins" in out
    out = _combine(["x=a.txt", "y=b.txt", "m=multi.txt"], include_channels=["ch", "x"])
    assert "imax 3 number of bins" in out
    assert [l.split() for l in _lines(out) if l.startswith("bin ")][0][1:] == ["x", "m_chA", "m_chB"]
    # a systematic that affects no kept column is removed (and counted out of kmax)
    out = _combine(["x=a.txt", "y=b.txt"], exclude_channels=["x"])
    assert "kmax 1 number of nuisance parameters" in out
    assert not any(l.startswith("eff") for l in _lines(out))


def test_removed_systematics_leave_groups(cards):
    out = _combine(["m=multi.txt"], exclude_channels=["chA"])
    # lumi2 acts on chB too; jes acts on chB sig (0.5); bgN acts on chB bkg2
    assert "mygrp group = lumi jes alpha bgN" in _lines(out)
    out = _combine(["m=multi.txt"], exclude_channels=["chB"])
    assert "mygrp group = lumi jes alpha bgN" in _lines(out)
    text = CARD_B + "g group = lumi gone\ngone lnN - 1.5\n"
    (cards / "b2.txt").write_text(text.replace("bkg sig\nprocess 1 0\nrate 3 0", "bkg sig\nprocess 1 0\nrate 3 1"))
    out = _combine(["b2.txt"])
    assert "g group = lumi gone" in _lines(out)
    out = _combine(["a.txt", "b2.txt"], exclude_channels=["ch2"])
    assert "g group = lumi" in _lines(out)  # 'gone' only acted on ch2: removed from the group
    out = _combine(["b2.txt", "noobs.txt"], exclude_channels=["ch1"])
    assert not any(" group " in l for l in _lines(out))  # an emptied group disappears


def test_force_shape_adds_fake_lines(cards):
    out = _combine(["x=a.txt", "s=shape.txt"], force_shape=True)
    shapes = [l for l in _lines(out) if l.startswith("shapes")]
    assert shapes == ["shapes *  s  f.root $PROCESS $PROCESS_$SYSTEMATIC", "shapes *  x  FAKE"]
    # without -S the counting card gets no shapes line
    assert [l for l in _lines(_combine(["x=a.txt", "s=shape.txt"])) if l.startswith("shapes")] == shapes[:1]


def test_observation_dropped_if_any_card_has_none(cards):
    out = _combine(["a.txt", "noobs.txt"])
    assert not any(l.startswith("observation") for l in _lines(out))
    assert not any(l.startswith("observation") for l in _lines(_combine(["noobs.txt", "a.txt"])))
    assert _lines(out)[5] == SEP and _lines(out)[6].startswith("bin ")


def test_shape_plus_lnN_becomes_shape_question(cards):
    (cards / "l.txt").write_text(CARD_SHAPE.replace("jes shape 1 1", "jes lnN 1.1 -"))
    out = _combine(["l.txt", "shape.txt"])
    jes = next(l.split() for l in _lines(out) if l.startswith("jes"))
    assert jes == ["jes", "shape?", "1.1", "-", "1.0", "1.0"]
    out = _combine(["shape.txt", "l.txt"])
    assert next(l.split() for l in _lines(out) if l.startswith("jes"))[1] == "shape?"


def test_param_flatparam_rateparam_discrete_extarg_order(cards):
    out = _lines(_combine(["m=multi.txt", "single.txt"], drop_regularization_terms=True))
    start = next(i for i, l in enumerate(out) if l.startswith("alpha"))
    assert out[start:start + 14] == [
        "alpha         param  0 1",
        "flt           flatParam",
        # per card sorted by "<channel>AND<process>", value rateParams first (trailing space: empty range)
        "r_bkg         rateParam m_chA bkg1 1 [0,10]",
        "w_all         rateParam m_chA bkg2 1 ",
        "r_bkg         rateParam m_chB bkg1 1 [0,10]",
        "w_all         rateParam m_chB bkg2 1 ",
        "r_bkg         rateParam ch2 bkg1 1 ",
        "disc          discrete",
        "ea extArg 1.0 [0,2]",
        "f_sig         rateParam m_chA sig (@0*@1) r_bkg,alpha ",
        "mygrp group = lumi jes alpha bgN",
        "m_chA autoMCStats 10 1 2",
        "m_chB autoMCStats 5 0 1",
        "ch2 autoMCStats 0 0 1",
    ]
    # kmax = systematic lines + param lines
    assert "kmax 5 number of nuisance parameters" in out  # bgN jes lumi lumi2 + alpha
    assert "lumi2[nofloat]          lnN" in "\n".join(out)
    assert not any("constr" in l for l in out)


def test_regularization_terms_appended(cards):
    out = _lines(_combine(["m=multi.txt"]))
    assert out[-1] == "constr0 constr @0-1 r_bkg delta[10.]"
    assert not any(l.startswith("constr0 ") and "constr  " in l for l in out[:-1])


def test_nuisance_edits_reemitted(cards):
    out = [l for l in _lines(_combine(["m=multi.txt", "single.txt"])) if l.startswith("nuisance edit")]
    # de-duplicated, sorted by (number of tokens, text) descending; '*' expanded with 'ifexists'
    assert out == [
        "nuisance edit  add (sig|bkg1|bkgX) ch2 foo lnN 1.2 ifexists",
        "nuisance edit  rename (bkg1|sig|bkg2|sig2) m_(chA|chB) lumi lumi_new ifexists",
        "nuisance edit  add sig m_chA newsys lnN 1.1",
        "nuisance edit  drop bkg1 m_(chA|chB) jes ifexists",
        "nuisance edit  drop (sig|bkg1|bkgX) ch2ch1 jes ifexists",  # label+channel, no '_'
        "nuisance edit  rename alpha alpha2",
        "nuisance edit  freeze alpha",
    ]


def test_stat_only_and_exclusion_file(cards):
    out = _combine(["m=multi.txt"], stat=True)
    assert "kmax 0 number of nuisance parameters" in out
    assert "alpha" not in out.split(SEP)[-1].split("rateParam")[0]
    (cards / "xn.txt").write_text("lumi\n^jes$\n")
    out = _combine(["m=multi.txt"], exclude_nuisances_file="xn.txt")
    names = [l.split()[0] for l in _lines(out.split(SEP)[-1]) if l.strip()]
    assert "lumi" not in names and "lumi2[nofloat]" not in names and "jes" not in names and "bgN" in names


def test_edit_nuisances_file_appended_verbatim(cards):
    (cards / "en.txt").write_text("nuisance edit freeze lumi\n")
    out = _combine(["x=a.txt"], edit_nuisances_file="en.txt")
    assert out.endswith("nuisance edit freeze lumi\n\n")  # print(file.read())


def test_gmN_sideband_mismatch_is_an_error(cards):
    (cards / "g1.txt").write_text(CARD_A.replace("kmax 2", "kmax *") + "bg gmN 10 - 0.2\n")
    (cards / "g2.txt").write_text(CARD_B + "bg gmN 11 0.3 -\n")
    with pytest.raises(PyCombineError, match="gmN with 11 events"):
        _combine(["g1.txt", "g2.txt"])
    with pytest.raises(PyCombineError, match="g2.txt:11"):
        _combine(["g1.txt", "g2.txt"])


def test_incompatible_types_and_signal_mismatch_are_errors(cards):
    (cards / "u.txt").write_text(CARD_B.replace("lumi lnN", "lumi lnU"))
    with pytest.raises(PyCombineError, match="lnU"):
        _combine(["a.txt", "u.txt"])
    (cards / "flip.txt").write_text(CARD_B.replace("process 1 0", "process 0 1").replace("rate 3 0", "rate 3 1"))
    with pytest.raises(PyCombineError, match="mismatch between process signal labels"):
        _combine(["a.txt", "flip.txt"])


# ------------------------------------------------------------------------------ the command
def test_cli_prints_the_card(cards, capsys):
    code, out, err = _run_cli(["x=a.txt", "y=b.txt"], capsys)
    assert code == 0
    assert out == _combine(["x=a.txt", "y=b.txt"])


def test_cli_options(cards, capsys):
    code, out, _ = _run_cli(["-S", "--xc", "y", "--exclude-channel", "z", "-a", "x=a.txt", "y=b.txt"], capsys)
    assert code == 0
    assert "shapes *  x  FAKE" in out and "shapes *  y  FAKE" in out  # -S ignores the channel vetoes
    assert "imax 1 number of bins" in out
    code, out, _ = _run_cli(["--ic", "chB", "--stat", "multi.txt"], capsys)
    assert code == 0 and "imax 1 number of bins" in out and "kmax 0" in out


def test_cli_missing_card(cards, capsys):
    code, out, err = _run_cli(["a.txt", "missing.txt"], capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("Error: ") and "missing.txt" in err


def test_cli_malformed_card(cards, capsys):
    (cards / "bad.txt").write_text(CARD_A.replace("eff lnN 0.9/1.1 -", "eff lnN 0.9/1.1"))
    code, out, err = _run_cli(["a.txt", "bad.txt"], capsys)
    assert code == 1
    lines = [l for l in err.splitlines() if not l.startswith("Warning")]
    assert lines == [lines[0]] and lines[0].startswith("Error: bad.txt:11: ")


def test_cli_bad_usage_is_one_line(cards, capsys):
    code, _, err = _run_cli(["--no-such-option", "a.txt"], capsys)
    assert code == 1 and err.count("\n") == 1 and err.startswith("Error: ")
    code, _, err = _run_cli([], capsys)
    assert code == 1 and err == "Error: no input datacards specified\n"
    code, _, err = _run_cli(["a=b=a.txt"], capsys)
    assert code == 1 and err.startswith("Error: ") and err.count("\n") == 1


def test_cli_debug_reraises(cards):
    with pytest.raises(PyCombineError):
        cli_main(["--debug", "missing.txt"])


def test_console_script_error_has_no_traceback(cards):
    exe = Path(sys.executable).parent / "combineCards.py"
    if not exe.exists():
        pytest.skip("console script not installed next to the interpreter")
    p = subprocess.run([str(exe), "nothere.txt"], capture_output=True, text=True, cwd=cards)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.startswith("Error: nothere.txt") and p.stderr.count("\n") == 1
