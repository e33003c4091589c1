"""Whole runs: prepare a scenario, run the study (in-process or as real processes),
train the centralized baseline, compare, and write the run folder."""
