"""Combine's SM-like Higgs models (signal processes named ``<production>_<decay>``), in pycombine's implementation.

``getHiggsProdDecMode`` splits a process name into production mode, decay and energy;
``SMLikeHiggsModel`` scales backgrounds by 1 and asks ``getHiggsSignalYieldScale`` for signals;
the concrete models (``StrictSMLikeHiggsModel``, ``FloatingXSHiggs``, ``RvRfXSHiggs``,
``FloatingBRHiggs``, ``RvfBRHiggs``, ``ThetaVFBRHiggs``, ``FloatingXSBRHiggs``,
``DoubleRatioHiggs``, ``RatioBRSMHiggs``) float cross sections, branching ratios or their ratios.
MH stays fixed at the ``-m`` value: ``--PO higgsMassRange=`` and ``FloatingHiggsMass`` are refused.
"""

from __future__ import annotations

from abc import abstractmethod

from .model_classes import PhysicsModel, _fix_mass_announced, _fix_mass_quietly, _range_option, _refuse_floating_mass

SM_HIGG_DECAYS = ["hww", "hzz", "hgg", "htt", "hbb", "hzg", "hmm", "hcc", "hgluglu"]
SM_HIGG_PROD = ["ggH", "qqH", "VH", "WH", "ZH", "ttH", "tHq", "tHW", "ggZH", "bbH", "WPlusH", "WMinusH"]
BSM_HIGGS_DECAYS = ["hinv"]
ALL_HIGGS_DECAYS = SM_HIGG_DECAYS + BSM_HIGGS_DECAYS
ALL_HIGGS_PROD = SM_HIGG_PROD
_ENERGIES = ["7TeV", "8TeV", "13TeV", "14TeV"]
_GLUON_LIKE = ("ggH", "ttH", "bbH", "tHq", "tHW")  # produced through fermion couplings
_VECTOR_LIKE = ("qqH", "WH", "ZH", "VH", "ggZH", "WPlusH", "WMinusH")  # through vector-boson couplings


def _found_in(text: str, names: list[str], what: str, bin, process) -> str | None:
    hits = [n for n in names if n in text]
    if len(hits) > 1:
        raise RuntimeError(f"bin {bin!r}, process {process!r}: '{text}' names more than one {what} ({', '.join(hits)})")
    return hits[0] if hits else None


def getHiggsProdDecMode(bin, process, options):
    """(production, decay, energy) of a Higgs signal process named ``<prod>[_..._]<decay>``, else
    ``<prod>`` with the decay and energy read from "<datacard file>:<bin>"."""
    production = process
    decay_text = f"{options.fileName}:{bin}"
    if "_" in process:
        parts = process.split("_")
        production, decay_text = parts[0], parts[-1]
        if decay_text not in ALL_HIGGS_DECAYS:
            print(f"ERROR: bin {bin!r}, signal process {process}: the suffix {decay_text} is not a known Higgs "
                  f"decay ({', '.join(ALL_HIGGS_DECAYS)})")
    if production not in ALL_HIGGS_PROD:
        raise RuntimeError(f"bin {bin!r}, signal process {process!r}: the production mode {production!r} is not one "
                           f"of {', '.join(ALL_HIGGS_PROD)}")
    decay = _found_in(decay_text, ALL_HIGGS_DECAYS, "Higgs decay", bin, process)
    if decay is None:
        raise RuntimeError(f"bin {bin!r}, process {process!r}: no known Higgs decay in '{decay_text}'")
    energy = _found_in(decay_text, _ENERGIES, "energy", bin, process)
    if energy is None:
        energy = _found_in(f"{options.fileName}:{bin}", _ENERGIES, "energy", bin, process)
    if energy is None:
        energy = "13TeV"
        print(f"Warning: no energy (7TeV, 8TeV, 13TeV, 14TeV) in '{decay_text}', taking {energy}")
    if production in ("WPlusH", "WMinusH"):
        production = "WH"
    return (production, decay, energy)


class SMLikeHiggsModel(PhysicsModel):
    """Signal processes named after Higgs production and decay modes; backgrounds are not scaled."""

    @abstractmethod
    def getHiggsSignalYieldScale(self, production, decay, energy):
        pass

    def getYieldScale(self, bin, process):
        if not self.DC.isSignal[process]:
            return 1
        production, decay, energy = getHiggsProdDecMode(bin, process, self.options)
        return self.getHiggsSignalYieldScale(production, decay, energy)


class StrictSMLikeHiggsModel(SMLikeHiggsModel):
    """The default model (``r``), after checking that signal processes are named as Higgs modes."""

    def getHiggsSignalYieldScale(self, production, decay, energy):
        if production == "VH":
            print("WARNING: the VH production mode is deprecated (coupling fits do not support it)")
        return "r"


class FloatingHiggsMass(SMLikeHiggsModel):
    """SM couplings with a floating MH: refused (yields do not depend on MH in pycombine)."""

    def __init__(self):
        SMLikeHiggsModel.__init__(self)
        self.mHRange = ["115", "135"]
        self.rMode = "poi"

    def setPhysicsOptions(self, physOptions):
        _refuse_floating_mass("the floatingHiggsMass model")

    def doParametersOfInterest(self):
        _refuse_floating_mass("the floatingHiggsMass model")

    def getHiggsSignalYieldScale(self, production, decay, energy):
        return "r"


def _refuse_mass_range(physOptions) -> None:
    for po in physOptions:
        if po.startswith("higgsMassRange="):
            _refuse_floating_mass(f"--PO {po}")


class FloatingXSHiggs(SMLikeHiggsModel):
    """One signal strength per production mode (``modes=``); ``ttH=ggH`` ties ttH to ggH;
    ``<mode>Range=min:max`` changes a range; ``poi=`` chooses the POIs."""

    _RANGES = {"ggH": ["0", "4"], "qqH": ["0", "10"], "VH": ["0", "20"], "WH": ["0", "20"], "ZH": ["0", "20"],
               "ttH": ["0", "20"]}

    def __init__(self):
        SMLikeHiggsModel.__init__(self)
        self.modes = list(SM_HIGG_PROD)
        self.mHRange = []
        self.ggHRange = list(self._RANGES["ggH"])
        self.qqHRange = list(self._RANGES["qqH"])
        self.VHRange = list(self._RANGES["VH"])
        self.WHRange = list(self._RANGES["WH"])
        self.ZHRange = list(self._RANGES["ZH"])
        self.ttHRange = list(self._RANGES["ttH"])
        self.ttHasggH = False
        self.pois = None

    def setPhysicsOptions(self, physOptions):
        _refuse_mass_range(physOptions)
        for po in physOptions:
            if po.startswith("modes="):
                self.modes = po[len("modes="):].split(",")
            if po.startswith("ttH=ggH"):
                self.ttHasggH = True
            if po.startswith("poi="):
                self.pois = ",".join(f"r_{m}" for m in po[len("poi="):].split(","))
            for mode in self._RANGES:
                key = f"{mode}Range"
                if po.startswith(key + "="):
                    setattr(self, key, _range_option(po, key))
        if self.ttHasggH:
            if "ggH" not in self.modes:
                raise RuntimeError("--PO ttH=ggH needs ggH among the modes")
            if "ttH" in self.modes:
                self.modes = [m for m in self.modes if m != "ttH"]

    def doParametersOfInterest(self):
        for mode in self._RANGES:
            if mode in self.modes:
                lo, hi = getattr(self, f"{mode}Range")
                self.modelBuilder.doVar(f"r_{mode}[1,{lo},{hi}]")
        poi = self.pois or ",".join(f"r_{m}" for m in self.modes)
        if self.mHRange:
            _refuse_floating_mass("higgsMassRange")
        _fix_mass_announced(self)
        self.modelBuilder.doSet("POI", poi)

    def getHiggsSignalYieldScale(self, production, decay, energy):
        if production in ("ggH", "bbH"):
            return "r_ggH" if "ggH" in self.modes else 1
        if production == "qqH":
            return "r_qqH" if "qqH" in self.modes else 1
        if production in ("ttH", "tHq", "tHW"):
            if "ttH" in self.modes:
                return "r_ttH"
            return "r_ggH" if self.ttHasggH else 1
        if production in ("WPlusH", "WMinusH", "WH", "ZH", "VH", "ggZH"):
            return "r_VH" if "VH" in self.modes else 1
        raise RuntimeError(f"production mode '{production}' is not handled by this model")


class RvRfXSHiggs(SMLikeHiggsModel):
    """Two signal strengths: RF (gluon fusion, ttH, bbH, tH) and RV (VBF and VH)."""

    def __init__(self):
        SMLikeHiggsModel.__init__(self)
        self.floatMass = False

    def setPhysicsOptions(self, physOptions):
        _refuse_mass_range(physOptions)

    def doParametersOfInterest(self):
        self.modelBuilder.doVar("RV[1,-5,15]")
        self.modelBuilder.doVar("RF[1,-4,8]")
        _fix_mass_quietly(self)
        self.modelBuilder.doSet("POI", "RV,RF")

    def getHiggsSignalYieldScale(self, production, decay, energy):
        if production in _GLUON_LIKE:
            return "RF"
        if production in _VECTOR_LIKE:
            return "RV"
        raise RuntimeError(f"production mode '{production}' is not handled by this model")


class FloatingBRHiggs(SMLikeHiggsModel):
    """One signal strength per decay mode (``modes=``); ``map=<decay>:<decay2|1|0>`` for the others."""

    def __init__(self):
        SMLikeHiggsModel.__init__(self)
        self.modes = list(SM_HIGG_DECAYS)
        self.modemap = {}
        self.mHRange = []

    def setPhysicsOptions(self, physOptions):
        _refuse_mass_range(physOptions)
        for po in physOptions:
            if po.startswith("modes="):
                self.modes = po[len("modes="):].split(",")
            if po.startswith("map="):
                pair = po[len("map="):].split(":")
                if len(pair) != 2:
                    raise ValueError(f"--PO {po}: expected map=<decay>:<decay, 1 or 0>")
                self.modemap[pair[0]] = pair[1]

    def doParametersOfInterest(self):
        for mode in self.modes:
            self.modelBuilder.doVar(f"r_{mode}[1,0,10]")
        poi = ",".join(f"r_{m}" for m in self.modes)
        _fix_mass_announced(self)
        self.modelBuilder.doSet("POI", poi)

    def getHiggsSignalYieldScale(self, production, decay, energy):
        if decay in self.modes:
            return f"r_{decay}"
        if decay in self.modemap:
            target = self.modemap[decay]
            return int(target) if target in ("1", "0") else f"r_{target}"
        raise RuntimeError(f"decay mode '{decay}' is neither in modes= nor mapped (map={decay}:...)")


class _RatioModel(SMLikeHiggsModel):
    """Shared option handling of the models with an MH kept fixed and a ``modes=`` list."""

    def __init__(self):
        SMLikeHiggsModel.__init__(self)
        self.floatMass = False
        self.modes = list(SM_HIGG_DECAYS)

    def setPhysicsOptions(self, physOptions):
        _refuse_mass_range(physOptions)
        for po in physOptions:
            if po.startswith("modes="):
                self.modes = po[len("modes="):].split(",")


class RvfBRHiggs(_RatioModel):
    """Rvf = (VBF+VH)/(ggH+ttH) and one signal strength per decay: F-like r_<decay>, V-like Rvf*r_<decay>."""

    def doParametersOfInterest(self):
        self.modelBuilder.doVar("Rvf[1,-5,20]")
        pois = ["Rvf"]
        for mode in self.modes:
            pois.append(f"r_{mode}")
            self.modelBuilder.doVar(f"r_{mode}[1,0,5]")
            self.modelBuilder.factory_(f'expr::rv_{mode}("@0*@1",Rvf,r_{mode})')
        _fix_mass_quietly(self)
        self.modelBuilder.doSet("POI", ",".join(pois))

    def getHiggsSignalYieldScale(self, production, decay, energy):
        if production in _GLUON_LIKE:
            return f"r_{decay}"
        if production in _VECTOR_LIKE:
            return f"rv_{decay}"
        raise RuntimeError(f"production mode '{production}' is not handled by this model")


class ThetaVFBRHiggs(_RatioModel):
    """An angle thetaVF and one strength per decay: V-like sin(thetaVF)*r_<decay>, F-like cos(thetaVF)*r_<decay>."""

    def doParametersOfInterest(self):
        self.modelBuilder.doVar("thetaVF[0.78539816339744828,-1.5707963267948966,3.1415926535897931]")
        pois = ["thetaVF"]
        for mode in self.modes:
            pois.append(f"r_{mode}")
            self.modelBuilder.doVar(f"r_{mode}[1,0,5]")
            self.modelBuilder.factory_(f'expr::rv_{mode}("sin(@0)*@1",thetaVF,r_{mode})')
            self.modelBuilder.factory_(f'expr::rf_{mode}("cos(@0)*@1",thetaVF,r_{mode})')
        _fix_mass_quietly(self)
        self.modelBuilder.doSet("POI", ",".join(pois))

    def getHiggsSignalYieldScale(self, production, decay, energy):
        if production in _GLUON_LIKE:
            return f"rf_{decay}"
        if production in _VECTOR_LIKE:
            return f"rv_{decay}"
        raise RuntimeError(f"production mode '{production}' is not handled by this model")


class FloatingXSBRHiggs(SMLikeHiggsModel):
    """One signal strength r_<production>_<decay> per combination found in the card (WH, ZH, ggZH -> VH)."""

    def __init__(self):
        SMLikeHiggsModel.__init__(self)
        self.mHRange = []
        self.poiNames = []

    def setPhysicsOptions(self, physOptions):
        _refuse_mass_range(physOptions)

    def doParametersOfInterest(self):
        _fix_mass_announced(self)

    def getHiggsSignalYieldScale(self, production, decay, energy):
        grouped = "VH" if production in ("VH", "WH", "WPlusH", "WMinusH", "ZH", "ggZH") else production
        name = f"r_{grouped}_{decay}"
        if name not in self.poiNames:
            self.poiNames.append(name)
            self.modelBuilder.doVar(f"{name}[1,0,10]")
        return name

    def done(self):
        self.modelBuilder.doSet("POI", ",".join(self.poiNames))


class DoubleRatioHiggs(_RatioModel):
    """``modes=d1,d2``: rho = BR(d2)/BR(d1), Rvf = V/F ratio and rf_<d1> as POIs."""

    def __init__(self):
        _RatioModel.__init__(self)
        self.modes = []

    def doParametersOfInterest(self):
        if len(self.modes) != 2:
            raise RuntimeError("this model needs --PO modes=<decay1>,<decay2>")
        first, second = self.modes
        self.modelBuilder.doVar("rho[1,0,4]")
        self.modelBuilder.doVar("Rvf[1,0,4]")
        self.modelBuilder.doVar(f"rf_{first}[1,0,4]")
        self.modelBuilder.factory_(f"prod::rf_{second}(rho, rf_{first})")
        self.modelBuilder.factory_(f"prod::rv_{second}(Rvf, rho, rf_{first})")
        self.modelBuilder.factory_(f"prod::rv_{first}(Rvf, rf_{first})")
        _fix_mass_quietly(self)
        self.modelBuilder.doSet("POI", f"rho,Rvf,rf_{first}")

    def getHiggsSignalYieldScale(self, production, decay, energy):
        if decay not in self.modes:
            print(f"Warning: decay {decay} is not among modes=; its branching ratio stays at the SM value")
            return 1 if production in _GLUON_LIKE else "Rvf"
        if production in _GLUON_LIKE:
            return f"rf_{decay}"
        if production in ("qqH", "WH", "ZH", "VH", "ggZH"):
            return f"rv_{decay}"
        raise RuntimeError(f"production mode '{production}' is not handled by this model")


class RatioBRSMHiggs(_RatioModel):
    """Ratios of branching ratios to that of ``denominator=`` (hww), with r_VF = V/F as a parameter."""

    def __init__(self):
        _RatioModel.__init__(self)
        self.denominator = "hww"

    def setPhysicsOptions(self, physOptions):
        _refuse_mass_range(physOptions)
        for po in physOptions:
            if po.startswith("denominator="):
                self.denominator = po[len("denominator="):]
        self.numerators = tuple(m for m in self.modes if m != self.denominator)
        print("denominator: ", self.denominator)
        print("numerators: ", self.numerators)

    def doParametersOfInterest(self):
        den = self.denominator
        self.modelBuilder.doVar("r_VF[1,-5,5]")
        self.modelBuilder.doVar(f"r_F_{den}[1,0,5]")
        self.modelBuilder.factory_(f"prod::r_V_{den}(r_VF, r_F_{den})")
        pois = []
        for num in self.numerators:
            ratio = f"r_{num}_{den}"
            pois.append(ratio)
            self.modelBuilder.doVar(f"{ratio}[1,-5,5]")
            self.modelBuilder.factory_(f"prod::r_F_{num}(r_F_{den}, {ratio})")
            self.modelBuilder.factory_(f"prod::r_V_{num}(r_VF, r_F_{num})")
        _fix_mass_quietly(self)
        self.modelBuilder.doSet("POI", ",".join(pois))

    def getHiggsSignalYieldScale(self, production, decay, energy):
        if production in _GLUON_LIKE:
            print(f"{production}/{decay} scaled by r_F_{decay}")
            return f"r_F_{decay}"
        if production in _VECTOR_LIKE:
            print(f"{production}/{decay} scaled by r_V_{decay}")
            return f"r_V_{decay}"
        raise RuntimeError(f"production mode '{production}' is not handled by this model")
