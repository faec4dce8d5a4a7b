#!/bin/sh
# Regenerates the plot images of README.md ("combineTool.py and plots") from the bundled examples,
# with the documented combineTool.py / plot-script command lines. Needs pycombine[plot]:
#   pip install -e '.[plot]' && sh docs/img/make_images.sh
# Takes about a minute on two cores; the images land in docs/img/.
set -e
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$repo"/datacards/hww/* .
png="--dpi 60"

# impacts, in combineTool's three steps
combineTool.py -M Impacts -d combined_datacard.txt -m 125 --doInitialFit --robustFit 1 > /dev/null
combineTool.py -M Impacts -d combined_datacard.txt -m 125 --robustFit 1 --doFits --parallel 2 > /dev/null
combineTool.py -M Impacts -d combined_datacard.txt -m 125 -o impacts.json
plotImpacts.py -i impacts.json -o impacts --per-page 15 --max-pages 1 $png

# a 1D scan split in jobs, with the stat-only scan for the breakdown
combineTool.py combined_datacard.txt -M MultiDimFit --algo grid --points 40 --setParameterRanges r=0,2.5 \
    --split-points 10 -n .scan --parallel 2 > /dev/null
combine combined_datacard.txt -M MultiDimFit --algo grid --points 40 --setParameterRanges r=0,2.5 \
    --freezeParameters allConstrainedNuisances -n .statonly > /dev/null
plot1DScan.py "$(ls higgsCombine.scan.POINTS.*.root | paste -sd, -)" --main-label Total \
    --others higgsCombine.statonly.MultiDimFit.mH120.root:Stat-only:2 --breakdown Syst,Stat -o scan1d $png

# 68 % / 95 % contours of r and one nuisance from a 2D grid
combineTool.py combined_datacard.txt -M MultiDimFit --algo grid --points 225 -P r -P CMS_eff_m \
    --setParameterRanges r=0,2.5:CMS_eff_m=-2,3 --split-points 75 -n .2d --parallel 2 > /dev/null
pycombine plot scan2d higgsCombine.2d.POINTS.*.root -o scan2d $png

# goodness of fit: data, toys over three seeds, collected and plotted
combineTool.py -M GoodnessOfFit --algo saturated -d combined_datacard.txt -m 125 -n .data > /dev/null
combineTool.py -M GoodnessOfFit --algo saturated -d combined_datacard.txt -m 125 -n .toys -t 100 -s 1:3:1 \
    --parallel 2 > /dev/null
combineTool.py -M CollectGoodnessOfFit --input higgsCombine.data.GoodnessOfFit.mH125.root \
    higgsCombine.toys.GoodnessOfFit.mH125.*.root -o gof.json
plotGof.py gof.json --statistic saturated --mass 125.0 -o gof $png

# post-fit distributions and pulls from FitDiagnostics
combine -M FitDiagnostics combined_datacard.txt --saveShapes --saveWithUncertainties > /dev/null
pycombine plot postfit fitDiagnosticsTest.root --channel SR0j -o postfit $png
pycombine plot pulls fitDiagnosticsTest.root --regex 'CMS|lumi|SR0j' -o pulls $png

# expected limits against the luminosity (any variable: keys taken from the file names)
cp "$repo"/datacards/tprime/* .
echo "lumi_scale rateParam * * 1" >> combined_search.txt
echo "nuisance edit freeze lumi_scale" >> combined_search.txt
for l in 1 2 5 10 20 50 100; do
    combine combined_search.txt -M AsymptoticLimits --run blind --setParameters lumi_scale=$l -n .lumi.$l > /dev/null
done
combineTool.py -M CollectLimits higgsCombine.lumi.*.AsymptoticLimits.mH120.root --key 'file:lumi\.([0-9]+)\.' \
    -o limits.json
plotLimits.py limits.json --show exp --x-title "luminosity / nominal" --logx --logy -o limits $png

for p in impacts scan1d scan2d gof postfit_SR0j pulls limits; do
    cp "$p.png" "$here/$p.png"
done
ls -l "$here"/*.png
