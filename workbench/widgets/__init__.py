"""Notebook widgets (anywidget): thin views over jobs. They never compute."""

from workbench.widgets.grasp import GraspWidget
from workbench.widgets.molecule import MoleculeWidget

__all__ = ["GraspWidget", "MoleculeWidget"]
