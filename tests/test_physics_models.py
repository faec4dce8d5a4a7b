"""Physics models (-P/--PO): Combine's yield-scaling models and users' own modules.

Every expectation here is derived by hand from Combine's documented semantics (docs/part2/
physicsmodels.md, the model-building tutorials, PhysicsModel.py's behaviour): the POIs a model
creates with their ranges and initial values, which (bin, process) gets which scale, what is
printed, and the expected yields that follow from the rates written in the tiny counting cards
below. Models are resolved with :func:`pycombine.physics.resolve_physics`, built with
:func:`pycombine.model.build.build_model` and evaluated with :meth:`pycombine.api.Model.expected`.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest

from pycombine.api import Model
from pycombine.datacard import parse_datacard_text
from pycombine.errors import OptionError
from pycombine.model.build import BuildOptions, build_model
from pycombine.physics import DEFAULT_MODEL, PhysicsSetup, resolve_physics

PM = "HiggsAnalysis.CombinedLimit.PhysicsModel:"

# the documentation's toy: two bins, ggH and qqH signals and a background
TOY = """\
imax 2 jmax 2 kmax 1
bin         incl dijet
observation 100  20
bin      incl incl incl dijet dijet dijet
process  ggH  qqH  bkg  ggH   qqH   bkg
process  -1   0    1    -1    0     1
rate     10   2    80   1     4     15
lumi lnN 1.1  1.1  -    1.1   1.1   -
"""

# Higgs-named processes (production_decay); the file name carries the energy
HGG = """\
imax 1 jmax 3 kmax 0
bin         cat0
observation 50
bin      cat0     cat0     cat0     cat0
process  ggH_hgg  qqH_hgg  ttH_hgg  bkg
process  -2       -1       0        1
rate     10       4        2        30
"""


def build(text: str, model: str = DEFAULT_MODEL, options=(), mass: float = 125.0, path: str = "toy.txt"):
    card = parse_datacard_text(text, path)
    setup = resolve_physics(card, model, list(options), mass)
    spec = build_model(card, BuildOptions(mass=mass, physics=setup))
    return card, setup, spec


def factors(spec) -> dict:
    return {(c.name, p.name): list(p.factors) for c in spec.channels for p in c.processes}


def yields(card, spec, values=None) -> dict:
    return {k: float(v.sum()) for k, v in Model(card, spec).expected(values or {}).items()}


def param(spec, name):
    p = spec.parameters[name]
    return (p.init, p.lo, p.hi, p.kind)


def assert_yields(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k


def refused(text: str, model: str, options=(), mass: float = 125.0, path: str = "toy.txt") -> str:
    card = parse_datacard_text(text, path)
    with pytest.raises(OptionError) as info:
        resolve_physics(card, model, list(options), mass)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def write_module(tmp_path, name: str, body: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


# ============================================================================ Combine's default model


def test_default_model_scales_every_signal_by_r():
    card, setup, spec = build(TOY)
    assert spec.pois == ["r"]
    assert param(spec, "r") == (1.0, 0.0, 20.0, "poi")
    assert "MH" not in spec.parameters  # the constant MH[125] scales nothing in a template model
    assert setup.variable("MH").value == 125.0 and setup.variable("MH").constant
    assert factors(spec) == {("incl", "ggH"): ["r"], ("incl", "qqH"): ["r"], ("incl", "bkg"): [],
                             ("dijet", "ggH"): ["r"], ("dijet", "qqH"): ["r"], ("dijet", "bkg"): []}
    assert_yields(yields(card, spec, {"r": 2.0}), {("incl", "ggH"): 20, ("incl", "qqH"): 4, ("incl", "bkg"): 80,
                                                   ("dijet", "ggH"): 2, ("dijet", "qqH"): 8, ("dijet", "bkg"): 15})
    assert setup.log == []


def test_default_model_ignores_physics_options_and_has_no_mass_without_m():
    card = parse_datacard_text(TOY, "toy.txt")
    setup = resolve_physics(card, DEFAULT_MODEL, ["anything"])
    assert setup.pois == ["r"] and setup.variable("MH") is None  # -m not given: no MH
    assert resolve_physics(card).scales == setup.scales


# ============================================================================ multiSignalModel


def test_multi_signal_two_pois_prints_as_documented():
    card, setup, spec = build(TOY, PM + "multiSignalModel",
                              ["verbose", "map=.*/ggH:r_ggH[1,0,10]", "map=.*/qqH:r_qqH[1,0,20]"])
    assert setup.log == [
        "Will create a POI  r_ggH  with factory  r_ggH[1,0,10]",
        "Mapping  r_ggH  to  ['.*/ggH']  patterns",
        "Will create a POI  r_qqH  with factory  r_qqH[1,0,20]",
        "Mapping  r_qqH  to  ['.*/qqH']  patterns",
        "MH (not there before) will be assumed to be 125.0",
        "Will scale  incl/ggH  by  r_ggH",
        "Will scale  incl/qqH  by  r_qqH",
        "Will scale  incl/bkg  by  1",
        "Will scale  dijet/ggH  by  r_ggH",
        "Will scale  dijet/qqH  by  r_qqH",
        "Will scale  dijet/bkg  by  1",
    ]
    assert spec.pois == ["r_ggH", "r_qqH"]
    assert param(spec, "r_ggH") == (1.0, 0.0, 10.0, "poi")
    assert param(spec, "r_qqH") == (1.0, 0.0, 20.0, "poi")
    assert_yields(yields(card, spec, {"r_ggH": 2.0, "r_qqH": 3.0}),
                  {("incl", "ggH"): 20, ("incl", "qqH"): 6, ("incl", "bkg"): 80,
                   ("dijet", "ggH"): 2, ("dijet", "qqH"): 12, ("dijet", "bkg"): 15})


def test_multi_signal_shared_poi_takes_the_first_declaration():
    card, setup, spec = build(TOY, PM + "multiSignalModel", ["map=.*/ggH:r[1,0,10]", "map=.*/qqH:r"])
    assert spec.pois == ["r"]
    assert param(spec, "r") == (1.0, 0.0, 10.0, "poi")
    assert factors(spec)[("incl", "qqH")] == ["r"] and factors(spec)[("dijet", "ggH")] == ["r"]
    assert not any(line.startswith("Will create") for line in setup.log)  # only with --PO verbose
    assert_yields(yields(card, spec, {"r": 0.5}), {("incl", "ggH"): 5, ("incl", "qqH"): 1, ("incl", "bkg"): 80,
                                                   ("dijet", "ggH"): 0.5, ("dijet", "qqH"): 2, ("dijet", "bkg"): 15})


def test_multi_signal_last_match_wins_and_1_keeps_the_yield():
    # re.match on "bin/process": '.*/.*H' matches ggH and qqH everywhere, not bkg
    card, setup, spec = build(TOY, PM + "multiSignalModel", ["map=.*/.*H:r[1,0,5]", "map=dijet/ggH:1"])
    assert factors(spec) == {("incl", "ggH"): ["r"], ("incl", "qqH"): ["r"], ("incl", "bkg"): [],
                             ("dijet", "ggH"): [], ("dijet", "qqH"): ["r"], ("dijet", "bkg"): []}
    assert "Will scale  dijet/ggH  by  1" in setup.log
    assert_yields(yields(card, spec, {"r": 3.0}), {("incl", "ggH"): 30, ("incl", "qqH"): 6, ("incl", "bkg"): 80,
                                                   ("dijet", "ggH"): 1, ("dijet", "qqH"): 12, ("dijet", "bkg"): 15})
    # the same maps in the other order: the generic one, given last, wins everywhere
    _, _, spec = build(TOY, PM + "multiSignalModel", ["map=dijet/ggH:1", "map=.*/.*H:r[1,0,5]"])
    assert factors(spec)[("dijet", "ggH")] == ["r"]


def test_multi_signal_0_drops_the_process():
    card, setup, spec = build(TOY, PM + "multiSignalModel", ["map=.*/ggH:0", "map=.*/qqH:r_qqH[1,0,20]"])
    assert spec.pois == ["r_qqH"]
    assert setup.scales["incl/ggH"] == 0 and "Will scale  incl/ggH  by  0" in setup.log
    assert spec.channel("incl").process_names == ["qqH", "bkg"]
    assert_yields(yields(card, spec, {"r_qqH": 2.0}), {("incl", "qqH"): 4, ("incl", "bkg"): 80,
                                                       ("dijet", "qqH"): 8, ("dijet", "bkg"): 15})


def test_multi_signal_expression_map_and_turnoff():
    # turnoff= becomes a map to 0 placed after all the others, so it wins over '.*/.*'
    card, setup, spec = build(TOY, PM + "multiSignalModel", [
        "turnoff=bkg", "map=.*/.*:r[1,0,10]", "map=.*/qqH:rq=expr::rq('@0*@1', r, k[2])"])
    assert spec.pois == ["r"]
    assert [(e.name, e.formula, e.args) for e in setup.expressions] == [("rq", "@0*@1", ("r", "k"))]
    assert setup.variable("k").constant and setup.variable("k").value == 2
    assert factors(spec) == {("incl", "ggH"): ["r"], ("incl", "qqH"): ["rq"],
                             ("dijet", "ggH"): ["r"], ("dijet", "qqH"): ["rq"]}
    assert_yields(yields(card, spec, {"r": 1.5}), {("incl", "ggH"): 15, ("incl", "qqH"): 6,
                                                   ("dijet", "ggH"): 1.5, ("dijet", "qqH"): 12})
    # ';' stands for ':' in the expression (Combine's escape), double quotes work too
    card, setup, spec = build(TOY, PM + "multiSignalModel",
                              ["map=.*/ggH:r[1,0,10]", 'map=.*/qqH:q=expr;;q("3*@0",r)'])
    assert_yields(yields(card, spec, {"r": 2.0}), {("incl", "ggH"): 20, ("incl", "qqH"): 12, ("incl", "bkg"): 80,
                                                   ("dijet", "ggH"): 2, ("dijet", "qqH"): 24, ("dijet", "bkg"): 15})


def test_multi_signal_runs_afresh_every_time():
    card = parse_datacard_text(TOY, "toy.txt")
    first = resolve_physics(card, PM + "multiSignalModel", ["map=.*/ggH:a[1,0,2]"], 125.0)
    second = resolve_physics(card, PM + "multiSignalModel", ["map=.*/qqH:b[1,0,3]"], 125.0)
    assert first.pois == ["a"] and second.pois == ["b"]
    assert second.scales["incl/ggH"] == 1 and second.scales["incl/qqH"] == "b"


# ============================================================================ SM-like Higgs models


def test_floating_xs_higgs_one_poi_per_production_mode():
    card, setup, spec = build(HGG, PM + "floatingXSHiggs", ["modes=ggH,qqH,ttH"], path="toy-hgg-8TeV.txt")
    assert spec.pois == ["r_ggH", "r_qqH", "r_ttH"]
    assert param(spec, "r_ggH") == (1.0, 0.0, 4.0, "poi")
    assert param(spec, "r_qqH") == (1.0, 0.0, 10.0, "poi")
    assert param(spec, "r_ttH") == (1.0, 0.0, 20.0, "poi")
    assert factors(spec) == {("cat0", "ggH_hgg"): ["r_ggH"], ("cat0", "qqH_hgg"): ["r_qqH"],
                             ("cat0", "ttH_hgg"): ["r_ttH"], ("cat0", "bkg"): []}
    assert setup.log == ["MH (not there before) will be assumed to be 125.0"]
    assert_yields(yields(card, spec, {"r_ggH": 2.0, "r_qqH": 0.5, "r_ttH": 3.0}),
                  {("cat0", "ggH_hgg"): 20, ("cat0", "qqH_hgg"): 2, ("cat0", "ttH_hgg"): 6, ("cat0", "bkg"): 30})


def test_floating_xs_higgs_options():
    # ttH=ggH: ttH follows r_ggH; ggHRange changes the range; poi= picks the POIs
    card, setup, spec = build(HGG, PM + "floatingXSHiggs",
                              ["modes=ggH,qqH,ttH", "ttH=ggH", "ggHRange=-1:3", "poi=ggH"], path="hgg_13TeV.txt")
    assert spec.pois == ["r_ggH"]
    assert param(spec, "r_ggH") == (1.0, -1.0, 3.0, "poi")
    assert param(spec, "r_qqH") == (1.0, 0.0, 10.0, "physics")
    assert "r_ttH" not in spec.parameters
    assert factors(spec)[("cat0", "ttH_hgg")] == ["r_ggH"]
    assert_yields(yields(card, spec, {"r_ggH": 2.0, "r_qqH": 0.5}),
                  {("cat0", "ggH_hgg"): 20, ("cat0", "qqH_hgg"): 2, ("cat0", "ttH_hgg"): 4, ("cat0", "bkg"): 30})
    # a mode left out is not scaled
    _, _, spec = build(HGG, PM + "floatingXSHiggs", ["modes=qqH"], path="hgg_13TeV.txt")
    assert factors(spec)[("cat0", "ggH_hgg")] == [] and factors(spec)[("cat0", "ttH_hgg")] == []


def test_floating_xs_higgs_energy_warning_when_no_energy_is_named():
    _, setup, _ = build(HGG, PM + "floatingXSHiggs", ["modes=ggH,qqH"], path="card.txt")
    assert sum("13TeV" in line for line in setup.log) == 3  # one per signal process


def test_rv_rf_xs_higgs():
    card, setup, spec = build(HGG, PM + "rVrFXSHiggs", path="hgg_8TeV.txt")
    assert spec.pois == ["RV", "RF"]
    assert param(spec, "RV") == (1.0, -5.0, 15.0, "poi")
    assert param(spec, "RF") == (1.0, -4.0, 8.0, "poi")
    assert factors(spec) == {("cat0", "ggH_hgg"): ["RF"], ("cat0", "qqH_hgg"): ["RV"],
                             ("cat0", "ttH_hgg"): ["RF"], ("cat0", "bkg"): []}
    assert_yields(yields(card, spec, {"RV": 2.0, "RF": 0.5}),
                  {("cat0", "ggH_hgg"): 5, ("cat0", "qqH_hgg"): 8, ("cat0", "ttH_hgg"): 1, ("cat0", "bkg"): 30})


def test_branching_ratio_models():
    # floatingBRHiggs: one r_<decay> in [0,10]
    _, _, spec = build(HGG, PM + "floatingBRHiggs", ["modes=hgg,hzz"], path="hgg_8TeV.txt")
    assert spec.pois == ["r_hgg", "r_hzz"] and param(spec, "r_hgg") == (1.0, 0.0, 10.0, "poi")
    assert set(map(tuple, factors(spec).values())) == {("r_hgg",), ()}
    # rVFBRHiggs: F-like by r_hgg, V-like by rv_hgg = Rvf * r_hgg
    card, _, spec = build(HGG, PM + "rVFBRHiggs", ["modes=hgg"], path="hgg_8TeV.txt")
    assert spec.pois == ["Rvf", "r_hgg"]
    assert param(spec, "Rvf") == (1.0, -5.0, 20.0, "poi") and param(spec, "r_hgg") == (1.0, 0.0, 5.0, "poi")
    assert factors(spec)[("cat0", "qqH_hgg")] == ["rv_hgg"] and factors(spec)[("cat0", "ttH_hgg")] == ["r_hgg"]
    y = yields(card, spec, {"Rvf": 3.0, "r_hgg": 0.5})
    assert y[("cat0", "qqH_hgg")] == pytest.approx(4 * 1.5) and y[("cat0", "ggH_hgg")] == pytest.approx(5)
    # thetaVFBRHiggs: V-like sin(theta)*r, F-like cos(theta)*r, theta starts at pi/4
    card, _, spec = build(HGG, PM + "thetaVFBRHiggs", ["modes=hgg"], path="hgg_8TeV.txt")
    assert spec.pois == ["thetaVF", "r_hgg"]
    assert param(spec, "thetaVF")[:3] == pytest.approx((math.pi / 4, -math.pi / 2, math.pi), rel=1e-15)
    y = yields(card, spec, {"thetaVF": 0.3, "r_hgg": 2.0})
    assert y[("cat0", "qqH_hgg")] == pytest.approx(4 * math.sin(0.3) * 2, rel=1e-12)
    assert y[("cat0", "ggH_hgg")] == pytest.approx(10 * math.cos(0.3) * 2, rel=1e-12)
    # floatingXSBRHiggs: one r_<prod>_<decay> per signal found in the card, POIs defined in done()
    _, _, spec = build(HGG, PM + "floatingXSBRHiggs", path="hgg_8TeV.txt")
    assert spec.pois == ["r_ggH_hgg", "r_qqH_hgg", "r_ttH_hgg"]
    assert param(spec, "r_ttH_hgg") == (1.0, 0.0, 10.0, "poi")
    # doubleRatioHiggs: rf_hzz = rho*rf_hgg; hgg V-like by rv_hgg = Rvf*rf_hgg
    card, setup, spec = build(HGG, PM + "doubleRatioHiggs", ["modes=hgg,hzz"], path="hgg_8TeV.txt")
    assert spec.pois == ["rho", "Rvf", "rf_hgg"]
    y = yields(card, spec, {"Rvf": 2.0, "rf_hgg": 1.5})
    assert y[("cat0", "qqH_hgg")] == pytest.approx(4 * 3.0) and y[("cat0", "ggH_hgg")] == pytest.approx(15)
    # ratioBRSMHiggs: POIs r_<num>_hww; hgg F-like by r_F_hgg = r_F_hww * r_hgg_hww
    card, setup, spec = build(HGG, PM + "ratioBRSMHiggs", path="hgg_8TeV.txt")
    assert "r_hgg_hww" in spec.pois and "r_VF" not in spec.pois
    assert factors(spec)[("cat0", "ggH_hgg")] == ["r_F_hgg"] and factors(spec)[("cat0", "qqH_hgg")] == ["r_V_hgg"]
    assert "ggH/hgg scaled by r_F_hgg" in setup.log
    y = yields(card, spec, {"r_F_hww": 2.0, "r_hgg_hww": 0.5, "r_VF": 3.0})
    assert y[("cat0", "ggH_hgg")] == pytest.approx(10 * 1.0) and y[("cat0", "qqH_hgg")] == pytest.approx(4 * 3.0)


def test_strict_sm_like_higgs_validates_process_names():
    _, setup, spec = build(HGG, PM + "strictSMLikeHiggs", path="hgg_8TeV.txt")
    assert spec.pois == ["r"] and factors(spec)[("cat0", "ttH_hgg")] == ["r"]
    message = refused(HGG.replace("ttH_hgg", "xyz_hgg"), PM + "strictSMLikeHiggs", path="hgg_8TeV.txt")
    assert "getYieldScale('cat0', 'xyz_hgg')" in message and "'xyz'" in message


# ============================================================================ users' modules


def test_user_module_with_dovar_doset_and_expr(tmp_path, monkeypatch):
    write_module(tmp_path, "pcmodel_user", '''
        from HiggsAnalysis.CombinedLimit.PhysicsModel import PhysicsModel

        class TwoScales(PhysicsModel):
            def setPhysicsOptions(self, physOptions):
                self.kmax = 5.0
                for po in physOptions:
                    if po.startswith("kmax="):
                        self.kmax = float(po.split("=")[1])

            def doParametersOfInterest(self):
                self.modelBuilder.doVar("mu[1,0,10]")
                self.modelBuilder.doVar("k[2,5]")           # value: the middle of the range
                self.modelBuilder.out.var("k").setMax(self.kmax)
                self.modelBuilder.doVar("c[3]")             # a constant
                self.modelBuilder.factory_('expr::mu_k("@0*@1*@2", mu, k, c)')
                self.modelBuilder.doSet("POI", "mu,k")
                print("created", self.modelBuilder.out.set("POI").contentsString())

            def getYieldScale(self, bin, process):
                if process == "ggH":
                    return "mu"
                if process == "qqH":
                    return "mu_k"
                return 1

        twoScales = TwoScales()
    ''')
    monkeypatch.syspath_prepend(str(tmp_path))
    card, setup, spec = build(TOY, "pcmodel_user:twoScales", ["kmax=8"])
    assert spec.pois == ["mu", "k"]
    assert param(spec, "mu") == (1.0, 0.0, 10.0, "poi")
    assert param(spec, "k") == (3.5, 2.0, 8.0, "poi")
    assert param(spec, "c")[0] == 3.0 and spec.parameters["c"].frozen
    assert setup.log == ["created mu,k"]
    assert factors(spec)[("incl", "qqH")] == ["mu_k"]
    assert_yields(yields(card, spec, {"mu": 2.0, "k": 4.0}),
                  {("incl", "ggH"): 20, ("incl", "qqH"): 2 * 2 * 4 * 3, ("incl", "bkg"): 80,
                   ("dijet", "ggH"): 2, ("dijet", "qqH"): 4 * 2 * 4 * 3, ("dijet", "bkg"): 15})


def test_documentation_custom_fraction_model(tmp_path, monkeypatch):
    """The "Custom models" example of Combine's model-building tutorial: r and a fraction f, with
    scale_qqH = (1-f)*r and scale_ggH = f*r; the second doSet("POI") replaces the first."""
    write_module(tmp_path, "pcmodel_fraction", '''
        from HiggsAnalysis.CombinedLimit.PhysicsModel import PhysicsModel

        class FractionOfTwoSignals(PhysicsModel):
            def doParametersOfInterest(self):
                self.modelBuilder.doVar("f[0,0,4]")
                self.modelBuilder.doVar("r[1,0,10]")
                self.modelBuilder.factory_("expr::scale_qqH(\\"(1-@0)*@1\\", f,r)")
                self.modelBuilder.factory_("expr::scale_ggH(\\"@0*@1\\", f,r)")
                self.modelBuilder.doSet("POI", ",".join(["f"]))
                self.modelBuilder.doSet("POI", ",".join(["r"]))

            def getYieldScale(self, bin, process):
                return {"qqH": "scale_qqH", "ggH": "scale_ggH"}.get(process, 1)

        Fraction_2signals = FractionOfTwoSignals()
    ''')
    monkeypatch.chdir(tmp_path)  # found in the current directory
    card, setup, spec = build(TOY, "pcmodel_fraction:Fraction_2signals")
    assert spec.pois == ["r"]
    assert param(spec, "f") == (0.0, 0.0, 4.0, "physics")
    assert factors(spec)[("incl", "ggH")] == ["scale_ggH"] and factors(spec)[("dijet", "qqH")] == ["scale_qqH"]
    assert_yields(yields(card, spec), {("incl", "ggH"): 0, ("incl", "qqH"): 2, ("incl", "bkg"): 80,
                                       ("dijet", "ggH"): 0, ("dijet", "qqH"): 4, ("dijet", "bkg"): 15})
    assert_yields(yields(card, spec, {"f": 0.25, "r": 2.0}),
                  {("incl", "ggH"): 10 * 0.25 * 2, ("incl", "qqH"): 2 * 0.75 * 2, ("incl", "bkg"): 80,
                   ("dijet", "ggH"): 1 * 0.25 * 2, ("dijet", "qqH"): 4 * 0.75 * 2, ("dijet", "bkg"): 15})


def test_documentation_eft_model_with_constants(tmp_path, monkeypatch):
    """The tutorial's SMEFT example: ggH scaled by 1 + A*chg + B*chg^2 with constants A and B."""
    write_module(tmp_path, "pcmodel_eft", '''
        from HiggsAnalysis.CombinedLimit.PhysicsModel import PhysicsModel

        class QuadraticInChg(PhysicsModel):
            def doParametersOfInterest(self):
                self.modelBuilder.doVar("A[39.54]")
                self.modelBuilder.doVar("B[245.32]")
                self.modelBuilder.out.var("A").setConstant(True)
                self.modelBuilder.out.var("B").setConstant(True)
                self.modelBuilder.doVar("chg[0,-1,1]")
                self.modelBuilder.factory_("expr::ggH_scaling_chg(\\"1+@1*@0+@2*@0*@0\\", chg, A, B)")
                self.modelBuilder.doSet("POI", "chg")

            def getYieldScale(self, bin, process):
                return "ggH_scaling_chg" if process == "ggH" else 1

        smeft_chg_tutorial = QuadraticInChg()
    ''')
    monkeypatch.syspath_prepend(str(tmp_path))
    card, _, spec = build(TOY, "pcmodel_eft:smeft_chg_tutorial")
    assert spec.pois == ["chg"] and param(spec, "chg") == (0.0, -1.0, 1.0, "poi")
    y = yields(card, spec, {"chg": 0.1})
    assert y[("incl", "ggH")] == pytest.approx(10 * (1 + 3.954 + 2.4532), rel=1e-12)
    assert y[("incl", "qqH")] == pytest.approx(2)


def test_module_copied_into_combines_package_is_found_on_the_path(tmp_path, monkeypatch):
    """The long exercise copies DASModel.py into Combine's python/ and uses
    -P HiggsAnalysis.CombinedLimit.DASModel:dasModel; here the file is on the path."""
    write_module(tmp_path, "DASModelPC", '''
        from HiggsAnalysis.CombinedLimit.PhysicsModel import PhysicsModel

        class DASModel(PhysicsModel):
            def doParametersOfInterest(self):
                self.modelBuilder.doVar("r[0,0,10]")
                self.modelBuilder.doSet("POI", ",".join(["r"]))

            def getYieldScale(self, bin, process):
                if self.DC.isSignal[process]:
                    print("Scaling %s/%s by r" % (bin, process))
                    return "r"
                return 1

        dasModel = DASModel()
    ''')
    monkeypatch.syspath_prepend(str(tmp_path))
    card, setup, spec = build(TOY, "HiggsAnalysis.CombinedLimit.DASModelPC:dasModel")
    assert param(spec, "r") == (0.0, 0.0, 10.0, "poi")
    assert setup.log == ["Scaling incl/ggH by r", "Scaling incl/qqH by r", "Scaling dijet/ggH by r",
                         "Scaling dijet/qqH by r"]


def test_user_subclass_of_multi_signal_model(tmp_path, monkeypatch):
    write_module(tmp_path, "pcmodel_multi", '''
        from HiggsAnalysis.CombinedLimit.PhysicsModel import *

        class WithBackgroundSwitch(CanTurnOffBkgModel, MultiSignalModel):
            pass

        model = WithBackgroundSwitch()
    ''')
    monkeypatch.syspath_prepend(str(tmp_path))
    card, setup, spec = build(TOY, "pcmodel_multi:model", ["map=.*/ggH:r[1,0,3]", "nobkg"])
    assert spec.pois == ["r"]
    assert spec.channel("incl").process_names == ["ggH", "qqH"]
    assert factors(spec)[("incl", "qqH")] == []


def test_model_that_reads_the_datacard_and_options(tmp_path, monkeypatch):
    write_module(tmp_path, "pcmodel_dc", '''
        from HiggsAnalysis.CombinedLimit.PhysicsModel import PhysicsModel

        class PerBin(PhysicsModel):
            def doParametersOfInterest(self):
                names = []
                for b in self.DC.bins:
                    self.modelBuilder.doVar("r_%s[1,0,%g]" % (b, self.options.mass / 25))
                    names.append("r_" + b)
                self.modelBuilder.doSet("POI", ",".join(names))
                print(self.DC.list_of_signals(), self.DC.exp["incl"]["bkg"], self.DC.systs[0][0],
                      self.options.fileName)

            def getYieldScale(self, bin, process):
                return "r_" + bin if self.DC.isSignal[process] else 1

        perBin = PerBin()
    ''')
    monkeypatch.syspath_prepend(str(tmp_path))
    card, setup, spec = build(TOY, "pcmodel_dc:perBin", mass=100.0, path="cards/toy.txt")
    assert spec.pois == ["r_incl", "r_dijet"] and param(spec, "r_dijet") == (1.0, 0.0, 4.0, "poi")
    assert setup.log == ["['ggH', 'qqH'] 80.0 lumi cards/toy.txt"]
    assert factors(spec)[("dijet", "qqH")] == ["r_dijet"]


# ============================================================================ refusals


def test_unknown_model_module_or_object(tmp_path, monkeypatch):
    assert "no module named 'pc_no_such_module'" in refused(TOY, "pc_no_such_module:model")
    message = refused(TOY, PM + "noSuchModel")
    assert "has no object 'noSuchModel'" in message and "multiSignalModel" in message
    assert "expected -P <module>:<object>" in refused(TOY, "just_a_name")
    write_module(tmp_path, "pcmodel_wrong", '''
        from HiggsAnalysis.CombinedLimit.PhysicsModel import PhysicsModel

        class M(PhysicsModel):
            pass

        notAModel = 42
    ''')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "is a class" in refused(TOY, "pcmodel_wrong:M")
    assert "PhysicsModelBase" in refused(TOY, "pcmodel_wrong:notAModel")


def test_bad_physics_options():
    assert "unknown --PO option(s): bogus" in refused(TOY, PM + "multiSignalModel", ["bogus"])
    assert "not a valid regular expression" in refused(TOY, PM + "multiSignalModel", ["map=(ggH:r[1,0,2]"])
    assert "ggHRange=min:max" in refused(HGG, PM + "floatingXSHiggs", ["ggHRange=4"], path="hgg_8TeV.txt")
    assert "min must be below max" in refused(HGG, PM + "floatingXSHiggs", ["ggHRange=4:1"], path="hgg_8TeV.txt")
    assert "modes=<decay1>,<decay2>" in refused(HGG, PM + "doubleRatioHiggs", [], path="hgg_8TeV.txt")
    # without modes=, the POI list names production modes that were never created
    message = refused(HGG, PM + "floatingXSHiggs", [], path="hgg_8TeV.txt")
    assert "'r_tHq'" in message and "never created" in message


@pytest.mark.parametrize("model, options", [
    ("multiSignalModel", ["higgsMassRange=120,130"]),
    ("floatingXSHiggs", ["modes=ggH", "higgsMassRange=120,130"]),
    ("rVrFXSHiggs", ["higgsMassRange=120,130"]),
    ("floatingHiggsMass", []),
])
def test_floating_higgs_mass_is_refused(model, options):
    message = refused(HGG, PM + model, options, path="hgg_8TeV.txt")
    assert "MH float" in message and "do not depend on MH" in message


def test_combines_other_modules_are_refused(tmp_path, monkeypatch):
    message = refused(TOY, "HiggsAnalysis.CombinedLimit.HiggsCouplings:c7")
    assert "HiggsAnalysis.CombinedLimit.HiggsCouplings is not available" in message
    assert "PhysicsModel" in message and "own modules" in message
    write_module(tmp_path, "pcmodel_builder", '''
        from HiggsAnalysis.CombinedLimit.PhysicsModel import SMLikeHiggsModel
        from HiggsAnalysis.CombinedLimit.SMHiggsBuilder import SMHiggsBuilder
    ''')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "SMHiggsBuilder is not available" in refused(TOY, "pcmodel_builder:model")


class _NoRoot:
    """An import finder that makes ``import ROOT`` fail as where ROOT is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "ROOT" or name.startswith("ROOT."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def test_unsupported_roofit_constructs(tmp_path, monkeypatch):
    write_module(tmp_path, "pcmodel_roofit", '''
        from HiggsAnalysis.CombinedLimit.PhysicsModel import PhysicsModel

        class WithPdf(PhysicsModel):
            def doParametersOfInterest(self):
                self.modelBuilder.doVar("x[0,-5,5]")
                self.modelBuilder.factory_("Gaussian::g(x, 0, 1)")

        class WithSpline(PhysicsModel):
            def doParametersOfInterest(self):
                self.modelBuilder.out.safe_import(object())

        class WithRoot(PhysicsModel):
            def doParametersOfInterest(self):
                import ROOT  # noqa: F401

        gauss, spline, root = WithPdf(), WithSpline(), WithRoot()
    ''')
    monkeypatch.syspath_prepend(str(tmp_path))
    message = refused(TOY, "pcmodel_roofit:gauss")
    assert "Gaussian::" in message and "expr::" in message and "pcmodel_roofit.py:7" in message
    assert "safe_import" in refused(TOY, "pcmodel_roofit:spline")
    # as on a machine without ROOT (the test environment may have the PyPI ROOT, for tests of the files)
    monkeypatch.delitem(sys.modules, "ROOT", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoRoot(), *sys.meta_path])
    assert "'ROOT'" in refused(TOY, "pcmodel_roofit:root")


def test_errors_inside_a_users_model(tmp_path, monkeypatch):
    write_module(tmp_path, "pcmodel_broken", '''
        from HiggsAnalysis.CombinedLimit.PhysicsModel import PhysicsModel

        class Broken(PhysicsModel):
            def getYieldScale(self, bin, process):
                return 1 / 0

        class Unknown(PhysicsModel):
            def getYieldScale(self, bin, process):
                return "r_missing" if process == "qqH" else super().getYieldScale(bin, process)

        class Two(PhysicsModel):
            def getYieldScale(self, bin, process):
                return 2

        class BadExpr(PhysicsModel):
            def doParametersOfInterest(self):
                super().doParametersOfInterest()
                self.modelBuilder.factory_('expr::e("@0*@1", r, nope)')

        class Redefined(PhysicsModel):
            def doParametersOfInterest(self):
                super().doParametersOfInterest()
                self.modelBuilder.doVar("r[1,0,5]")

        class EditsNuisances(PhysicsModel):
            def preProcessNuisances(self, nuisances):
                nuisances.pop()

        class LooksOnly(PhysicsModel):
            def preProcessNuisances(self, nuisances):
                print(len(nuisances))

        class FloatsMass(PhysicsModel):
            def doParametersOfInterest(self):
                super().doParametersOfInterest()
                self.modelBuilder.out.var("MH").setRange(120, 130)
                self.modelBuilder.out.var("MH").setConstant(False)

        class NoPoi(PhysicsModel):
            def doParametersOfInterest(self):
                self.modelBuilder.doVar("r[1,0,20]")

        broken, unknown, two, badExpr, redefined = Broken(), Unknown(), Two(), BadExpr(), Redefined()
        edits, looks, floats, nopoi = EditsNuisances(), LooksOnly(), FloatsMass(), NoPoi()
    ''')
    monkeypatch.syspath_prepend(str(tmp_path))
    message = refused(TOY, "pcmodel_broken:broken")
    assert message.startswith("physics model pcmodel_broken:broken: getYieldScale('incl', 'ggH'): ")
    assert "ZeroDivisionError" in message and "pcmodel_broken.py:6" in message
    assert "'r_missing'" in refused(TOY, "pcmodel_broken:unknown")
    assert "returned 2" in refused(TOY, "pcmodel_broken:two")
    assert "'nope' does not exist" in refused(TOY, "pcmodel_broken:badExpr")
    assert "already exists" in refused(TOY, "pcmodel_broken:redefined")
    assert "nuisance" in refused(TOY, "pcmodel_broken:edits")
    card = parse_datacard_text(TOY, "toy.txt")
    assert resolve_physics(card, "pcmodel_broken:looks").log == ["1"]
    assert "MH floats" in refused(TOY, "pcmodel_broken:floats")
    assert "POI" in refused(TOY, "pcmodel_broken:nopoi")


# ============================================================================ the emulated builder


def test_factory_variable_semantics():
    from pycombine.physics.workspace import FactoryError, Workspace

    ws = Workspace()
    assert ws.factory("a[2,5]").getVal() == 3.5  # RooRealVar(min, max) starts in the middle
    c = ws.factory("c[3]")
    assert c.isConstant() and c.getMin() == -1e30 and c.getMax() == 1e30
    assert ws.factory("v[50, 0, 10]").getVal() == 10  # clipped into the range
    assert ws.factory(" v[50,0,10] ") is ws.var("v")  # an identical declaration is recycled
    with pytest.raises(FactoryError):
        ws.factory("v[1,0,10]")
    v = ws.var("v")
    v.setVal(-3)
    assert v.getVal() == 0
    v.removeMin()
    v.setVal(-3)
    assert v.getVal() == -3 and not v.hasMin()
    assert ws.factory("sum::s(a, c)").formula == "@0+@1"
    assert ws.factory("prod::p(a, c, v)").formula == "@0*@1*@2"
    assert ws.var("s") is None and ws.function("s") is ws.arg("s")


def test_json_round_trip():
    card = parse_datacard_text(TOY, "toy.txt")
    setup = resolve_physics(card, PM + "multiSignalModel",
                            ["map=.*/ggH:r[1,0,10]", "map=.*/qqH:q=expr::q('@0*@1', r, k[2])", "map=dijet/bkg:0"],
                            125.0)
    data = json.loads(json.dumps(setup.to_json()))
    again = PhysicsSetup.from_json(data)
    assert again == setup
    assert again.scales["dijet/bkg"] == 0 and again.scales["incl/qqH"] == "q"
    assert again.expressions[0].args == ("r", "k")


def test_import_pycombine_loads_no_physics_machinery():
    code = ("import sys, pycombine, pycombine.physics; "
            "print(sorted(m for m in sys.modules if m.startswith('pycombine.physics')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['pycombine.physics', 'pycombine.physics.setup']"
