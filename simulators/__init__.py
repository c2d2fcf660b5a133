"""Simulated devices that publish exactly what the real models publish, and obey commands."""
