"""The console scripts (``combine``, ``combineCards.py``, ``pycombine``): thin click layers over the
Python API in :mod:`pycombine.run` and :mod:`pycombine.tools`."""
