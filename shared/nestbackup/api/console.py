"""The console page: the Backup and Restoration view of a service instance (or of every instance the token may see),
served at GET /api/console.

One static page with no external asset (it works with no Internet): it asks for a bearer token (kept in this tab's
sessionStorage) and calls the API with it. Running work is pinned at the top with its progress; every other record is
one line with its cause inline, opened for its resources, summary and timeline; a restore still within its undo window
has Undo (POST /api/restores/{id}/undo, asked first with what changed since). Every value it shows is inserted as
text, never as HTML. Which colour a status gets comes from the status tables (model/status.py), and which restore
phases may still be cancelled from the cancel operation, so the page cannot drift from them.
"""
from __future__ import annotations

import json

from ..model.status import (
    BACKUP_RULES,
    EXIT_FAILED,
    EXIT_WITH_ISSUES,
    ITEM_RULES,
    RESTORE_RULES,
    BackupStatus,
    ItemStatus,
    RestoreStatus,
)
from ..operations.cancel import CANCELLABLE_PHASES
from .console_script import SCRIPT

_OK = {BackupStatus.CREATED, RestoreStatus.RESTORED, ItemStatus.SUCCEEDED}


def tones() -> dict[str, dict[str, str]]:
    """The colour of each status: run (not final), bad (a failure: red), warn (completed with issues), ok, or
    neutral (skipped, not started, cancelled, rolled back, deleted: nothing went wrong). An item's `bad` is red only
    on the resource that caused its record's end; the page shows other failed resources as `warn`."""
    record: dict[str, str] = {}
    for rules in (BACKUP_RULES, RESTORE_RULES):
        for status, rule in rules.items():
            record[str(status)] = ("run" if not rule.final else "ok" if status in _OK else
                                   "bad" if rule.exit_code == EXIT_FAILED else
                                   "warn" if rule.exit_code == EXIT_WITH_ISSUES else "neutral")
    item = {str(status): ("run" if not rule.final else "bad" if rule.failure else "ok" if status in _OK else "neutral")
            for status, rule in ITEM_RULES.items()}
    return {"record": record, "item": item}


STYLE = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;padding:12px 16px 40px;color:#1f2328;max-width:1100px}
h1{font-size:20px;margin:4px 0 12px} h2{font-size:16px;margin:22px 0 8px}
.bar{display:flex;flex-wrap:wrap;gap:8px}
input{font:inherit;padding:6px 8px;min-height:40px;flex:1 1 200px;min-width:0;border:1px solid #8c959f;border-radius:6px}
button{font:inherit;min-height:40px;min-width:40px;padding:4px 14px;cursor:pointer;border:1px solid #8c959f;
 border-radius:6px;background:#f6f8fa;color:#1f2328}
button:disabled{cursor:not-allowed;color:#8c959f} button.primary{background:#1f6feb;border-color:#1f6feb;color:#fff}
button.primary:disabled{background:#8c959f;border-color:#8c959f;color:#fff}
#warn{background:#f6f8fa;border-left:4px solid #8c959f;padding:8px 10px;margin:12px 0;font-size:13px}
#error{color:#cf222e;margin:8px 0;overflow-wrap:anywhere} #error:empty{display:none}
.record{border:1px solid #d0d7de;border-radius:8px;margin:6px 0;padding:4px 8px}
.line{display:flex;flex-wrap:wrap;align-items:center;gap:2px 10px;min-height:44px}
.toggle{border:none;background:none;padding:0;font-size:16px}
.id{font-family:ui-monospace,monospace;font-size:13px;overflow-wrap:anywhere}
.meta{color:#57606a;font-size:13px} .line .meta{flex:1 1 240px;min-width:0} .actions{margin-left:auto;display:flex;gap:6px;flex-wrap:wrap}
.note,.cause{display:block;overflow-wrap:anywhere;user-select:text;font-size:13px}
.record > .note,.record > .cause{padding:0 0 6px 50px}
.note{color:#57606a} .cause b{font-weight:600}
.badge{display:inline-block;border-radius:12px;padding:1px 10px;font-size:13px;font-weight:600;border:1px solid}
.badge.ok{color:#1a7f37;border-color:#1a7f37} .badge.run{color:#0969da;border-color:#0969da}
.badge.warn{color:#9a6700;border-color:#9a6700} .badge.neutral{color:#57606a;border-color:#8c959f}
.badge.bad{color:#cf222e;border-color:#cf222e} .cause.bad{color:#cf222e}
.detail{border-top:1px solid #d0d7de;margin-top:4px;padding:6px 0 4px;font-size:13px}
.detail p{margin:4px 0;overflow-wrap:anywhere}
.item{padding:3px 0 3px 8px;border-left:3px solid #d0d7de;margin:3px 0;overflow-wrap:anywhere}
.item.ok{border-color:#1a7f37} .item.run{border-color:#0969da} .item.warn{border-color:#9a6700}
.item.bad{border-color:#cf222e;color:#cf222e} .item .status{font-weight:600}
.progress{height:8px;background:#d0d7de;border-radius:4px;overflow:hidden;flex:1 1 160px;min-width:80px}
.progress div{height:100%;background:#0969da} .pct{font-size:13px;min-width:3em}
.running .record{border-color:#0969da;background:#f6faff}
.summary{background:#f6f8fa;border-radius:6px;padding:6px 8px;margin:6px 0}
.cmdline{display:flex;gap:6px;align-items:center;margin:2px 0}
code.cmd{flex:1;min-width:0;white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;border:1px solid #d0d7de;
 border-radius:4px;padding:4px 6px;user-select:all}
.empty{color:#57606a;padding:12px;border:1px dashed #d0d7de;border-radius:8px}
ol.events{margin:6px 0 0;padding-left:20px;color:#57606a;overflow-wrap:anywhere}
dialog{max-width:min(520px,calc(100vw - 24px));border:1px solid #8c959f;border-radius:8px}
dialog p{overflow-wrap:anywhere} dialog .bar{justify-content:flex-end}
#overview:empty{display:none}
@media (max-width:600px){body{padding:8px 10px 32px} .record > .note,.record > .cause{padding-left:0} button,input{min-height:44px} .toggle{min-width:44px}
 .actions{margin-left:0;width:100%} .actions button{flex:1 1 auto}}
"""

BODY = """
<h1>Backup and Restoration</h1>
<form class="bar" id="login" onsubmit="return false">
 <input id="token" type="password" placeholder="bearer token" autocomplete="off" aria-label="bearer token">
 <input id="instance" placeholder="service instance id (empty: all you may see)" aria-label="service instance id">
 <button id="load" type="submit">Load</button>
 <button id="create" type="button" class="primary" disabled title="needs a service instance id">Create Backup</button>
</form>
<div id="warn">During a backup or a restore, do not operate on the instance or change its data. A restore stops the
 service instance; a safety backup is taken right before it.</div>
<div id="error" role="alert"></div>
<p id="overview" class="meta" aria-live="polite"></p>
<section id="running-section" class="running" hidden><h2>Running now</h2><div id="running"></div></section>
<section><h2>Backups</h2><div id="backups"><p class="empty">Enter your token and a service instance id (or leave
 the id empty to see every instance your token may see), then Load.</p></div>
 <button id="more-backups" hidden>Show older backups</button></section>
<section><h2>Restores</h2><div id="restores"></div><button id="more-restores" hidden>Show older restores</button>
</section>
<dialog id="confirm"><p><b id="confirm-title"></b></p><p id="confirm-text"></p>
 <div class="bar"><button id="confirm-no" type="button">Keep it</button>
 <button id="confirm-yes" type="button" class="primary"></button></div></dialog>
"""


def page() -> str:
    script = (SCRIPT.replace("__TONES__", json.dumps(tones()))
              .replace("__CANCELLABLE__", json.dumps([str(p) for p in CANCELLABLE_PHASES]))
              .replace("__BACKUP__", json.dumps({s.name: str(s) for s in BackupStatus}))
              .replace("__RESTORE__", json.dumps({s.name: str(s) for s in RestoreStatus})))
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>nestbackup · Backup and Restoration</title>\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<style>{STYLE}</style></head>\n<body>{BODY}<script>{script}</script></body></html>\n")


PAGE = page()
