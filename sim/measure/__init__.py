"""Measurement: what a run samples while it runs and how that reduces to the frames of a result.

A run records compact counters and gauges during the simulation and reduces them at the end
to the ``summary`` (one value per run), the ``timeseries`` (one row per sample interval) and
the ``events`` frame. :mod:`sim.measure.metrics` is the table of every summary key and
timeseries column, with its unit, kind and meaning; the result, the comparison and report
tables, the plots and ``python -m sim metrics`` read it rather than keep their own lists.
"""
