"""Groups of ``sayso`` commands, one module per subject; registered in ``sayso.cli``."""
