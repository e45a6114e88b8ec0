"""Built-in trigger platforms, one module each; `orbiteos.automation.trigger` finds them by name."""
