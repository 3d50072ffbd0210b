"""Notebook widgets (anywidget): thin views over jobs. They never compute."""

from workbench.widgets.generation import GenerationWidget
from workbench.widgets.grasp import GraspWidget
from workbench.widgets.grasp_learning import GraspTrainingWidget
from workbench.widgets.molecule import MoleculeWidget
from workbench.widgets.place import PlaceWidget

__all__ = ["GenerationWidget", "GraspTrainingWidget", "GraspWidget", "MoleculeWidget", "PlaceWidget"]
