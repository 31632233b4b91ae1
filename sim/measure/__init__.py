"""Measurement: sampling during the run, reduction to the three frames, and the metric table.

:mod:`sim.measure.sampler` reads the world's gauges every sample interval;
:mod:`sim.measure.frames` reduces a finished run to its summary, timeseries and events; and
:mod:`sim.measure.metrics` declares every summary key and timeseries column once — its unit,
kind, meaning and whether it is a headline figure — for every consumer to read.
"""
