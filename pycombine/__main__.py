"""``python -m pycombine`` runs the ``combine`` command."""

from .cli.combine import main

main()
