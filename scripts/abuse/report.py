#!/usr/bin/env python3
"""Prints the markdown report of scripts/bench-abuse.sh from its results directory.

Each run NAME left NAME.good (good.py's line), NAME.rss (rss.py's line), NAME.flood (flood.py's line, absent
for the quiet run), NAME.daemon (how the daemon ended: "alive=yes|no exit=N") and NAME.log (the daemon's
standard error).

Usage: report.py RESULTS_DIR QUIET_NAME NAME=LABEL... (the runs in table order; QUIET_NAME's figures are the
reference of every ratio)
"""
import json
import os
import re
import sys

RSS_TARGET_MIB = 256
P99_TARGET_RATIO = 5

results, quiet_name = sys.argv[1], sys.argv[2]
runs = [argument.split("=", 1) for argument in sys.argv[3:]]


def load(name, suffix):
    path = os.path.join(results, f"{name}.{suffix}")
    try:
        with open(path) as file:
            text = file.read().strip()
    except FileNotFoundError:
        return None
    if suffix in ("good", "rss", "flood"):
        lines = [line for line in text.splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    return text


def number(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def bytes_text(count):
    return f"{count / 1e9:.2f} GB" if count >= 1e9 else f"{count / 1e6:.0f} MB"


def outcomes_text(outcomes, limit=4):
    ordered = sorted(outcomes.items(), key=lambda item: -item[1])
    shown = [f"{key} ×{count:,}" for key, count in ordered[:limit]]
    if len(ordered) > limit:
        shown.append(f"{len(ordered) - limit} other outcomes ×{sum(count for _, count in ordered[limit:]):,}")
    return "; ".join(shown)


def flood_text(flood):
    if flood is None:
        return "flood client left no result (see its stderr)"
    if "error" in flood:
        return f"flood client failed: {flood['error']}"
    kind = flood["kind"]
    parts = []
    if kind.startswith("h1-body"):
        parts.append(f"{flood['connections']} × {bytes_text(flood['body_bytes'])} offered, {bytes_text(flood['bytes_sent'])} sent")
    elif kind == "h2-body":
        parts.append(f"{flood['connections']} × {flood['streams_per_connection']} streams × {bytes_text(flood['body_bytes'])} offered, "
                     f"{bytes_text(flood['bytes_sent'])} sent" + (f", GOAWAY ×{flood['goaway']}" if flood["goaway"] else ""))
    elif kind == "idle":
        probes = ", ".join(f"{outcome} ×{count}" for outcome, count in sorted(flood["probes"].items(), key=lambda item: -item[1]))
        parts.append(f"{flood['opened']:,} of {flood['connections']:,} connections opened in {flood['opened_in_s']} s; "
                     f"fresh connections' GET /healthz meanwhile: {probes}")
    elif kind == "sessions":
        parts.append(f"{flood['initialize_requests']:,} initialize requests")
    elif kind == "authorize":
        parts.append(f"{flood['authorize_requests']:,} authorize requests")
    elif kind == "unread-streams":
        accepted = flood["calls_accepted"]
        parts.append(f"{flood['sse_streams']} /sse + {flood['mcp_get_streams']} GET /mcp streams unread "
                     f"({flood['streams_open_at_end']} still open at the end); accepted (202): "
                     f"{accepted['sandbox_send_message']:,} sends, {accepted['sandbox_read_messages']:,} reads of 100 messages")
    if kind != "idle":
        parts[0] += f" in {flood['elapsed_s']} s"
    if flood.get("answers_between_s"):
        first, last = flood["answers_between_s"]
        parts[0] += f" (answers {first}–{last} s after the start)"
    parts.append(outcomes_text(flood["outcomes"], limit=8 if kind == "idle" else 4))
    return parts[0] + (f"; {parts[1]}" if parts[1] else "")


def log_summary(text):
    """Counts of notice/warning/error/critical lines, and the distinct messages (metadata and numbers folded)."""
    counts = {}
    messages = {}
    for line in (text or "").splitlines():
        match = re.match(r"^\S+ (notice|warning|error|critical) (.*)$", line)
        if not match:
            if line and not re.match(r"^\S+ (trace|debug|info) ", line):
                counts["other"] = counts.get("other", 0) + 1
                messages.setdefault(("other", line[:200]), 0)
                messages[("other", line[:200])] += 1
            continue
        level, rest = match.groups()
        counts[level] = counts.get(level, 0) + 1
        folded = re.sub(r"request\.id=\S+ ?", "", rest)
        folded = re.sub(r"\d+", "N", folded)[:240]
        messages[(level, folded)] = messages.get((level, folded), 0) + 1
    return counts, messages


quiet = load(quiet_name, "good")
quiet_p99 = quiet["p99_ms"] if quiet else None

print("| flood | what the flood got | peak RSS (MiB) | good customer: calls ok | good p99 (ms) | p99 ÷ quiet p99 "
      f"| RSS ≤ {RSS_TARGET_MIB} MiB | all good calls ok | p99 ≤ {P99_TARGET_RATIO}× quiet |")
print("|---|---|---|---|---|---|---|---|---|")
notes = []
for name, label in runs:
    good, rss, daemon = load(name, "good"), load(name, "rss"), load(name, "daemon") or ""
    flood = load(name, "flood") if name != quiet_name else None
    peak = rss["peak_kib"] / 1024 if rss and rss["peak_kib"] else None
    first = rss["first_kib"] / 1024 if rss and rss["first_kib"] else None
    rss_cell = f"{peak:.1f} (idle {first:.1f})" if peak else "—"
    if rss and rss.get("killed_at_ceiling"):
        rss_cell += ", killed at the safety ceiling"
    if good:
        failures = ", ".join(f"{count} × {kind}" for kind, count in sorted(good["failures"].items(), key=lambda item: -item[1]))
        ok_cell = f"{good['ok']}/{good['calls']}" + (f" ({failures})" if failures else "")
        p99 = good["p99_ms"]
        p99_cell = number(p99) if p99 is not None else "—"
        ratio = p99 / quiet_p99 if p99 is not None and quiet_p99 else None
        ratio_cell = f"{ratio:.1f}×" if ratio is not None else "—"
        all_ok = good["ok"] == good["calls"]
    else:
        ok_cell, p99_cell, ratio_cell, ratio, all_ok = "good client left no result", "—", "—", None, False
    rss_met = peak is not None and peak <= RSS_TARGET_MIB and not (rss or {}).get("killed_at_ceiling")
    ratio_met = ratio is not None and ratio <= P99_TARGET_RATIO
    what = "— (no flood: the reference)" if name == quiet_name else flood_text(flood)
    if "alive=no" in daemon:
        what += " **(the daemon died during the run)**"
    yes_no = lambda met: "met" if met else "**not met**"
    ratio_target = "— (reference)" if name == quiet_name else yes_no(ratio_met)
    print(f"| {label} | {what} | {rss_cell} | {ok_cell} | {p99_cell} | {ratio_cell} | {yes_no(rss_met)} | {yes_no(all_ok)} | {ratio_target} |")

    counts, messages = log_summary(load(name, "log"))
    late = good["scheduler_late_ms"] if good else 0
    head = []
    if "alive=no" in daemon or not re.search(r"exit=0\b", daemon):
        head.append(f"daemon: {daemon}")
    if counts:
        head.append("daemon log: " + ", ".join(f"{count:,} {level}" for level, count in sorted(counts.items())))
    if late > 50:
        head.append(f"the good client's own scheduler ran up to {late:.0f} ms late")
    if head:
        top = sorted(messages.items(), key=lambda item: -item[1])[:3]
        notes.append(f"- {label}: " + "; ".join(head) + "".join(f"\n  - {level} ×{count:,}: `{text.strip()}`" for (level, text), count in top))

if notes:
    print()
    print("Daemon exit and log (notice and above) per run:")
    print()
    print("\n".join(notes))
