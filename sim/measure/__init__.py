"""Measurement: sampling during the run, and reduction to the summary, timeseries and events."""
