"""Rendering only, from results.json alone: report.md / report.html, figures, tables, and the rendering of
a comparison (the judgement itself is :mod:`medbench.evaluation.gate`)."""
