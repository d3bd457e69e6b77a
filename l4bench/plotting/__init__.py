"""Figures from results: one seaborn theme and a stable colour per scheduler (style.py), per-run figures."""
