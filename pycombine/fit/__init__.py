"""Fitting machinery shared by the methods: minimisation, intervals, scans, asymptotic formulas, toys.

Nothing here knows about command lines or files: functions take a compiled model (or a profile
likelihood) and return numbers.
"""
