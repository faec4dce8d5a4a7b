"""Plots (matplotlib, imported lazily): the impact plot; Combine's plot scripts go here too."""
