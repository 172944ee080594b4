"""Turn the raw CSVs in ``benchmarks/results/`` into markdown sections and plots.

One section per benchmark with results (the others are skipped, with a message):
tables with their spread, the machine, the load during the measurements and the
command that reproduces them, in ``results/<name>.md``; plots of speed, accuracy
and robustness (both searches) in ``results/<name>.png``. ``--docs PAGE ...``
writes each section between the ``<!-- begin: <name> -->`` and
``<!-- end: <name> -->`` markers of the pages that have them (and only there),
and its plot to ``images/<name>.png`` beside each such page.
``--quick`` reads the results of ``--quick`` runs; it writes to no page in docs/.
``--only NAME ...`` makes those sections only.
Bold: where ours loses. "ours − best baseline" compares with the baseline of
highest mean test score at that target (chosen on the test score: that favours
the baselines, never ours).
"""

import argparse
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from _harness import RESULTS, load_meta, write_section

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BASELINES = ("paper", "gmp-60", "gmp-90", "one-shot")


def pm(values, digits=3):
    """'mean ± std' over seeds (std with ddof=1; '' for one value)."""
    values = pd.Series(values).dropna()
    std = f" ± {values.std():.{digits}f}" if len(values) > 1 else ""
    return f"{values.mean():.{digits}f}{std}"


def table(frame):
    """A markdown table of a DataFrame, index included."""
    frame = frame.reset_index()
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |"]
    lines.append("|" + "---|" * frame.shape[1])
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in frame.to_numpy()]
    return "\n".join(lines)


def loss(diff, text):
    """Bold where ours loses."""
    return f"**{text}**" if diff < 0 else text


def footer(stem, frame):
    """Where the raw results are, the machine, when and for how long, the
    load from other processes, and the command that reproduces them."""
    text = f"Raw results: `results/{stem}.csv`."
    if not (RESULTS / f"{stem}.json").exists():
        return text
    meta, load = load_meta(stem), frame.get("other_load", pd.Series()).dropna()
    m = meta["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m.items() if k not in ("cpu", "cores"))
    text += (
        f" Machine: {m['cpu']}, {m['cores']} cores; {versions}. Started "
        f"{meta['started']}, {meta['minutes']} min"
        f"{'' if meta['completed'] else ' (interrupted)'}."
    )
    if len(load):
        text += (
            f" Load from other processes during the measurements (cores busy): "
            f"median {load.median():.2f}, max {load.max():.2f}; 1-min load "
            f"average up to {frame['loadavg_1min'].max():.2f}."
        )
    return f"{text}\n\nReproduce: `{meta['command']}`"


def _size(frame):
    """'n×d (hidden)' per row."""
    return (
        frame.n_samples.astype(str) + "×" + frame.n_features.astype(str)
        + " (" + frame.hidden.astype(str).str.replace("-", ", ") + ")"
    )  # fmt: skip


def _load(g):
    """Other processes' load (median, max) and the highest 1-min average."""
    return (
        f"{g.other_load.median():.2f}, {g.other_load.max():.2f}; "
        f"{g.loadavg_1min.max():.2f}"
    )


def speed(frame):
    """Time per epoch by contestant, and the ratios the goals are set in."""
    frame["size"] = _size(frame)
    frame["who"] = frame.contestant + " " + frame.dtype
    keys = ["threads", "size"]
    frame["ms_per_epoch"] = 1000 * frame.seconds_per_epoch
    epochs = frame[frame["mode"] == "epochs"]
    med = epochs.groupby([*keys, "who"], sort=False).seconds_per_epoch.median()
    med = med.unstack("who")
    calls = frame[frame["mode"] != "epochs"].groupby([*keys, "mode", "who"])
    call = calls.seconds.median().unstack(["mode", "who"])

    def ratio(a, b):
        return [loss(1 - r, f"{r:.2f}") if np.isfinite(r) else "–" for r in a / b]

    out = pd.DataFrame(index=med.index)
    out["ours f64 ÷ sklearn f64"] = ratio(med["ours float64"], med["sklearn float64"])
    out["ours f32 ÷ sklearn f64"] = ratio(med["ours float32"], med["sklearn float64"])
    if "skorch float32" in med:
        # Bold where skorch is not slower than ours.
        r = med["skorch float32"] / med["ours float32"]
        out["skorch f32 ÷ ours f32"] = [loss(x - 1, f"{x:.2f}") for x in r]
    for dtype, short in (("float64", "f64"), ("float32", "f32")):
        # Never below 1: not bold.
        r = med[f"ours {dtype}"] / med[f"floor {dtype}"]
        out[f"ours {short} ÷ floor {short}"] = [f"{x:.2f}" for x in r]
    for mode, label in (("fit", "1-epoch fit"), ("partial_fit", "partial_fit call")):
        ours, theirs = call[(mode, "ours float64")], call[(mode, "sklearn float64")]
        out[f"{label}: ours ÷ sklearn (f64)"] = ratio(
            ours.reindex(out.index), theirs.reindex(out.index)
        )
    if "ours-auto float64" in med:
        # n_threads="auto" at every core against ours at one thread.
        one = med["ours float64"].xs(1, level="threads")
        auto = med["ours-auto float64"]
        r = pd.Series(
            auto.to_numpy()
            / one.reindex(auto.index.get_level_values("size")).to_numpy(),
            index=auto.index,
        )
        out["auto ÷ 1 thread (f64)"] = ratio(r, 1.0)
    out["load: other (median, max); 1-min avg"] = frame.groupby(keys, sort=False).apply(
        _load
    )
    ms = (1000 * med).map(lambda v: f"{v:.2f}")
    fig, axes = plt.subplots(1, frame.threads.nunique(), figsize=(11, 4), sharey=True)
    for ax, (n, part) in zip(np.atleast_1d(axes), epochs.groupby("threads")):
        stats = part.pivot_table("ms_per_epoch", "size", "who", ["median"], sort=False)
        stats["median"].plot.bar(ax=ax, logy=True, rot=0)
        ax.set(title=f"{n} thread(s)", ylabel="ms per epoch (median)", xlabel="")
    text = (
        "Ratios of medians over repetitions: time per epoch of a fit, divided "
        "by the epochs it ran (set-up included), and wall time of a 1-epoch "
        "`fit` and of one `partial_fit` call; the floor is the epochs' matrix "
        "products alone. Bold: above 1 for ours ÷ sklearn and auto ÷ 1 thread "
        "(ours slower), below 1 for skorch ÷ ours.\n\n"
        + table(out)
        + "\n\nMilliseconds per epoch (median over repetitions).\n\n"
        + table(ms)
    )
    return text, fig


def profile(frame):
    """Microseconds per step in each part, per size and dtype."""
    frame["size"] = _size(frame)
    keys = ["threads", "size", "dtype"]
    med = frame.groupby([*keys, "part"], sort=False).us_per_step.median()
    parts = med.unstack("part")
    floor = "floor: the matrix products alone"
    step = parts.drop(columns=floor).sum(axis=1)
    out = parts.drop(columns=floor).apply(
        lambda col: [f"{v:.0f} ({100 * v / t:.0f}%)" for v, t in zip(col, step)]
    )
    out["step (µs)"] = step.map(lambda v: f"{v:.0f}")
    out[floor + " (µs)"] = parts[floor].map(lambda v: f"{v:.0f}")
    out["load: other (median, max); 1-min avg"] = frame.groupby(keys, sort=False).apply(
        _load
    )
    text = (
        "Microseconds per step spent in each part (share of the step), "
        "median over fits.\n\n" + table(out)
    )
    return text, None


def accuracy(frame):
    parts, sparse = [], frame[frame.target.notna()]
    for name, data in sparse.groupby("data", sort=False):
        out = data.pivot_table("score", "target", "method", aggfunc=lambda v: pm(v, 4))
        means = data.pivot_table("score", "target", "method")
        rivals = [m for m in BASELINES if m in means]
        if "ours" in means and rivals:
            diff = means["ours"] - means[rivals].max(axis=1)
            best = means[rivals].idxmax(axis=1)
            out["ours − best baseline"] = [
                loss(d, f"{d:+.4f} ({b})") for d, b in zip(diff, best)
            ]
        dense = frame[(frame.data == name) & (frame.method == "dense-cv")].score
        if "ours" in means and len(dense):
            diff = means["ours"] - dense.mean()
            out["ours − dense-cv"] = [loss(d, f"{d:+.4f}") for d in diff]
        parts.append(f"**{name}**: test score (mean ± std over seeds)\n\n{table(out)}")
    facts = frame.groupby(["data", "method"], sort=False).apply(
        lambda g: pd.Series({
            "epochs run": loss(  # bold: not the budget (paper, LassoNet: more)
                -int(g.name[1] not in ("paper", "lassonet")
                     and (g.epochs != g.budget).any()),
                f"{g.epochs.min():.0f}–{g.epochs.max():.0f}",
            ),
            "budget": g.budget.iloc[0],
            "search rounds": f"{g.n_search_rounds.max():.0f}"
            if g.n_search_rounds.notna().any() else "",
            "max achieved − target": f"{(g.sparsity - g.target).abs().max():.4f}"
            if g.target.notna().all() else "",
            "features kept": pm(g.features_kept, 2),
            "score (dense, LassoNet)": pm(g.score, 4) if g.target.isna().all() else "",
            "seconds per fit (median)": f"{g.seconds.median():.1f}",
        })
    )  # fmt: skip
    parts.append("Epochs, sparsity and time per method\n\n" + table(facts))
    names = list(frame.data.unique())
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.5))
    for ax, name in zip(np.atleast_1d(axes), names):
        data = frame[frame.data == name]
        for method, part in data[data.target.notna()].groupby("method"):
            stats = part.groupby("target").score.agg(["mean", "std"])
            ax.errorbar(
                stats.index, stats["mean"], stats["std"], marker="o", label=method
            )
        dense = data[data.method == "dense-cv"].score.mean()
        ax.axhline(dense, color="gray", linestyle=":", label="dense-cv")
        ax.set(title=name, xlabel="target sparsity", ylabel="test score")
    np.atleast_1d(axes)[0].legend(fontsize="small")
    return "\n\n".join(parts), fig


def robustness(frame):
    def summary(g):
        return pd.Series({
            "cells": len(g),
            "within tol (checked)": f"{g.within_tol.sum()}/{len(g)}",
            "target_reached_ disagrees": int((g.target_reached != g.within_tol).sum()),
            "warning disagrees": int((g.warned == g.target_reached).sum()),
            "n_iter_ ≤ budget": f"{g.within_budget.sum()}/{len(g)}",
            "median search rounds": f"{g.n_search_rounds.median():.0f}",
            "median cost ratio": f"{g.cost_ratio.median():.2f}",
            "max cost ratio": f"{g.cost_ratio.max():.2f}",
            # A fresh fit at alpha_ (same budget, seed and refit): its count
            # against the target.
            "fresh fit within 10%": f"{(g.fixed_max_rel_error <= 0.1).sum()}/{len(g)}",
            "fresh fit within 25%": f"{(g.fixed_max_rel_error <= 0.25).sum()}/{len(g)}",
        })  # fmt: skip

    overall = summary(frame).to_frame("all cells").T.rename_axis("")
    fits = pd.Index(["search fit", "fresh fit at alpha_"], name="ℓ1 network of")
    kkt = pd.DataFrame({
        "median |∂L/∂w|/λ on nonzeros": [
            pm(frame.kkt_median_ratio, 4), pm(frame.fixed_kkt_median_ratio, 4)],
        "fraction of nonzeros within ±30% of λ": [
            pm(frame.kkt_within_band, 3), pm(frame.fixed_kkt_within_band, 3)],
        "fraction of zeros with |∂L/∂w| > λ": [
            pm(frame.kkt_violating_zeros, 4), pm(frame.fixed_kkt_violating_zeros, 4)],
    }, index=fits)  # fmt: skip
    factors = ["data", "target", "kind", "batch", "max_iter", "solver", "seed"]
    by_level = pd.concat(
        {f: frame.groupby(f, sort=False).apply(summary) for f in factors},
        names=["factor", "level"],
    )
    bad = frame[~frame.within_tol | ~frame.within_budget].round({"cost_ratio": 2})
    columns = [*factors, "nnz", "target_nnz", "n_iter", "cost_ratio"]
    text = (
        f"{table(overall)}\n\nOptimality conditions at alpha_ (mean ± std over "
        f"cells; gradients over the training set)\n\n{table(kkt)}\n\n"
        f"By level of each factor\n\n{table(by_level)}"
    )
    if len(bad):
        bad = bad[columns].set_index("data")
        text += f"\n\nCells off target or over budget\n\n{table(bad)}"
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    for reached, part in frame.groupby("within_tol"):
        left.scatter(
            part.target, part.max_rel_error + 1e-4, label=f"within tol: {reached}"
        )
    left.set(yscale="log", xlabel="target sparsity", ylabel="|NNZ − T| / T (+1e-4)")
    left.legend(fontsize="small")
    right.scatter(frame.max_iter, frame.cost_ratio)
    right.set(xscale="log", yscale="log", xlabel="max_iter", ylabel="cost ratio")
    return text, fig


def robustness_paper(frame):
    """The robustness tables, and the search rounds by target."""
    text, fig = robustness(frame)
    cap = frame.n_search_rounds * frame.max_iter == frame.budget  # all rounds used
    rounds = frame.groupby("target").n_search_rounds.agg(["median", "min", "max"])
    rounds["at the cap"] = cap.groupby(frame.target).sum()
    rounds = table(rounds.map("{:g}".format))
    return f"{text}\n\nSearch rounds by target\n\n{rounds}", fig


def defaults(frame):
    """Per data set, ours against scikit-learn's MLP, both with defaults."""

    def versus(g):
        ours, theirs = (g[g.contestant == c] for c in ("ours", "sklearn"))
        diff = ours.score.mean() - theirs.score.mean()
        return pd.Series({
            "ours": pm(ours.score, 4), "scikit-learn": pm(theirs.score, 4),
            "ours − scikit-learn": loss(diff, f"{diff:+.4f}"),
            "our sparsity": pm(ours.sparsity),
            "epochs (ours)": f"{ours.epochs.min()}–{ours.epochs.max()}",
            "epochs (scikit-learn)": f"{theirs.epochs.min()}–{theirs.epochs.max()}",
        })  # fmt: skip

    out = frame.groupby("data", sort=False).apply(versus)
    return f"Test score (mean ± std over seeds)\n\n{table(out)}", None


def streaming(frame):
    """Throughput and memory over the stream, per contestant and size."""
    runs = frame.groupby(["contestant", "rows"], sort=False)
    speed = runs.rows_per_s.mean()
    ratio = speed.div(speed.xs("sklearn", level="contestant"), level="rows")
    out = pd.DataFrame({
        "rows/s": runs.rows_per_s.apply(pm, 0),
        "÷ scikit-learn": [loss(r - 1, f"{r:.2f}×") for r in ratio],
        "peak RSS (MB)": runs.peak_rss_mb.apply(pm, 0),
        "held-out accuracy": runs.accuracy.apply(pm, 4),
        "sparsity": runs.sparsity.apply(pm),
    })  # fmt: skip
    return f"Rows per second, mean ± std over repeats\n\n{table(out)}", None


def onnx_size(frame):
    """Model sizes with dense weights, sparse ``Constant`` nodes or sparse
    initializers; onnxruntime's largest error on ``predict_proba``."""
    frame["size_ratio"] = [loss(1 - r, f"{r:.3f}") for r in frame.size_ratio]
    frame.columns = frame.columns.str.replace("_", " ")
    return table(frame.set_index("target sparsity")), None


def sparse_predict(frame, calibration):
    """Speed-up of ``sparse_forward`` over the dense forward pass and the
    bytes stored; the cells of the calibration sweep where the rule chose the
    slower path (best times)."""
    frame["sparsity"] = (1 - frame.density).round(4)

    def paths(g):
        seconds = g.groupby("path").seconds_per_call
        med, best = seconds.median(), seconds.min()
        speedup = med["dense"] / med["sparse"]
        mb = g.groupby("path").stored_bytes.first() / 1e6
        return pd.Series({
            **{f"{p} s": f"{med[p]:.3f} ({best[p]:.3f})" for p in ("dense", "sparse")},
            "speed-up": loss(speedup - 1, f"{speedup:.2f}×"),
            "MB dense, CSR": f"{mb['dense']:.2f}, {mb['sparse']:.2f}",
            "max rel. difference": f"{g.max_rel_error.max():.0e}",
            "prefer_sparse": g.rule.iloc[0],
        })  # fmt: skip

    out = frame.groupby(["threads", "n_rows", "width", "sparsity"]).apply(paths)
    text = f"Seconds per prediction: median (best) of the repeats\n\n{table(out)}"
    if calibration is None:
        return f"{text}\n\nNo calibration results (`--calibrate`).", None
    cell = ["threads", "width", "n_rows", "density", "rule"]
    best = calibration.pivot_table("seconds_per_call", cell, "path", "min")

    def rule(g):
        chosen = g.index.get_level_values("rule") == "sparse"
        speedup = g["dense"] / g["sparse"]
        slower = int((chosen & (speedup < 1)).sum())
        missed = speedup[~chosen & (speedup > 1)]
        return pd.Series({
            "cells": len(g), "faster path chosen": len(g) - slower - len(missed),
            "sent to sparse": int(chosen.sum()),
            "of those slower than dense": loss(-slower, str(slower)),
            "left dense, faster sparse": len(missed),
            "by at most": f"{missed.max():.2f}×" if len(missed) else "",
        })  # fmt: skip

    out = best.groupby("threads").apply(rule)
    return f"{text}\n\nThe rule in the calibration sweep\n\n{table(out)}", None


def path_cv(frame, points, phases):
    """The path against one fit, the CV estimator against GridSearchCV, and
    how near a fresh fit at a reported λ lands."""

    def costs(g):
        fit = g[g.kind == "fit"]
        path = g[g.kind == "path"]
        cv = g[g.kind == "cv"].set_index(["seed", "contestant"]).seconds.unstack()
        one_fit = fit.groupby("seed").seconds.median()
        path_ratio = path.set_index("seed").seconds / one_fit
        epochs_ratio = path.epochs.to_numpy() / fit.epochs.max()
        cv_ratio = cv["ours"] / cv["GridSearchCV"]
        return pd.Series({
            "one fit, s (median of 10)": pm(one_fit, 2),
            "path, s": pm(path.seconds, 2),
            "path ÷ one fit": loss(3 - path_ratio.mean(), pm(path_ratio, 2)),
            "path epochs ÷ max_iter": pm(epochs_ratio, 2),
            "CV (ours), s": pm(cv["ours"], 1),
            "GridSearchCV, s": pm(cv["GridSearchCV"], 1),
            "ours ÷ GridSearchCV": loss(0.35 - cv_ratio.mean(), pm(cv_ratio, 2)),
        })  # fmt: skip

    def choices(g):
        cv = g[g.kind == "cv"].set_index(["seed", "contestant"]).unstack()
        same = cv.chosen["ours"] == cv.chosen["GridSearchCV"]
        within = cv.within_1se_of_grid["ours"].astype(bool)
        return pd.Series({
            "best: ours / GridSearchCV": ", ".join(
                f"{a:g} / {b:g}"
                for a, b in zip(cv.chosen["ours"], cv.chosen["GridSearchCV"])
            ),
            "same level": f"{int(same.sum())}/{len(same)}",
            "ours within 1 s.e. of GridSearchCV's best": loss(
                within.mean() - 1, f"{int(within.sum())}/{len(within)}"
            ),
            "1se: ours / GridSearchCV": ", ".join(
                f"{a:g} / {b:g}"
                for a, b in zip(cv.chosen_1se["ours"], cv.chosen_1se["GridSearchCV"])
            ),
        })  # fmt: skip

    def nearness(g):
        path = g.fresh_at_path_alpha - g.path_sparsity
        fit = g.fresh_at_fit_alpha - g.fit_sparsity
        return pd.Series({
            "path λ: median abs. Δ": f"{path.abs().median():.3f}",
            "path λ: max abs. Δ": f"{path.abs().max():.3f}",
            "path λ: mean Δ": f"{path.mean():+.3f}",
            "target fit's alpha_: median abs. Δ": f"{fit.abs().median():.3f}",
            "target fit's alpha_: max abs. Δ": f"{fit.abs().max():.3f}",
            "target fit's alpha_: mean Δ": f"{fit.mean():+.3f}",
        })  # fmt: skip

    by = frame.groupby("data", sort=False)
    text = (
        "Time (mean ± std over seeds)\n\n" + table(by.apply(costs))
        + "\n\nLevels chosen (one per seed)\n\n" + table(by.apply(choices))
    )  # fmt: skip
    if points is not None:
        reached = points.groupby("data", sort=False).path_reached
        text += "\n\nPath points within sparsity_tol of their level: " + ", ".join(
            f"{data} {int(r.sum())}/{len(r)}" for data, r in reached
        )
        near = {"no refit (ℓ1 phase: whole budget)": points}
        if phases is not None:
            keys = ["data", "seed", "level"]
            same = points.drop(columns=["fresh_at_path_alpha", "fresh_at_fit_alpha"])
            near["refit=True (a target fit's phases)"] = same.merge(phases, on=keys)
        near = pd.concat(
            {k: v.groupby("data", sort=False).apply(nearness) for k, v in near.items()},
            names=["fresh fit", "data"],
        )
        text += (
            "\n\nSparsity of a fresh fit at the λ of a path point, minus the "
            "point's (Δ; all levels and seeds); the same for the alpha_ of a "
            "fresh target fit\n\n" + table(near)
        )
    return text, None


SECTIONS = {  # name: (function, the CSVs it reads; the first is required)
    "speed": (speed, ["speed"]),
    "profile": (profile, ["profile"]),
    "accuracy": (accuracy, ["accuracy"]),
    "robustness": (robustness, ["robustness"]),
    "robustness_paper": (robustness_paper, ["robustness_paper"]),
    "defaults": (defaults, ["defaults"]),
    "streaming": (streaming, ["streaming"]),
    "onnx_size": (onnx_size, ["onnx_size"]),
    "sparse_predict": (sparse_predict, ["sparse_predict", "sparse_predict_calibrate"]),
    "path_cv": (path_cv, ["path_cv", "path_cv_points", "path_cv_phases"]),
}


def write(name, text, fig, stem, pages):
    """``results/<stem>.md`` and ``.png``; the section and its plot in every
    page with its markers (the plot as ``images/<name>.png`` beside it)."""
    (RESULTS / f"{stem}.md").write_text(text + "\n")
    pages = [page for page in pages if write_section(page, name, text)]
    if fig is not None:
        fig.tight_layout()
        fig.savefig(RESULTS / f"{stem}.png", dpi=120)
        for page in pages:
            (Path(page).parent / "images").mkdir(exist_ok=True)
            fig.savefig(Path(page).parent / "images" / f"{name}.png", dpi=120)
        plt.close(fig)
    return pages


def section(name, quick=False):
    """The section ``name`` made from its CSVs, writing nothing: its text,
    its plot (a figure or None) and the stem of its first CSV; None when that
    CSV is missing."""
    make, csvs = SECTIONS[name]
    stems = [csv + "_quick" * quick for csv in csvs]
    paths = [RESULTS / f"{stem}.csv" for stem in stems]
    if not paths[0].exists():
        return None
    frames = [pd.read_csv(path) if path.exists() else None for path in paths]
    text, fig = make(*(None if f is None else f.copy() for f in frames))
    for stem, frame in zip(stems, frames):
        text += "" if frame is None else "\n\n" + footer(stem, frame)
    return text, fig, stems[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--docs", nargs="+", default=[], metavar="PAGE")
    parser.add_argument(
        "--only", nargs="+", choices=list(SECTIONS), metavar="NAME",
        help="make these sections only (default: all)",
    )  # fmt: skip
    args = parser.parse_args()
    docs = Path(__file__).resolve().parent.parent / "docs"
    if args.quick and any(docs in Path(p).resolve().parents for p in args.docs):
        parser.error("--quick results go to scratch copies of the pages only")
    for name, (_, csvs) in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        made = section(name, args.quick)
        if made is None:
            first = csvs[0] + "_quick" * args.quick
            print(f"<!-- {name}: skipped, no results/{first}.csv -->\n")
            continue
        text, fig, stem = made
        pages = write(name, text, fig, stem, args.docs)
        print(f"<!-- {name}{' → ' * bool(pages)}{', '.join(pages)} -->\n{text}\n")


if __name__ == "__main__":
    main()
