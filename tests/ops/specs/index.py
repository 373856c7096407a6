"""Op database: index family."""

SPECS: list = []
