"""Op database: movement family."""

SPECS: list = []
