"""Compare two ``results.json`` files case by case.

    python benchmarks/run.py --compare OLD.json            # run, then compare with OLD
    python benchmarks/run.py --compare OLD.json NEW.json   # compare two saved runs, no run

For every case present in either file: the headline ratio numba/torch old -> new, and per
framework the median time old -> new with its change in percent (negative = faster now).
The two runs' commits and CPUs head the text: a change between two machines is no change of
the code. Times of different runs on a shared machine differ by noise too; a ratio, measured
within one run, is the steadier figure.
"""

from __future__ import annotations

import json
from pathlib import Path

from .report import SHORT


def load(path: str | Path) -> dict:
    payload = json.loads(Path(path).read_text())
    if "results" not in payload:
        raise ValueError(f"compare.load: {path} is not a benchmarks results.json (no 'results')")
    return payload


def _median(row: dict | None, fw: str) -> float | None:
    if not row:
        return None
    d = row.get("frameworks", {}).get(fw) or {}
    t = d.get("timing")
    if d.get("status") != "ok" or not t or not t.get("n"):
        return None
    return t["median_ms"]


def pct_change(old: float | None, new: float | None) -> float | None:
    """100 * (new - old) / old, None when either is missing or old is not positive."""
    if old is None or new is None or old <= 0:
        return None
    return 100.0 * (new - old) / old


def compare(old: dict, new: dict) -> list[dict]:
    """One dict per case: name, ratio_old, ratio_new, and per framework old/new ms and %."""
    old_rows = {r["name"]: r for r in old["results"]}
    new_rows = {r["name"]: r for r in new["results"]}
    names = list(new_rows) + [n for n in old_rows if n not in new_rows]
    out = []
    for name in names:
        o, n = old_rows.get(name), new_rows.get(name)
        fws = []
        for r in (n, o):
            for fw in (r or {}).get("frameworks", {}):
                if fw not in fws:
                    fws.append(fw)
        per_fw = {}
        for fw in fws:
            mo, mn = _median(o, fw), _median(n, fw)
            per_fw[fw] = {"old_ms": mo, "new_ms": mn, "change_pct": pct_change(mo, mn)}
        out.append({"name": name, "only_in": None if (o and n) else ("old" if o else "new"),
                    "ratio_old": (o or {}).get("ratio_numba_torch"),
                    "ratio_new": (n or {}).get("ratio_numba_torch"), "frameworks": per_fw})
    return out


def _f(x: float | None, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


def _provenance(payload: dict) -> str:
    m = payload.get("machine", {})
    g = (m.get("provenance") or {}).get("git") or {}
    commit = (g.get("commit") or "unknown commit")[:10] + (" dirty" if g.get("dirty") else "")
    return f"{commit}, {m.get('cpu', 'unknown CPU')}, {payload.get('date', 'unknown date')}"


def format_comparison(old: dict, new: dict) -> str:
    rows = compare(old, new)
    lines = [f"old: {_provenance(old)}", f"new: {_provenance(new)}"]
    if old.get("machine", {}).get("cpu") != new.get("machine", {}).get("cpu"):
        lines.append("note: the two runs were on different CPUs")
    lines += ["", "| case | numba/torch old → new | " + " | ".join(
        f"{SHORT.get(fw, fw)} ms old → new (change)" for fw in _all_fws(rows)) + " |",
        "|---|---|" + "---|" * len(_all_fws(rows))]
    for r in rows:
        cells = []
        for fw in _all_fws(rows):
            d = r["frameworks"].get(fw)
            if not d:
                cells.append("—")
                continue
            pct = d["change_pct"]
            cells.append(f"{_f(d['old_ms'], '.3g')} → {_f(d['new_ms'], '.3g')}"
                         + ("" if pct is None else f" ({pct:+.0f} %)"))
        note = f" (only in {r['only_in']})" if r["only_in"] else ""
        lines.append(f"| `{r['name']}`{note} | {_f(r['ratio_old'], '.2f')} → "
                     f"{_f(r['ratio_new'], '.2f')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _all_fws(rows: list[dict]) -> list[str]:
    fws: list[str] = []
    for r in rows:
        for fw in r["frameworks"]:
            if fw not in fws:
                fws.append(fw)
    order = {"torch": 0, "tinymm-numba": 1, "tinymm-numpy": 2}
    return sorted(fws, key=lambda f: (order.get(f, 3), f))
