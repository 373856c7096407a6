"""The coverage measure's rows and their Markdown rendering."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One PyTorch name: left out (with why), or whether ember has, matches and tests it.

    ``signature`` is "yes", a list of differences, or "" where one side has no inspectable
    signature (attributes, builtins without an override lambda, ``(*args, **kwargs)``).
    """

    namespace: str
    name: str
    left_out: str | None = None
    in_ember: bool = False
    signature: str = ""
    covered: bool = False


@dataclass(frozen=True)
class Summary:
    namespace: str
    measured: int
    in_ember: int
    signature_ok: int
    covered: int
    left_out: int
    target: float

    @classmethod
    def of(cls, namespace: str, rows: list[Row], target: float) -> Summary:
        kept = [r for r in rows if r.left_out is None]
        return cls(
            namespace,
            len(kept),
            sum(r.in_ember for r in kept),
            sum(r.signature == "yes" for r in kept),
            sum(r.covered for r in kept),
            len(rows) - len(kept),
            target,
        )


_COUNTS = ("measured", "in_ember", "signature_ok", "covered", "left_out")


def total(summaries: list[Summary]) -> Summary:
    """All namespaces together (no target of its own)."""
    return Summary(
        "all",
        *(sum(getattr(s, f) for s in summaries) for f in _COUNTS),
        0.0,
    )


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_table(summaries: Iterable[Summary]) -> list[str]:
    lines = [
        "| namespace | names measured | in ember | signature matches | covered | target "
        "| left out |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        target = f"≥ {s.target:.0%}" if s.target else "—"
        lines.append(
            f"| `{s.namespace}` | {s.measured} | {percent(s.in_ember, s.measured)} "
            f"| {percent(s.signature_ok, s.measured)} | **{percent(s.covered, s.measured)}** "
            f"| {target} | {s.left_out} |"
        )
    return lines


def namespace_section(namespace: str, rows: list[Row]) -> list[str]:
    kept = [r for r in rows if r.left_out is None]
    lines = [
        f"## `{namespace}`",
        "",
        "| name | in ember | signature | covered |",
        "|---|---|---|---|",
    ]
    for r in kept:
        sig = "" if not r.in_ember else ("✓" if r.signature == "yes" else _cell(r.signature))
        lines.append(
            f"| `{_cell(r.name)}` | {'✓' if r.in_ember else '✗'} | {sig} "
            f"| {'✓' if r.covered else ''} |"
        )
    left = [r for r in rows if r.left_out is not None]
    if left:
        lines += ["", f"### Left out of `{namespace}`", "", "| name | reason |", "|---|---|"]
        lines += [f"| `{_cell(r.name)}` | {_cell(r.left_out or '')} |" for r in left]
    return lines + [""]


def render(header: list[str], sections: list[tuple[Summary, list[Row]]]) -> str:
    summaries = [s for s, _ in sections]
    lines = list(header) + [""] + summary_table([*summaries, total(summaries)]) + [""]
    for summary, rows in sections:
        lines += namespace_section(summary.namespace, rows)
    return "\n".join(lines)
