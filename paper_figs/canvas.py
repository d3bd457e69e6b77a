"""Figure helpers shared by the paper figures: one theme (l4bench.plotting.style), legends, footer, saving."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import LogLocator, NullFormatter

from l4bench.plotting.style import color_for, label_for, linestyle_for, style_rc

#: Resolution of the PNGs (small files for the README gallery).
PNG_DPI = 110
PLAIN = mpl.ticker.FuncFormatter(lambda v, _pos: f"{v:g}")
#: Token counts as 512, 2k, 128k (powers of two: 1k = 1024).
KTOKENS = mpl.ticker.FuncFormatter(lambda v, _pos: f"{v / 1024:g}k" if v >= 1024 else f"{v:g}")


@contextmanager
def themed() -> Iterator[None]:
    """The l4bench theme for everything drawn inside (global rc restored after)."""
    with mpl.rc_context(style_rc()):
        yield


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 9.0, height: float = 3.6) -> tuple[Figure, list[Axes]]:
    """A constrained-layout figure and its axes as a flat list."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def plain_log(axis: Axis) -> None:
    """Log axis ticks as plain numbers: 1, 2, 5 x 10^k over short ranges, 10^k over long ones.

    Call after plotting (the choice depends on the data's range).
    """
    lo, hi = (float(v) for v in axis.get_view_interval())
    decades = math.log10(hi / lo) if lo > 0 and hi > lo else 1.0
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 2.5 else (1.0,)))
    axis.set_major_formatter(PLAIN)
    axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    axis.set_minor_formatter(NullFormatter())


def line_style(name: str) -> dict[str, object]:
    """Colour, line style and marker of a scheduler's line."""
    return {"color": color_for(name), "ls": linestyle_for(name), "lw": 1.8, "marker": "o", "ms": 4}


def legend_lines(fig: Figure, names: list[str], title: str | None = None, marker: str | None = "o") -> None:
    """One scheduler legend for the figure, right of the axes."""
    handles = [Line2D([], [], color=color_for(n), ls=linestyle_for(n), lw=2, marker=marker, ms=4) for n in names]
    fig.legend(handles, [label_for(n) for n in names], loc="outside right center", title=title)


def legend_patches(fig: Figure, names: list[str], title: str | None = None) -> None:
    """One scheduler legend of colour patches (bar charts), right of the axes."""
    handles = [Patch(facecolor=color_for(n), edgecolor="none") for n in names]
    fig.legend(handles, [label_for(n) for n in names], loc="outside right center", title=title)


def finish(fig: Figure, title: str, source: str) -> Figure:
    """Title on top, the data source as a small footer line."""
    fig.suptitle(title, fontsize="large", fontweight="bold")
    fig.text(0.0, -0.01, source, fontsize=7.5, color="0.35", ha="left", va="top", transform=fig.transFigure)
    return fig


def note(ax: Axes, text: str) -> None:
    """A centred grey message inside an axes (e.g. 'no migrations')."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def save(fig: Figure, name: str, out_dir: Path, docs_dir: Path | None = None, pdf: bool = True) -> Path:
    """Write out_dir/NAME.png and NAME.pdf (and a PNG copy in docs_dir); returns the PNG path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    meta = {"Software": "l4bench paper_figs"}
    fig.savefig(png, dpi=PNG_DPI, bbox_inches="tight", metadata=meta)
    if pdf:
        fig.savefig(out_dir / f"{name}.pdf", bbox_inches="tight")
    if docs_dir is not None:
        Path(docs_dir).mkdir(parents=True, exist_ok=True)
        _small_copy(png, Path(docs_dir) / f"{name}.png")
    return png


def _small_copy(src: Path, dst: Path) -> None:
    """A 256-colour copy of a PNG (about a third of the size; for the committed gallery)."""
    from PIL import Image

    with Image.open(src) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)
