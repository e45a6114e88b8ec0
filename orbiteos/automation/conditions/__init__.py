"""Built-in condition platforms, one module each; `orbiteos.automation.condition` finds them by name."""
