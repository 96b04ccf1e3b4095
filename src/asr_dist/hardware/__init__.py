"""What the run would see: GPU table, inventory types and --simulate parsing (pure), NVML probe (edge)."""
from .inventory import GPU, Inventory, Node, SlurmAllocation, cpu_inventory, parse_simulate

__all__ = ["GPU", "Inventory", "Node", "SlurmAllocation", "cpu_inventory", "parse_simulate"]
