"""scorecard: one page across the papers (reports/index.html, and reports/scorecard.csv for a program) — each
paper's headline claims beside ours, with what bears on trusting them, and a one-line verdict per claim.

A claim is a paper's accuracy (and MCC where it prints one) for each of its networks, and for patel's ensemble its
headline weights and γ. Ours is the same network trained under the paper's protocol where it ran (the paper
profile), with its interval over the test images and its range over training seeds; where a stand-in ran instead
(quick, smoke) its number is shown, labelled, and the claim is not judged. Beside each experiment: the split's
leakage (exact twins, near twins, shared subjects), the best shortcut baseline (colour statistics only) against
the best network, and the least calibrated model's ECE. Everything is read from the audit's and spread's outputs
(nothing is recomputed); experiments not in this run's selection are listed as such.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from allrepro.fileio import atomic_path, write_csv
from allrepro.params import paper_of, selected_experiments

CLAIM_METRICS = ("accuracy", "mcc")
COLUMNS = ["paper", "experiment", "claim", "metric", "paper %", "ours", "judged", "ours %", "low %", "high %",
           "seeds", "seed min %", "seed max %", "verdict"]


def stage(cfg: dict, inputs: dict, outputs: dict) -> pd.DataFrame:
    """`allrepro scorecard`: reports/index.html and reports/scorecard.csv from the selected experiments' audits."""
    selected = selected_experiments(cfg)
    rows, context = [], {}
    for exp in selected:
        audit = json.loads(Path(inputs[f"{exp}_audit"]).read_text())
        spread = json.loads(Path(inputs[f"{exp}_spread"]).read_text())
        checks = pd.read_csv(inputs[f"{exp}_paper_check"], keep_default_na=False)
        context[exp] = _context(audit)
        rows += [_row(cfg, exp, r, spread, context[exp]) for r in claims(checks).to_dict("records")]
    table = pd.DataFrame(rows, columns=COLUMNS)
    write_csv(table, outputs["table"])
    with atomic_path(outputs["html"]) as tmp:
        tmp.write_text(page(cfg, table, context, outputs["html"]))
    judged = table[table["judged"]]
    print(f"scorecard: {len(table)} claims of {table['paper'].nunique()} papers, {len(judged)} judged "
          f"({int((judged['verdict'].str.startswith('Consistent')).sum())} consistent) -> {outputs['html']}")
    return table


def claims(checks: pd.DataFrame) -> pd.DataFrame:
    """A paper's headline claims among its checked numbers: each network's accuracy and MCC, and of the ensemble
    settings only the one the paper leads with (its highest accuracy)."""
    rows = checks[checks["metric"].isin(CLAIM_METRICS)].copy()
    ens = rows["paper model"].str.startswith("ensemble")
    if ens.any():
        head = rows[ens & (rows["metric"] == "accuracy")].sort_values("paper %", ascending=False)["paper model"].iloc[0]
        rows = rows[~ens | (rows["paper model"] == head)]
    return rows


def _context(audit: dict) -> dict:
    test = audit["leakage"].get("test", {})
    cal = {m: c["ece"] for m, c in (audit.get("calibration") or {}).items() if c.get("ece") == c.get("ece")}
    worst = max(cal, key=cal.get) if cal else None
    best_model = audit.get("best_model") or {}
    return {"images": test.get("images", 0), "exact": test.get("with_exact_twin_in_train", 0),
            "near": test.get("with_near_twin_in_train", 0), "subjects": test.get("subjects"),
            "subject_images": test.get("with_subject_in_train"), "subject_share": test.get("subject_share"),
            "baseline": audit["best_baseline"], "best_model": best_model,
            "ece": (worst, cal[worst]) if worst else None}


def _row(cfg: dict, exp: str, r, spread: dict, ctx: dict) -> dict:
    seed = next((s for s in spread.get("paper", []) if s["paper model"] == r["paper model"]
                 and s["metric"] == r["metric"]), None)
    judged = _bool(r["judged"])
    out = {"paper": paper_of(cfg, exp), "experiment": exp, "claim": r["paper model"], "metric": r["metric"],
           "paper %": float(r["paper %"]), "ours": r["ours"], "judged": judged, "ours %": _num(r["ours %"]),
           "low %": _num(r["low %"]), "high %": _num(r["high %"]), "seeds": int(seed["seeds"]) if seed else 1,
           "seed min %": seed["ours min %"] if seed else None, "seed max %": seed["ours max %"] if seed else None}
    out["verdict"] = verdict(out, _bool(r["inside"]), ctx, cfg["profile"])
    return out


def verdict(row: dict, inside: bool, ctx: dict, profile: str) -> str:
    """One line a reader can act on, right whichever side wins."""
    paper, ours, low, high = row["paper %"], row["ours %"], row["low %"], row["high %"]
    where = f"{ours:.2f}% [{low:.2f}, {high:.2f}]" if ours is not None else "not measured"
    if not row["judged"] and row["ours"] == row["claim"]:
        return (f"Not judged: the {profile} profile cuts the data or epochs; the same network gets {where} on this "
                f"split; the paper profile judges the claim.")
    if not row["judged"]:
        return (f"Not judged: this run trained {row['ours']}, a stand-in for {row['claim']} ({profile} profile), which "
                f"gets {where} on this split; the paper profile judges the claim.")
    if inside:
        text = f"Consistent: the paper's {paper:.2f}% lies inside our interval, {where}"
    elif high is not None and paper > high:
        text = f"Not reproduced: the paper's {paper:.2f}% lies above our interval, {where}"
    else:
        text = f"Exceeded: ours, {where}, lies above the paper's {paper:.2f}%"
    if row["seeds"] > 1:
        text += f"; over {row['seeds']} training seeds {row['seed min %']:.2f}–{row['seed max %']:.2f}%"
    caveats = []
    if ctx["near"]:
        caveats.append(f"{ctx['near']} of {ctx['images']} test images have a near twin in training")
    if ctx["subject_images"]:
        caveats.append(f"{100 * ctx['subject_share']:.0f}% of test images share a subject with training")
    return text + (f" — optimistic: {'; '.join(caveats)}." if caveats else ".")


def page(cfg: dict, table: pd.DataFrame, context: dict, where: str) -> str:
    """The scorecard as one self-contained HTML page (no scripts, no outside assets)."""
    root = Path(where).parent
    sel = selected_experiments(cfg)
    papers = list(dict.fromkeys(paper_of(cfg, e) for e in cfg["experiments"]))
    judged = table[table["judged"]]
    lead = (f"{len(judged)} of {len(table)} claims judged by the paper's own network "
            f"({int(judged['verdict'].str.startswith('Consistent').sum())} consistent, "
            f"{int(judged['verdict'].str.startswith('Not reproduced').sum())} not reproduced); "
            f"the rest ran a stand-in ({cfg['profile']} profile) and are shown for orientation only.")
    parts = [f"<h1>allrepro scorecard — profile {_e(cfg['profile'])}</h1>",
             f"<p class=lead>{_e(lead)}</p>",
             "<p>Each row: a number the paper prints, ours beside it (95% interval over the test images: "
             "Clopper–Pearson for accuracy, bootstrap for MCC; the range over training seeds where more than one ran), "
             "and what it means. A verdict needs the paper's own network under its protocol; leakage and shortcut "
             "baselines say how far even a reproduced number tells of a model that learned cells.</p>"]
    for paper in papers:
        exps = [e for e in cfg["experiments"] if paper_of(cfg, e) == paper]
        parts.append(f"<h2>{_e(paper)}</h2>")
        for exp in exps:
            if exp not in sel:
                parts.append(f"<p class=absent><b>{_e(exp)}</b>: not run in this selection "
                             f"(<code>snakemake --config experiment={_e(exp)}</code>).</p>")
                continue
            parts.append(_experiment(exp, table[table["experiment"] == exp], context[exp], root))
    return TEMPLATE.format(title="allrepro scorecard", body="\n".join(parts))


def _experiment(exp: str, rows: pd.DataFrame, ctx: dict, root: Path) -> str:
    report, card = Path("reports", exp, "report.html"), Path("bundles", exp, "model_card.html")
    links = (f"<a href='{_e(_rel(report, root))}'>report</a> · <a href='{_e(_rel(card, root))}'>model card</a>")
    facts = [f"test images: {ctx['images']}",
             f"exact twins in training: {ctx['exact']}", f"near twins in training: {ctx['near']}",
             ("subjects: none recorded" if ctx["subjects"] is None else
              f"sharing a subject with training: {ctx['subject_images']} ({100 * (ctx['subject_share'] or 0):.0f}%)")]
    base, best = ctx["baseline"], ctx["best_model"]
    best_acc = best.get("accuracy") if isinstance(best, dict) else None
    facts.append(f"colour-only baseline: {100 * base['accuracy']:.1f}% ({_e(base['name'])})"
                 + (f" vs best network {100 * best_acc:.1f}%" if best_acc is not None else ""))
    if ctx["ece"]:
        facts.append(f"least calibrated: {_e(ctx['ece'][0])}, ECE {ctx['ece'][1]:.3f}")
    head = ("<tr><th>paper's network</th><th>metric</th><th>paper</th><th>ours (network)</th>"
            "<th>ours [95% interval]</th><th>seeds</th><th>verdict</th></tr>")
    body = []
    for r in rows.itertuples(index=False):
        d = dict(zip(rows.columns, r))
        ours = "—" if d["ours %"] is None or d["ours %"] != d["ours %"] else \
            f"{d['ours %']:.2f} [{d['low %']:.2f}, {d['high %']:.2f}]"
        seeds = (f"{d['seeds']}: {d['seed min %']:.2f}–{d['seed max %']:.2f}" if d["seeds"] > 1 else "1")
        kind = ("same network" if d["judged"] else "same network, work cut" if d["ours"] == d["claim"]
                else "stand-in")
        cls = "stand" if not d["judged"] else ("ok" if d["verdict"].startswith("Consistent") else "bad")
        body.append(f"<tr class={cls}><td>{_e(d['claim'])}</td><td>{_e(d['metric'])}</td><td>{d['paper %']:.2f}</td>"
                    f"<td>{_e(d['ours'])} <small>({kind})</small></td><td>{ours}</td><td>{_e(seeds)}</td>"
                    f"<td>{_e(d['verdict'])}</td></tr>")
    table = (f"<table>{head}{''.join(body)}</table>" if body else
             "<p class=absent>No headline number of the paper is checked in this experiment (see its report).</p>")
    return (f"<section><h3>{_e(exp)} <small>{links}</small></h3><ul class=facts>"
            + "".join(f"<li>{f}</li>" for f in facts) + "</ul>" + table + "</section>")


def _rel(path: Path, root: Path) -> str:
    import os

    return os.path.relpath(path, root).replace(os.sep, "/")


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _num(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _bool(value) -> bool:
    return value is True or str(value).strip().lower() == "true"


TEMPLATE = """<!doctype html>
<html lang=en><head><meta charset=utf-8><title>{title}</title>
<meta name=viewport content="width=device-width, initial-scale=1">
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 78em; padding: 0 1em; color: #1b1b1b }}
h1 {{ font-size: 1.6em }} h2 {{ margin-top: 1.6em; border-bottom: 1px solid #ccc }} h3 small {{ font-weight: normal }}
.lead {{ font-size: 1.1em; background: #f3f5f8; padding: .6em .8em; border-left: 4px solid #456 }}
table {{ border-collapse: collapse; width: 100%; table-layout: auto }}
th, td {{ border: 1px solid #ddd; padding: .3em .5em; vertical-align: top; text-align: left }}
td:not(:last-child), th {{ white-space: nowrap }}
th {{ background: #f6f6f6 }}
tr.ok td:last-child {{ background: #e9f6ec }} tr.bad td:last-child {{ background: #fbeaea }}
tr.stand td {{ color: #555 }} .facts {{ columns: 2; margin: .3em 0 .6em }} .absent {{ color: #666 }}
</style></head>
<body>
{body}
</body></html>
"""
