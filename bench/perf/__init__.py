"""The Performance issue's targets P1, P2, P3, P5 and P6: `python -m bench perf` (targets.py)."""
