"""Tick labels of log axes as plain text, for figures drawn with matplotlib's maths parsing off.

The report's figures are drawn with ``text.parse_math`` off (:func:`medbench.reports.figures.plain_text`)
so that a data string such as a class called ``$\\undefined$`` is shown as typed. matplotlib's log-axis
formatter writes its labels as maths (``$\\mathdefault{10^{-2}}$``), which would then be shown raw.
:class:`PlainLogFormatter` keeps matplotlib's choice of which ticks get a label and writes each label
in plain Unicode (``10⁻²``, ``2×10⁻²``); :func:`plain_log_ticks` puts it on every log axis of a figure.
"""

from __future__ import annotations

import re
from typing import Any

from matplotlib.ticker import LogFormatterSciNotation

_SUPERSCRIPT = str.maketrans("0123456789-\u2212+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁻⁺")
_POWER = re.compile(r"\^\{([^{}]*)\}|\^(\S)")
_WRAPPER = re.compile(r"\\mathdefault\{(.*)\}")


def unmath(label: str) -> str:
    """A matplotlib maths tick label (``$\\mathdefault{2\\times10^{-2}}$``) as plain Unicode text
    (``2×10⁻²``); any other label is returned unchanged."""
    if not (len(label) >= 2 and label.startswith("$") and label.endswith("$")):
        return label
    text = label[1:-1]
    while (m := _WRAPPER.search(text)) is not None:
        text = text[:m.start()] + m.group(1) + text[m.end():]
    text = text.replace("\\times", "\u00d7").replace("\\cdot", "\u00b7")
    text = _POWER.sub(lambda m: (m.group(1) or m.group(2)).translate(_SUPERSCRIPT), text)
    return text.replace("\\", "").replace("{", "").replace("}", "")


class PlainLogFormatter(LogFormatterSciNotation):
    """matplotlib's log formatter (same ticks labelled) writing plain Unicode instead of maths."""

    def __call__(self, x: float, pos: Any = None) -> str:
        return unmath(super().__call__(x, pos))


def plain_log_ticks(fig) -> None:
    """Give every log-scaled axis of ``fig`` plain-text tick labels (major and minor)."""
    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale != "log":
                continue
            for setter, current in ((axis.set_major_formatter, axis.get_major_formatter()),
                                    (axis.set_minor_formatter, axis.get_minor_formatter())):
                if isinstance(current, LogFormatterSciNotation) and not isinstance(current, PlainLogFormatter):
                    setter(PlainLogFormatter(base=current._base, labelOnlyBase=current.labelOnlyBase,
                                             minor_thresholds=current.minor_thresholds,
                                             linthresh=current._linthresh))
