"""Experiments: pydantic configs, tasks, the runner, reports and the shipped recipes.

Needs the ``experiments`` extra (pydantic, pandas, matplotlib...).
"""
