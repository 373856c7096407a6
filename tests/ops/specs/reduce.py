"""Op database: reduce family."""

SPECS: list = []
