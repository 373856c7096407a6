"""``ember doctor RUN_DIR [--html FILE]``: diagnose a finished (or running) training run.

Reads the monitor statistics (``diagnostics.npz``/``.json``, written by ``GradientMonitor``)
and the per-epoch ``metrics.csv`` — either may be missing, not both — strictly
(``runfiles``: a damaged file is an error naming it, not a diagnosis), runs every detector
and prints a report; ``--html`` also writes a self-contained page with embedded PNG plots.
"""

from __future__ import annotations

import argparse
import base64
import html
import os
import sys
from pathlib import Path

import numpy as np

from ember.diagnostics import plots
from ember.diagnostics.detectors import Finding, column, run_detectors
from ember.diagnostics.monitor import RunStats
from ember.diagnostics.runfiles import load_run

__all__ = ["diagnose", "report", "html_report", "add_arguments", "run", "main"]


def diagnose(run_dir: str | os.PathLike, patience: int = 5) -> list[Finding]:
    """Every detector's findings for the run in ``run_dir``, most severe first."""
    return run_detectors(load_run(run_dir), patience=patience)


def _summary(stats: RunStats) -> list[str]:
    lines = []
    if stats.grad_norm.shape[0]:
        lines.append(
            f"monitor: {stats.grad_norm.shape[0]} recorded steps, {len(stats.param_names)} "
            f"parameters, {len(stats.act_names)} modules with activation statistics"
        )
        idx = np.flatnonzero(stats.param_ndim >= 2)
        if len(idx):
            late = np.nanmedian(stats.grad_rms[stats.grad_rms.shape[0] // 2 :, idx], axis=0)
            lines.append("gradient RMS per weight layer (late median, input → output):")
            lines += [f"  {stats.param_names[i]:<40} {g:.3g}" for i, g in zip(idx, late)]
    train, val = column(stats.epochs, "train_loss"), column(stats.epochs, "val_loss")
    if train is not None:
        text = f"epochs: {len(train)}; train loss {train[0]:.4g} → {train[-1]:.4g}"
        if val is not None:
            text += f"; val loss {val[0]:.4g} → {val[-1]:.4g} (best {np.nanmin(val):.4g})"
        lines.append(text)
    return lines


def report(stats: RunStats, findings: list[Finding], title: str = "") -> str:
    """The plain-text report: what was read, then the findings (or that none fired)."""
    lines = [f"ember doctor: {title}".rstrip(": "), *_summary(stats), ""]
    if findings:
        lines.append(f"{len(findings)} finding(s):")
        lines += [str(f) for f in findings]
    else:
        lines.append("no problems found by the detectors")
    return "\n".join(lines)


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return (
            f"<p><em>{html.escape(alt)}: no data recorded</em> (train with "
            "<code>ember train --diagnose</code> or a <code>GradientMonitor</code>)</p>"
        )
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def html_report(stats: RunStats, findings: list[Finding], title: str, patience: int = 5) -> str:
    """A self-contained HTML page: the findings and the plots embedded as base64 PNGs."""
    colors = {"critical": "#c0392b", "warning": "#d68910", "info": "#2471a3"}
    items = "".join(
        f'<li><b style="color:{colors[f.severity]}">{f.severity.upper()}</b> '
        f"<b>{html.escape(f.kind.replace('_', ' '))}</b>: {html.escape(f.evidence)}"
        f"<br><i>try:</i> {html.escape(f.suggestion)}</li>"
        for f in findings
    )
    summary = html.escape("\n".join(_summary(stats)))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ember doctor: {html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}img{{max-width:100%}}
li{{margin-bottom:.6em}}pre{{background:#f4f4f4;padding:.6em}}</style></head><body>
<h1>ember doctor: {html.escape(title)}</h1>
<h2>Findings</h2>
{f"<ul>{items}</ul>" if findings else "<p>No problems found by the detectors.</p>"}
<pre>{summary}</pre>
<h2>Loss curves</h2>{_img(plots.loss_curves_png(stats, patience), "loss curves")}
<h2>Gradient flow</h2>{_img(plots.gradient_flow_png(stats), "gradient flow")}
<h2>Activations</h2>{_img(plots.activation_histograms_png(stats), "activation histograms")}
</body></html>
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Define ``ember doctor``'s arguments on ``parser`` (its own or a CLI subparser)."""
    parser.add_argument("run_dir", help="a run directory (metrics.csv and/or diagnostics.npz)")
    parser.add_argument("--html", metavar="FILE", help="also write an HTML report with plots")
    parser.add_argument("--patience", type=int, default=5, help="early-stopping patience")


def run(args: argparse.Namespace) -> int:
    """Diagnose ``args.run_dir`` and print the report; the exit status (1: unreadable run)."""
    try:
        stats = load_run(args.run_dir)
        findings = run_detectors(stats, patience=args.patience)
        print(report(stats, findings, str(args.run_dir)))
        if args.html:
            page = html_report(stats, findings, str(args.run_dir), args.patience)
            Path(args.html).write_text(page, encoding="utf-8")
            print(f"wrote {args.html}")
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"ember: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ember doctor``; returns the exit status (1 when the run is unreadable)."""
    parser = argparse.ArgumentParser(prog="ember doctor", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
