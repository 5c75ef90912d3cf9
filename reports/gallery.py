"""The report's error gallery (rendering only): per pipeline, its most confident mistakes on the test split.

The pictures were made at run time (:mod:`medbench.running.gallery`: they need the images and the fitted model)
and sit in ``OUT/gallery/``; results.json lists them with their captions. :func:`section` renders a table
per pipeline (lowest seed), one column per mistake: thumbnail, true class, predicted class, the probability of
the predicted class, the occlusion-sensitivity map (every pipeline: where its decision rests) and the Grad-CAM
heat map or HOG glyph when there is one. Class names and notes are escaped; the file names
are medbench's own (the results schema admits no other), so nothing from the data becomes a link.
The majority floor is left out (:data:`NOT_SHOWN`); report.html shows the section folded (:data:`FOLDED`).
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from medbench.records import view
from medbench.reports import tables
from medbench.reports.escape import md as escape_md

#: report.html shows the gallery folded: ``{section anchor: the summary line that opens it}``.
FOLDED = {"most-confident-mistakes-test-split": "Show the pictures of the mistakes"}
#: Families whose mistakes are not shown: a constant predictor (the majority floor) gets the same class
#: wrong every time, so its rows would repeat one picture of nothing learnt.
NOT_SHOWN = ("baseline",)


def _first_jobs(results: dict[str, Any], stats: dict[str, Any]) -> list[dict[str, Any]]:
    by_id = {view.record_id(j): j for j in view.ok_jobs(results)}
    return [by_id[g["job_ids"][0]] for g in stats["pipelines"] if g["job_ids"][0] in by_id]


def section(results: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    jobs = [j for j in _first_jobs(results, stats) if j.get("family") not in NOT_SHOWN]
    left_out = [g["name"] for g in stats["pipelines"] if g.get("family") in NOT_SHOWN]
    if (results.get("config") or {}).get("gallery") is False:
        return ["Turned off for this run (`--no-gallery`).", ""]
    if not jobs and left_out:
        return [f"Not shown for {', '.join(escape_md(n) for n in left_out)}: a constant predictor gets the same class "
                "wrong every time.", ""]
    if not any(j.get("gallery") for j in jobs):
        return ["This results.json lists no pictures of the errors (written by an earlier medbench, or every job "
                "was run with `--no-gallery`).", ""]
    names = view.class_names(results)
    out = ["The test images each pipeline got wrong with the highest probability for the class it predicted, "
           "most confident first (the lowest seed of each pipeline). On the first few, every pipeline shows an occlusion "
           "map (the drop in its probability for the predicted class when a grey patch hides each region: where "
           "the decision rests, comparable across families); deep pipelines also a Grad-CAM heat map of the "
           "predicted class, HOG pipelines the HOG glyph image (what the features see, whatever the classifier "
           "learnt: not an explanation)."
           + (f" Not shown: {', '.join(escape_md(n) for n in left_out)} (a constant predictor: every mistake is the same "
              "class)." if left_out else ""), ""]
    for job in jobs:
        g = job.get("gallery")
        out += [f"### {escape_md(tables.name(job))} (seed {job['seed']})", ""]
        if not g:
            out += ["No pictures for this job.", ""]
            continue
        expl = g.get("explanation") or {}
        if expl.get("text"):
            out += [f"*{escape_md(expl['text'])}*", ""]
        occ = g.get("occlusion") or {}
        if occ.get("text") or occ.get("note"):
            out += [f"*{escape_md(occ.get('text') or occ['note'])}*", ""]
        if g.get("note"):
            out += [f"Note: {escape_md(g['note'])}", ""]
        if g.get("unavailable"):  # checked by the harness when the report was rebuilt (medbench.api.report)
            out += [f"Pictures not shown: {escape_md(g['unavailable'])} (run the same command again to redraw "
                    "them).", ""]
            continue
        items = g.get("items") or []
        if not items:
            continue
        label = escape_md(expl.get("label") or "Explanation")
        ranks = range(1, len(items) + 1)
        rows = [["Image", *[f"![mistake {r}]({it['image']})" for r, it in zip(ranks, items)]],
                ["True", *[escape_md(names[it["true"]]) for it in items]],
                ["Predicted", *[escape_md(names[it["predicted"]]) for it in items]],
                ["P(predicted)", *[f"{it['probability']:.3f}" for it in items]]]
        if any(it.get("occlusion_image") for it in items):
            rows.append(["Occlusion", *[f"![occlusion {r}]({it['occlusion_image']})" if it.get("occlusion_image")
                                        else "–" for r, it in zip(ranks, items)]])
        if any(it.get("explanation_image") for it in items):
            rows.append([label, *[f"![{label} {r}]({it['explanation_image']})" if it.get("explanation_image") else "–"
                                  for r, it in zip(ranks, items)]])
        out += [tabulate(rows, headers=["", *map(str, ranks)], tablefmt="github", disable_numparse=True), ""]
    return out
