"""Built-in configuration files (rules versions, training configs, reason templates)."""
