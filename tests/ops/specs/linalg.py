"""Op database: linalg family."""

SPECS: list = []
