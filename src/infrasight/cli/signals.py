"""`infrasight signals ...` commands: anomaly scores, modal analysis, forecasts and alarm rules."""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Literal, ParamSpec, TypeVar, cast

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from infrasight.cli.i18n import error_text, say
from infrasight.signals.anomaly import RECOMMENDED_THRESHOLD, AnomalyState, score_online
from infrasight.signals.changepoint import detect_change_points
from infrasight.signals.compensation import fit_compensation
from infrasight.signals.errors import NotEnoughDataError, SignalsError
from infrasight.signals.evaluate import RuleState, evaluate_rule
from infrasight.signals.fdd import fdd
from infrasight.signals.forecast import (
    KINDS,
    TrendModel,
    TrendSelection,
    fit_best_trend,
    fit_trend,
    time_to_limit,
)
from infrasight.signals.lifecycle import (
    Alarm,
    AlarmEvent,
    acknowledge,
    apply_no_data,
    apply_transition,
    check_escalation,
)
from infrasight.signals.modal import ModalResult
from infrasight.signals.readers import GAP_FACTOR, DuplicateRule, load_record, tidy_series
from infrasight.signals.rules import Rule, rules_from_json
from infrasight.signals.ssi import ssi_cov
from infrasight.signals.tables import read_csv_table

app = typer.Typer(
    help="Signal analytics: anomaly scores, modal analysis, forecasts and alarm rules.",
    no_args_is_help=True,
)
rules_app = typer.Typer(
    help="Alarm rules: validate a rules file, evaluate it over a CSV.", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")

console = Console(stderr=True)
out = Console()
P = ParamSpec("P")
R = TypeVar("R")
_CHUNK = 200_000


def _clean_exit(function: Callable[P, R]) -> Callable[P, R]:
    """Bad input -> one-line message on stderr and exit code 2."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except (SignalsError, OSError, UnicodeDecodeError) as err:
            console.print(f"[red]{say('error:')}[/red] {escape(error_text(err))}")
            raise typer.Exit(2) from err

    return wrapper


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(s|min|h|d|w|y)?\s*$")
_UNIT_S = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 365.25 * 86400}


def _duration_s(text: str, what: str) -> float:
    m = _DURATION.match(text)
    if not m:
        raise typer.BadParameter(f"{what}: {text!r} is not a duration like 30d, 12h, 900s")
    return float(m.group(1)) * _UNIT_S[m.group(2) or "s"]


@app.command("score")
@_clean_exit
def score(
    input_csv: Annotated[Path, typer.Argument(help="CSV file with a header row.")],
    time_col: Annotated[str, typer.Option(help="Time column (seconds or ISO-8601).")],
    value_col: Annotated[str, typer.Option(help="Value column to score.")],
    out_csv: Annotated[Path, typer.Option("--out", help="Output CSV (input + anomaly_score).")],
    driver_col: Annotated[
        list[str] | None,
        typer.Option(help="Driver column(s) to compensate first, e.g. temperature (repeatable)."),
    ] = None,
    reference: Annotated[
        float, typer.Option(help="Share of the series (from the start) used to learn drivers.")
    ] = 0.3,
    max_lag: Annotated[str, typer.Option(help="Largest driver lag tried, e.g. 6h.")] = "0s",
    duplicates: Annotated[
        str,
        typer.Option(help="Rows sharing a timestamp: 'mean' of their values or the 'first' row."),
    ] = "mean",
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also draw series and score to this PNG (extra 'plot')."),
    ] = None,
) -> None:
    """Write the input rows with an online `anomaly_score` column in [0, 1] (no look-ahead).

    Rows are taken as loggers write them: sorted by time, rows sharing a timestamp merged by
    --duplicates (every such row gets the merged reading's score), gaps reported. The score
    learns daily and weekly cycles from the reading times; the count of readings at or above
    the recommended alarm threshold is printed.

    With --driver-col the channel's response to the drivers (with lag) is learned on the first
    --reference share of the series and the score is computed on what is left (column
    `compensated`); inside that reference period the model has seen the data it scores. Rows
    before the drivers cover the lag are left uncompensated with score 0 (not enough data).
    """
    if duplicates not in ("mean", "first"):
        raise typer.BadParameter("--duplicates must be 'mean' or 'first'")
    rule = cast(DuplicateRule, duplicates)
    if plot is not None:
        from infrasight.cli.score_plot import require_matplotlib

        require_matplotlib()  # fail before writing anything
    table = read_csv_table(input_csv, time_col=time_col)
    tidy = tidy_series(table.times, table.values(value_col), rule=rule)
    console.print(
        say(
            "{name}: {duplicates} repeated-timestamp rows merged ({rule}), {unsorted} out-of-order "
            "rows sorted, {gaps} gaps > {factor:g}x the median interval (largest {largest:g})",
            name=input_csv.name,
            duplicates=tidy.duplicates,
            rule=tidy.rule,
            unsorted=tidy.unsorted,
            gaps=tidy.gaps,
            factor=GAP_FACTOR,
            largest=tidy.largest_gap,
        )
    )
    t, values = tidy.times, tidy.values
    if not np.any(np.isfinite(values)):
        raise NotEnoughDataError(f"{input_csv.name}:{value_col}: no finite reading")
    header = [*table.header, "anomaly_score"]
    extra: list[np.ndarray] = []
    usable = np.ones(values.size, dtype=bool)
    if driver_col:
        if not 0 < reference <= 1:
            raise typer.BadParameter("--reference must be in (0, 1]")
        drivers = {}
        for name in driver_col:
            d = tidy_series(table.times, table.values(name), rule=rule).values
            ok = np.isfinite(d)
            drivers[name] = (t[ok], d[ok])
        t_ref = t[0] + reference * (t[-1] - t[0])
        model = fit_compensation(
            t, values, drivers, reference=(t[0], t_ref), max_lag_s=_duration_s(max_lag, "--max-lag")
        )
        pred = model.predict(t, drivers)
        usable = np.isfinite(pred)  # drivers must cover the lagged time
        values = values - pred
        extra.append(values)
        header.append("compensated")
        terms = ", ".join(
            f"{b:+.4g}/{n} (lag {lag / 3600:.3g} h)"
            for n, b, lag in zip(model.drivers, model.coefficients, model.lags_s, strict=True)
        )
        console.print(
            say(
                "compensation on {count} readings: {terms}, R2 {r2}",
                count=model.n_reference,
                terms=terms,
                r2=f"{model.r2:.3f}",
            )
        )
    scores = np.zeros(values.size)  # rows without driver coverage: 0 (not enough data)
    todo = values[usable]
    t_todo = t[usable]
    part = np.empty(todo.size)
    state: AnomalyState | None = None
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(say("scoring"), total=todo.size)
        for start in range(0, todo.size, _CHUNK):
            chunk = todo[start : start + _CHUNK]
            s, state = score_online(chunk, state, times=t_todo[start : start + _CHUNK])
            part[start : start + chunk.size] = s
            progress.advance(task, chunk.size)
    scores[usable] = part
    rows_idx = tidy.row_index
    with out_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row, k in zip(table.rows, rows_idx, strict=True):
            cells = [f"{e[k]:.6g}" if np.isfinite(e[k]) else "" for e in extra]
            w.writerow([*row, f"{scores[k]:.6f}", *cells])
    n_hi = int(np.sum(scores >= RECOMMENDED_THRESHOLD))
    console.print(
        say(
            "scored {count} readings ({rows} rows), {high} with score >= {threshold} "
            "(recommended threshold) -> {out}",
            count=values.size,
            rows=len(table.rows),
            high=n_hi,
            threshold=RECOMMENDED_THRESHOLD,
            out=out_csv,
        )
    )
    if plot is not None:
        from infrasight.cli.score_plot import plot_scores

        plot_scores(plot, t, tidy.values, scores, title=f"{input_csv.name}: {value_col}")
        console.print(say("plot -> {path}", path=plot))


def _modal_table(res: ModalResult) -> Table:
    t = Table(title=f"{res.method}: {len(res.modes)} modes")
    cols = ("#", "frequency [Hz]", "95 % interval", "damping [%]", "95 % interval", "poles")
    for col in (*cols, "blocks", "MPC", "mode shape"):
        t.add_column(col)
    for i, m in enumerate(res.modes, start=1):
        z = "-" if math.isnan(m.damping_ratio) else f"{100 * m.damping_ratio:.2f}"
        fi = "-" if m.frequency_ci_hz is None else "{:.3f} - {:.3f}".format(*m.frequency_ci_hz)
        zi = (
            "-"
            if m.damping_ci is None
            else "{:.2f} - {:.2f}".format(*(100 * np.array(m.damping_ci)))
        )
        shape = " ".join(f"{x:+.2f}" for x in m.mode_shape)
        t.add_row(
            str(i),
            f"{m.frequency_hz:.3f}",
            fi,
            z,
            zi,
            str(m.n_poles),
            str(m.n_blocks),
            f"{m.mpc:.2f}",
            shape,
        )
    return t


@app.command("modal")
@_clean_exit
def modal(
    file: Annotated[Path, typer.Argument(help="Record: .csv, .npy or .mat (samples x channels).")],
    fs: Annotated[float | None, typer.Option(help="Sampling rate in Hz.")] = None,
    var: Annotated[str | None, typer.Option(help="Variable of a .mat file.")] = None,
    method: Annotated[str, typer.Option(help="ssi (SSI-COV) or fdd.")] = "ssi",
    max_order: Annotated[int, typer.Option(help="Largest SSI model order.")] = 120,
    blocks: Annotated[
        int, typer.Option(help="SSI: blocks for the 95 % intervals and spurious-mode check.")
    ] = 4,
    plot: Annotated[
        Path | None, typer.Option(help="Write the stabilisation diagram to this PNG (extra plot).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Operational modal analysis of an ambient vibration record."""
    if method not in ("ssi", "fdd"):
        raise typer.BadParameter("--method must be ssi or fdd")
    if blocks < 0:
        raise typer.BadParameter("--blocks must be >= 0")
    rec = load_record(file, fs=fs, var=var)
    if method == "ssi":
        res = ssi_cov(rec.data, rec.fs, max_order=max_order, n_blocks=blocks)
    else:
        res = fdd(rec.data, rec.fs)
    if plot is not None:
        from infrasight.cli.signal_plots import stabilisation_diagram

        stabilisation_diagram(res, plot, title=f"{file.name}: {len(res.modes)} modes ({method})")
        console.print(say("stabilisation diagram -> {path}", path=plot))
    if as_json:
        doc = res.to_dict()
        doc["source"] = rec.source
        doc["channels"] = list(rec.channels)
        typer.echo(json.dumps(doc, indent=2))
    else:
        out.print(_modal_table(res))


@app.command("forecast")
@_clean_exit
def forecast(
    input_csv: Annotated[Path, typer.Argument(help="CSV file with a header row.")],
    time_col: Annotated[str, typer.Option(help="Time column (seconds or ISO-8601).")],
    value_col: Annotated[str, typer.Option(help="Value column.")],
    model: Annotated[
        str,
        typer.Option(
            help="auto (weigh constant, linear, quadratic, exponential, saturating, onset), "
            "or one of them, or seasonal (needs --period)."
        ),
    ] = "auto",
    period: Annotated[str | None, typer.Option(help="Season length, e.g. 1d or 1y.")] = None,
    horizon: Annotated[str, typer.Option(help="Look-ahead, e.g. 30d.")] = "30d",
    limit: Annotated[float | None, typer.Option(help="Limit for time-to-limit.")] = None,
    level: Annotated[float, typer.Option(help="Prediction-interval level.")] = 0.95,
    steps: Annotated[int, typer.Option(help="Forecast rows written with --out.")] = 50,
    out_csv: Annotated[Path | None, typer.Option("--out", help="Write the forecast.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a chart of data, fit and interval (extra plot).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Fit a trend with prediction intervals; time until a limit is crossed, with probability."""
    if model != "auto" and model not in KINDS:
        raise typer.BadParameter(f"--model must be auto or one of {', '.join(KINDS)}")
    if model == "seasonal" and period is None:
        raise typer.BadParameter("--period is required for --model seasonal (e.g. 1d or 1y)")
    if not 0 < level < 1:
        raise typer.BadParameter("--level must be in (0, 1)")
    if steps < 1:
        raise typer.BadParameter("--steps must be >= 1")
    table = read_csv_table(input_csv, time_col=time_col)
    y = table.values(value_col)
    period_s = _duration_s(period, "--period") if period else None
    h = _duration_s(horizon, "--horizon")
    tm: TrendModel | TrendSelection
    if model == "auto":
        tm = fit_best_trend(table.times, y, horizon_s=h)
        weights = {m.kind: float(w) for m, w in zip(tm.models, tm.weights, strict=True)}
        factor = tm.interval_factor
    else:
        kind = cast(
            Literal[
                "constant", "linear", "quadratic", "exponential", "saturating", "onset", "seasonal"
            ],
            model,
        )
        tm = fit_trend(table.times, y, kind=kind, period_s=period_s)
        weights, factor = {tm.kind: 1.0}, 1.0
    tt = tm.t0 + np.linspace(h / steps, h, steps)
    fc = tm.predict(tt, level=level)
    doc: dict[str, Any] = {
        "model": model,
        "selected_model": tm.kind,
        "weights": weights,
        "interval_factor": factor,
        "n": tm.n,
        "slope_per_day": tm.slope_per_s * 86400.0,
        "residual_scale": tm.residual_scale,
        "last_time": tm.t0,
        "horizon_s": h,
        "at_horizon": {
            "mean": float(fc.mean[-1]),
            "median": float(fc.median[-1]),
            "lower": float(fc.lower[-1]),
            "upper": float(fc.upper[-1]),
            "level": level,
        },
    }
    if limit is not None:
        ttl = time_to_limit(tm, limit, horizon_s=h, level=level)
        doc["time_to_limit"] = {
            "limit": limit,
            "eta_days": None if ttl.eta_s is None else ttl.eta_s / 86400.0,
            "eta_early_days": None if ttl.eta_early_s is None else ttl.eta_early_s / 86400.0,
            "eta_late_days": None if ttl.eta_late_s is None else ttl.eta_late_s / 86400.0,
            "probability_by_horizon": ttl.probability,
        }
    if plot is not None:
        from infrasight.cli.signal_plots import forecast_chart

        ok = np.isfinite(y)
        t_fit = np.linspace(float(table.times[ok][0]), tm.t0, 300)
        forecast_chart(
            table.times[ok],
            y[ok],
            tm.predict(t_fit, level=level),
            tm.predict(tm.t0 + np.linspace(0.0, h, steps + 1), level=level),
            plot,
            limit=limit,
            title=f"{value_col}: {tm.kind} trend ({model}), {100 * level:.0f} % interval",
        )
        console.print(say("forecast chart -> {path}", path=plot))
    if out_csv is not None:
        with out_csv.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["time_s", "mean", "median", "lower", "upper"])
            for row in zip(fc.times, fc.mean, fc.median, fc.lower, fc.upper, strict=True):
                w.writerow([f"{x:.6g}" for x in row])
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    chosen = ", ".join(f"{k} {w:.2f}" for k, w in weights.items() if w >= 0.005)
    out.print(
        say(
            "{kind} trend on {count} readings (weights: {weights}): slope {slope} per day now "
            "(residual sd {sd}, interval factor {factor})",
            kind=tm.kind,
            count=tm.n,
            weights=chosen,
            slope=f"{doc['slope_per_day']:.4g}",
            sd=f"{tm.residual_scale:.3g}",
            factor=f"{factor:g}",
        )
    )
    a = doc["at_horizon"]
    out.print(
        say(
            "in {horizon}: {mean} [{lower}, {upper}] ({level} % interval)",
            horizon=horizon,
            mean=f"{a['mean']:.4g}",
            lower=f"{a['lower']:.4g}",
            upper=f"{a['upper']:.4g}",
            level=f"{100 * level:.0f}",
        )
    )
    if "time_to_limit" in doc:
        d = doc["time_to_limit"]
        eta = (
            say("not within the horizon")
            if d["eta_days"] is None
            else say("{days} days", days=f"{d['eta_days']:.1f}")
        )
        out.print(
            say(
                "limit {limit}: expected crossing {eta}; probability beyond it in {horizon}: "
                "{probability}",
                limit=f"{limit:g}",
                eta=eta,
                horizon=horizon,
                probability=f"{d['probability_by_horizon']:.3f}",
            )
        )


def _fmt_time(t: float) -> str:
    """Seconds as ISO-8601 (UTC) when they look like a Unix time, else as a number."""
    from datetime import UTC, datetime

    if 1e8 < t < 1e10:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
    return f"{t:.6g}"


@app.command("changepoints")
@_clean_exit
def changepoints(
    input_csv: Annotated[Path, typer.Argument(help="CSV file with a header row.")],
    time_col: Annotated[str, typer.Option(help="Time column (seconds or ISO-8601).")],
    value_col: Annotated[str, typer.Option(help="Value column.")],
    model: Annotated[str, typer.Option(help="mean or meanvar.")] = "mean",
    penalty: Annotated[float | None, typer.Option(help="Penalty (default 3 log n).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Offline change points (PELT) of one channel."""
    if model not in ("mean", "meanvar"):
        raise typer.BadParameter("--model must be mean or meanvar")
    table = read_csv_table(input_csv, time_col=time_col)
    res = detect_change_points(
        table.values(value_col),
        times=table.times,
        model=cast(Literal["mean", "meanvar"], model),
        penalty=penalty,
    )
    doc = {
        "change_times": res.times.tolist(),
        "row_indices": res.indices.tolist(),
        "shifts": res.shifts.tolist(),
        "segment_means": res.segment_means.tolist(),
        "segment_stds": res.segment_stds.tolist(),
    }
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    out.print(say("{count} change point(s)", count=res.indices.size))
    for t, i, s in zip(res.times, res.indices, res.shifts, strict=True):
        out.print(
            "  "
            + say(
                "row {row} (time {time}): mean shift {shift}",
                row=int(i) + 1,
                time=_fmt_time(float(t)),
                shift=f"{s:+.4g}",
            )
        )


@rules_app.command("validate")
@_clean_exit
def rules_validate(
    rules_json: Annotated[Path, typer.Argument(help="Rules JSON file.")],
) -> None:
    """Check a rules file; print each rule and its levels."""
    rules = rules_from_json(rules_json.read_text(encoding="utf-8"))
    for r in rules:
        lv = ", ".join(f"{x.name}({x.severity})" for x in r.levels)
        out.print(
            say(
                "{id}: channels {channels} [{combine}] levels {levels}",
                id=r.id,
                channels=", ".join(r.channels),
                combine=r.combine,
                levels=lv,
            )
        )
    out.print(say("{count} rule(s) valid", count=len(rules)))


def _event_doc(e: AlarmEvent) -> dict[str, Any]:
    return {
        "alarm": e.key,
        "kind": e.kind,
        "time": e.time,
        "actor": e.actor,
        "status": e.to_status.value,
        "level": e.level_name,
        "severity": e.severity,
        "note": e.note,
    }


@rules_app.command("evaluate")
@_clean_exit
def rules_evaluate(
    rules_json: Annotated[Path, typer.Argument(help="Rules JSON file.")],
    input_csv: Annotated[Path, typer.Argument(help="Wide CSV: time column + one per channel.")],
    time_col: Annotated[str, typer.Option(help="Time column (seconds or ISO-8601).")],
    state_in: Annotated[Path | None, typer.Option("--state", help="Previous state JSON.")] = None,
    state_out: Annotated[Path | None, typer.Option(help="Write the new state JSON.")] = None,
    escalate_after: Annotated[
        str | None, typer.Option(help="Escalate alarms unacknowledged this long, e.g. 2h.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Evaluate rules over a CSV; print alarm lifecycle events (raised, cleared, no data...)."""
    esc_s = _duration_s(escalate_after, "--escalate-after") if escalate_after else None
    rules: tuple[Rule, ...] = rules_from_json(rules_json.read_text(encoding="utf-8"))
    table = read_csv_table(input_csv, time_col=time_col)
    prev: dict[str, Any] = {}
    if state_in is not None:
        try:
            prev = json.loads(state_in.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise SignalsError(f"{state_in}: not valid JSON ({err})") from err
    events: list[dict[str, Any]] = []
    new_state: dict[str, Any] = {"rules": {}, "alarms": {}}
    alarms: dict[str, Alarm | None] = {
        k: Alarm.from_dict(v) for k, v in prev.get("alarms", {}).items()
    }
    for rule in rules:
        batch = {}
        for ch in rule.channels:
            v = table.values(ch)
            ok = np.isfinite(v)
            batch[ch] = (table.times[ok], v[ok])
        st = prev.get("rules", {}).get(rule.id)
        res = evaluate_rule(rule, batch, RuleState.from_dict(st) if st else None)
        stream: list[tuple[float, int, Any]] = [(t.time, 0, t) for t in res.transitions]
        stream += [(e.time, 1, e) for e in res.no_data]
        for _, kind, item in sorted(stream, key=lambda x: (x[0], x[1])):
            if kind == 0:
                key = rule.id
                alarms[key], evs = apply_transition(alarms.get(key), item)
            else:
                key = f"{rule.id}/{item.channel}/no_data"
                alarms[key], evs = apply_no_data(alarms.get(key), item)
            events += [_event_doc(e) for e in evs]
        new_state["rules"][rule.id] = res.state.to_dict()
    if esc_s is not None and table.times.size:
        now = float(table.times[-1])
        for key, al in list(alarms.items()):
            if al is not None:
                alarms[key], evs = check_escalation(al, now=now, escalate_after_s=esc_s)
                events += [_event_doc(e) for e in evs]
    new_state["alarms"] = {k: a.to_dict() for k, a in alarms.items() if a is not None}
    if state_out is not None:
        state_out.write_text(json.dumps(new_state), encoding="utf-8")
    events.sort(key=lambda e: e["time"])
    if as_json:
        typer.echo(json.dumps({"events": events, "alarms": new_state["alarms"]}, indent=2))
        return
    t = Table(title=f"{len(events)} alarm event(s)")
    for col in ("time", "alarm", "event", "level", "status", "note"):
        t.add_column(col)
    for e in events:
        t.add_row(f"{e['time']:.6g}", e["alarm"], e["kind"], e["level"], e["status"], e["note"])
    out.print(t)


@rules_app.command("ack")
@_clean_exit
def rules_ack(
    state_file: Annotated[Path, typer.Argument(help="State JSON written by `rules evaluate`.")],
    alarm_key: Annotated[str, typer.Argument(help="Alarm key, e.g. the rule id.")],
    by: Annotated[str, typer.Option(help="Who acknowledges.")],
    time_s: Annotated[float | None, typer.Option("--time", help="Time (s); default: now.")] = None,
    note: Annotated[str, typer.Option(help="Free text.")] = "",
) -> None:
    """Acknowledge an active alarm in a state file; print the event as JSON."""
    import time as _time

    try:
        doc = json.loads(state_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SignalsError(f"{state_file}: not valid JSON ({err})") from err
    raw = doc.get("alarms", {}).get(alarm_key)
    if raw is None:
        known = sorted(doc.get("alarms", {}))
        raise SignalsError(f"no alarm {alarm_key!r} in {state_file} (alarms: {known})")
    when = _time.time() if time_s is None else time_s
    alarm, event = acknowledge(Alarm.from_dict(raw), actor=by, time=when, note=note)
    doc["alarms"][alarm_key] = alarm.to_dict()
    state_file.write_text(json.dumps(doc), encoding="utf-8")
    typer.echo(json.dumps(_event_doc(event)))
