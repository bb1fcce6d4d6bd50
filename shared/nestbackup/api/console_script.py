"""The console page's script. console.py assembles the page and fills __TONES__, __CANCELLABLE__, __BACKUP__ and
__RESTORE__ from the status tables and the cancel operation, so the script compares no status of its own making.
Vanilla JavaScript, no library; every value goes in as text (textContent), never as HTML."""

SCRIPT = r"""
const TONES = __TONES__, CANCELLABLE = __CANCELLABLE__, B = __BACKUP__, R = __RESTORE__;   // B.CREATING: "Creating"
const $ = (id) => document.getElementById(id);
const KINDS = ["backups", "restores"];
const state = {loaded: false, answered: false, pages: {backups: [], restores: []}, older: {backups: [], restores: []},
               next: {backups: null, restores: null}, open: new Set(), events: {}, asked: null};
let timer = null, signature = "", renderedAt = 0;
$("token").value = sessionStorage.getItem("nestbackup-token") || "";
$("instance").value = sessionStorage.getItem("nestbackup-instance") || "";

function el(tag, cls, text) {
  const e = document.createElement(tag); if (cls) e.className = cls;
  if (text != null) e.textContent = String(text); return e;
}
function button(label, cls, onclick) {
  const b = el("button", cls, label); b.type = "button"; b.onclick = onclick; return b;
}
function idOf(r) { return r.RestoreId || r.BackupId; }
function running(r) { return TONES.record[r.Status] === "run"; }
function seconds(a, b) { return a && b ? (Date.parse(b) - Date.parse(a)) / 1000 : null; }
function duration(s) {          // 2.1 s, 14 s, 3 min 5 s, 2 h 10 min, 3 d 4 h
  if (s == null || isNaN(s)) return ""; s = Math.max(0, s);
  if (s < 0.95) return "< 1 s";
  if (s < 10) return (Math.round(s * 10) / 10) + " s";
  if (s < 60) return Math.round(s) + " s";
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  if (m < 60) return m + " min" + (Math.round(s % 60) ? " " + Math.round(s % 60) + " s" : "");
  if (h < 48) return h + " h" + (m % 60 ? " " + (m % 60) + " min" : "");
  return Math.floor(h / 24) + " d" + (h % 24 ? " " + (h % 24) + " h" : "");
}
function coarse(s) {            // one unit: 12 s, 5 min, 3 h, 2 d
  s = Math.abs(s); return s < 60 ? Math.round(s) + " s" : s < 3600 ? Math.round(s / 60) + " min"
    : s < 172800 ? Math.round(s / 3600) + " h" : Math.round(s / 86400) + " d";
}
function ago(iso) {
  if (!iso) return ""; const s = (Date.now() - Date.parse(iso)) / 1000;
  return s < 5 ? "just now" : coarse(s) + " ago";
}
function ahead(iso) { const s = (Date.parse(iso) - Date.now()) / 1000; return s <= 0 ? "passed" : "in " + coarse(s); }
function utc(iso) { return iso ? iso.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC") : ""; }
function time(iso, text) { const t = el("time", null, text); t.dateTime = iso; t.title = utc(iso); return t; }

async function api(method, path, body) {
  const response = await fetch("/api" + path, {method, headers: {"Authorization": "Bearer " + $("token").value,
    "Content-Type": "application/json"}, body: body ? JSON.stringify(body) : undefined});
  let data = {};
  try { data = await response.json(); } catch (e) { data = {Message: response.statusText}; }
  if (!response.ok) throw new Error((data.Code || response.status) + ": " + (data.Message || "")
                                   + (data.RequestId ? " (request " + data.RequestId + ")" : ""));
  return data;
}
function fail(e) { $("error").textContent = e.message; }

function ask(title, text, yes, action) {        // every destructive action is asked first
  $("confirm-title").textContent = title; $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yes; state.asked = action; $("confirm").showModal();
}
$("confirm-no").onclick = () => { state.asked = null; $("confirm").close(); };
$("confirm-yes").onclick = async () => {
  const action = state.asked; state.asked = null; $("confirm").close();
  if (!action) return;
  try { await action(); $("error").textContent = ""; } catch (e) { fail(e); }
  refresh(true);
};

function progressOf(r) {        // the mean of the resources' progress; a final resource counts as done
  const items = r.Resources || [];
  if (!items.length) return 0;
  return Math.round(items.reduce((sum, i) => sum + (TONES.item[i.Status] === "run" ? (i.Progress || 0) : 100), 0)
                    / items.length);
}
function causeText(c) {
  return [c.ResourceId, c.Code].filter(Boolean).join(" ") + (c.ResourceId || c.Code ? ": " : "") + (c.Message || "");
}
function summaryShort(s) {
  const parts = [], checks = s.Checks || {};
  const counts = " (" + (checks.Passed || 0) + " passed, " + (checks.Failed || 0) + " failed, "
                 + (checks.NotChecked || 0) + " not checked)";
  parts.push((s.Verified === true ? "verified" : s.Verified === false ? "NOT verified"
              : "not verified: nothing could be checked") + counts);
  if (s.SafetyBackupId) parts.push("safety backup " + s.SafetyBackupId);
  if ((s.KeptAside || []).length) parts.push(s.KeptAside.length + " live database(s) kept aside");
  if (s.DowntimeSeconds != null) parts.push("instances stopped " + duration(s.DowntimeSeconds));
  return parts.join(" · ");
}
function undoable(r) {          // a final restore whose undo window (POST /restores/{id}/undo) is still open
  return !running(r) && !!r.UndoableUntil && Date.parse(r.UndoableUntil) > Date.now();
}
function recordTone(r) { return r.Status === B.DELETE_FAILED && r.AwaitingExpiry ? "warn" : TONES.record[r.Status]; }

function note(r) {              // what the collapsed line says after the status: the cause, in full, first
  if (r.Cause) {
    const span = el("span", "cause bad"); span.append(el("b", null, causeText(r.Cause)));
    const rest = (r.StatusDetail || "").startsWith(causeText(r.Cause)) ? r.StatusDetail.slice(causeText(r.Cause).length)
                                                                        : "";
    if (rest) span.append(el("span", "note", rest));
    return span;
  }
  if (r.Summary && r.Status === R.RESTORED) return el("span", "note", summaryShort(r.Summary));
  if (r.StatusDetail && TONES.record[r.Status] !== "ok") return el("span", "note", r.StatusDetail);
  return null;
}
function meta(r, kind) {
  const span = el("span", "meta");
  span.append(time(r.StartTime, ago(r.StartTime)));
  const took = r.EndTime ? "took " + duration(seconds(r.StartTime, r.EndTime))
                         : "running for " + duration((Date.now() - Date.parse(r.StartTime)) / 1000);
  const parts = [took];
  if (!$("instance").value.trim()) parts.push(r.ServiceInstanceId);
  if (kind === "backups") {
    parts.push((r.Resources || []).length + " resources");
    if (r.Origin && r.Origin !== "user") parts.push(r.Origin);
    if (r.Scope === "partial") parts.push("partial");
    if (r.Restorable) parts.push(r.RestorableUntil ? "restorable until " + utc(r.RestorableUntil) + " ("
                                                     + ahead(r.RestorableUntil) + ")" : "restorable, no expiry");
  } else {
    parts.push(r.Undoes ? "undo of " + r.Undoes : r.BackupId ? "from " + r.BackupId : "to " + utc(r.RestoreTime));
    if (undoable(r)) parts.push("undoable until " + utc(r.UndoableUntil) + " (" + ahead(r.UndoableUntil) + ")");
  }
  span.append(" · " + parts.join(" · "));
  return span;
}
function itemsOf(r) {           // the resource that caused the end first
  const cause = r.Cause && r.Cause.ResourceId;
  return (r.Resources || []).slice().sort((a, b) => (b.ResourceId === cause) - (a.ResourceId === cause));
}
function itemDiv(r, i) {
  let tone = TONES.item[i.Status];
  if (tone === "bad" && !(r.Cause && r.Cause.ResourceId === i.ResourceId)) tone = "warn";   // red: the cause only
  const div = el("div", "item " + tone); div.dataset.resource = i.ResourceId;
  div.append(el("span", null, (i.ResourceType || "") + " " + i.ResourceId + (i.Engine ? " (" + i.Engine + ")" : "")
                + " · "), el("span", "status", i.Status));
  const parts = [];
  if (TONES.item[i.Status] === "run") parts.push((i.Progress || 0) + "%");
  if (i.ArtifactId || i.SourceArtifactId) parts.push(i.ArtifactId || i.SourceArtifactId);
  if (i.ErrorCode || i.ErrorMessage) parts.push([i.ErrorCode, i.ErrorMessage].filter(Boolean).join(": "));
  if (i.WaitReason && TONES.item[i.Status] === "run")
    parts.push("waiting: " + i.WaitReason + (i.WaitDeadline ? " (gives up " + ahead(i.WaitDeadline) + ")" : ""));
  if (i.RestoredTo) parts.push(i.RestoredTo === "consistent-moment"
    ? "to " + utc(i.RestoreTime) + " (consistent moment)"
    : "from its backup set" + (i.RestoredToReason ? ": " + i.RestoredToReason : ""));
  if (i.Verified != null) parts.push(i.Verified ? "verified" : "NOT verified");
  if (i.ExpiresAt) parts.push("expires " + utc(i.ExpiresAt));
  if (i.Restorable === false && i.RestorableReason) parts.push("not restorable: " + i.RestorableReason);
  if (parts.length) div.append(" · " + parts.join(" · "));
  return div;
}
function command(text) {      // one tap selects it all; Copy where the clipboard may be written (a secure origin)
  const box = el("div", "cmdline"), code = el("code", "cmd", text); box.append(code);
  if (navigator.clipboard) box.append(button("Copy", "copy", () => navigator.clipboard.writeText(text)));
  return box;
}
function summaryBlock(s, r) {
  const box = el("div", "summary");
  box.append(el("p", null, summaryShort(s).split(" · ")[0] + "."));
  if (s.SafetyBackupId) box.append(el("p", null, "Safety backup " + s.SafetyBackupId + (undoable(r)
    ? ": Undo puts back just what this restore changed until " + utc(r.UndoableUntil) + "; after that, restore it."
    : ": restore it to undo this restore.")));
  for (const k of s.KeptAside || []) {
    box.append(el("p", null, "Live database " + k.Database + " on " + k.ResourceId + " was kept aside as "
                  + k.AsideName + ". Drop it when satisfied:"), command(k.Drop));
  }
  for (const c of s.RestoredCopies || []) {
    box.append(el("p", null, "The restored copy of " + c.Database + " on " + c.ResourceId + " is left as "
                  + c.CopyName + ". Drop it when not needed:"), command(c.Drop));
  }
  if (s.DowntimeSeconds != null)
    box.append(el("p", null, "Instances stopped for " + duration(s.DowntimeSeconds) + "."));
  if (s.CostUSD != null) box.append(el("p", null, "Cost ~$" + s.CostUSD.toFixed(4) + "."));
  return box;
}
function detail(r, kind) {
  const box = el("div", "detail"), id = idOf(r);
  if (r.StatusDetail && !r.Cause && TONES.record[r.Status] === "ok") box.append(el("p", "note", r.StatusDetail));
  box.append(el("p", "meta", "started " + utc(r.StartTime) + (r.EndTime ? " · ended " + utc(r.EndTime) : "")
                + " · " + r.ServiceInstanceId + (r.Description ? " · " + r.Description : "")
                + (r.RestoreId ? " · phase " + r.Phase : "")));
  if (r.RestorableReason) box.append(el("p", "note", "Not restorable: " + r.RestorableReason));
  if (r.Summary && !running(r)) box.append(summaryBlock(r.Summary, r));
  for (const i of itemsOf(r)) box.append(itemDiv(r, i));
  for (const n of r.NotProtected || [])
    box.append(el("p", "note", "not protected: " + n.ResourceType + " " + n.ResourceId + ": " + n.Reason));
  if (r.Cost && kind === "backups")
    box.append(el("p", "meta", "cost ~$" + r.Cost.TotalUSD.toFixed(4) + " · "
                  + ((r.Cost.BytesCreated || 0) / 2 ** 30).toFixed(2) + " GiB created"));
  const list = el("ol", "events"); list.hidden = !state.events[id];
  const toggle = button("Timeline", "timeline", () => {
    list.hidden = !list.hidden;
    if (list.hidden) delete state.events[id]; else events(kind, id, list);
  });
  box.append(toggle, list);
  if (state.events[id]) { fill(list, state.events[id]); if (running(r)) events(kind, id, list); }
  return box;
}
function fill(list, data) {
  list.textContent = "";
  for (const e of data) list.append(el("li", null, utc(e.Time) + " " + (e.ResourceId ? e.ResourceId + " " : "")
                                   + e.Event + (e.Detail ? " · " + e.Detail : "")));
}
async function events(kind, id, list) {
  try { state.events[id] = (await api("GET", "/" + kind + "/" + encodeURIComponent(id) + "/events")).Events;
        fill(list, state.events[id]); }
  catch (e) { fail(e); }
}

function actions(r, kind, restoring, newest) {
  const box = el("span", "actions"), id = idOf(r);
  if (kind === "backups" && r.Status === B.CREATING) box.append(button("Cancel", "cancel", () => ask(
    "Cancel backup " + id + "?", "What it has made so far is deleted; the service instance is not touched.",
    "Cancel backup", () => api("POST", "/backups/" + encodeURIComponent(id) + "/cancel"))));
  if (kind === "restores" && r.Status === R.RESTORING) {
    const b = button("Cancel", "cancel", () => ask("Cancel restore " + id + "?", "It stops before any database is "
      + "swapped: the live data stays as it is and stopped instances are started again.", "Cancel restore",
      () => api("POST", "/restores/" + encodeURIComponent(id) + "/cancel")));
    if (!CANCELLABLE.includes(r.Phase)) { b.disabled = true; b.title = "databases are being put into place: it "
                                                                     + "runs to its end or rolls back"; }
    box.append(b);
  }
  if (kind === "backups" && r.Restorable) {
    const b = button("Restore", "restore", async () => {
      let text = "The service instance will be stopped while its disks and databases are restored, and started "
        + "again afterwards. The databases as they are now are kept aside under new names, and a safety backup is "
        + "taken first.";
      try { text = previewText(await api("POST", "/restores/preview", {BackupId: id})); } catch (e) { /* as said */ }
      ask("Restore " + id + "?", text, "Confirm restore", () => api("POST", "/restores", {BackupId: id}));
    });
    if (restoring.has(r.ServiceInstanceId)) { b.disabled = true; b.title = "a restore is running on this instance"; }
    box.append(b);
  }
  if (kind === "restores" && undoable(r)) {
    const b = button("Undo", "undo", async () => {
      let fresh;                // read again: ChangedSince is on the record alone, not in the listing
      try { fresh = await api("GET", "/restores/" + encodeURIComponent(id)); } catch (e) { fail(e); return; }
      const changed = fresh.ChangedSince || [];
      ask("Undo restore " + id + "?", undoText(fresh), changed.length ? "Undo anyway" : "Confirm undo",
          // Confirm only for the changes shown here: anything else found by then refuses the undo (409)
          () => api("POST", "/restores/" + encodeURIComponent(id) + "/undo", changed.length ? {Confirm: true} : {}));
    });
    if (restoring.has(r.ServiceInstanceId)) { b.disabled = true; b.title = "a restore is running on this instance"; }
    box.append(b);
  }
  if (kind === "backups" && !running(r) && r.Status !== B.DELETED) box.append(button("Delete", "delete", () => ask(
    "Delete backup " + id + "?", (r.Restorable ? "It can be restored now" + (newest.get(r.ServiceInstanceId) === id
    ? ", and it is the newest backup of " + r.ServiceInstanceId + " that can" : "") + ". " : "") + "Its snapshots "
    + "and backup sets are deleted in the cloud and it can no longer be restored. The record stays, as Deleted.",
    "Delete backup", () => api("DELETE", "/backups/" + encodeURIComponent(id)))));
  return box;
}
function previewText(p) {       // the restore's preview (POST /restores/preview), in the confirmation
  const down = p.ExpectedDowntimeSeconds == null ? "not measured yet" : duration(p.ExpectedDowntimeSeconds);
  const parts = [p.Stops.length ? p.Stops.join(", ") + " will be stopped while disks are reset, and started "
                                  + "again (expected downtime: " + down + ")."
                                : "Nothing is stopped: the service runs throughout."];
  if (p.Renames.length) parts.push(p.Renames.length + " database(s) restored under new names and swapped in; the "
                                   + "live ones kept aside (" + p.Renames.map(r => r.AsideName).join(", ") + ").");
  parts.push(p.SafetyBackup.Taken ? "A safety backup is taken first." : "No safety backup is taken.");
  for (const c of p.CannotRestore) parts.push("Cannot restore " + c.ResourceId + ": " + c.Reason + ".");
  if (p.Refused) parts.push("It would be refused now: " + p.Refused);
  return parts.join(" ");
}
function undoText(r) {          // what an undo puts back, until when, and what it throws away
  const disks = Object.keys(r.UndoSnapshots || {});
  const swapped = (r.Resources || []).some(i => (i.Databases || []).some(d => d.AsideKept));
  const parts = ["The service instance is put back as it was just before this restore, as a restore of its own "
                 + "(which can be undone in turn). Possible until " + utc(r.UndoableUntil) + " ("
                 + ahead(r.UndoableUntil) + ")."];
  if (disks.length) parts.push(disks.join(", ") + " will be reset to the snapshots taken at the restore's stop; "
                               + "their instances are stopped meanwhile and started again.");
  if (swapped) parts.push("The databases it swapped in go aside again and the live ones it kept aside come back.");
  const changed = r.ChangedSince;
  parts.push(changed == null ? "Whether the service instance changed since cannot be read now: if it did, the undo "
                               + "is refused."
             : changed.length ? "Changed since the restore, which the undo throws away: " + changed.join("; ") + "."
             : "Nothing changed since the restore.");
  return parts.join(" ");
}
function row(r, kind, restoring, newest) {
  const id = idOf(r), box = el("div", "record"), open = state.open.has(id) || running(r);
  box.dataset.id = id; box.dataset.status = r.Status;
  const line = el("div", "line");
  if (!running(r)) {
    const t = button(open ? "▾" : "▸", "toggle", () => { state.open.has(id) ? state.open.delete(id)
                                                                          : state.open.add(id); render(true); });
    t.setAttribute("aria-expanded", String(open)); t.setAttribute("aria-label", "details of " + id);
    line.append(t);
  }
  line.append(el("span", "badge " + recordTone(r), r.Status), el("span", "id", id), meta(r, kind));
  if (kind === "backups" && r.LastDrill) {                   // proven to restore by a drill (POST /drills)
    const proven = el("span", "badge ok", "drilled " + ago(r.LastDrill));
    proven.title = "restored into scratch and checked by drill " + r.LastDrillId + " at " + utc(r.LastDrill);
    line.append(proven);
  }
  line.append(actions(r, kind, restoring, newest));
  box.append(line);
  const n = note(r); if (n) box.append(n);
  if (running(r)) {
    const bar = el("div", "line"), pct = progressOf(r), p = el("div", "progress"), fillBar = el("div");
    fillBar.style.width = pct + "%"; p.append(fillBar); p.setAttribute("role", "progressbar");
    p.setAttribute("aria-valuenow", String(pct));
    bar.append(p, el("span", "pct", pct + "%"));
    if (r.Phase) bar.append(el("span", "meta", "phase " + r.Phase + (r.PhaseDeadline ? " (gives up "
                                               + ahead(r.PhaseDeadline) + ")" : "")));
    box.append(bar);
  }
  if (open) box.append(detail(r, kind));
  return box;
}
function records(kind) {        // the first page (refreshed) and the older pages asked for, newest first, once each
  const seen = new Set();
  return state.pages[kind].concat(state.older[kind]).filter(r => !seen.has(idOf(r)) && seen.add(idOf(r)));
}
function render(force) {
  const sig = JSON.stringify([state.pages, state.older, state.next]);
  if (!force && sig === signature && Date.now() - renderedAt < 20000) return;   // relative times: every 20 s
  signature = sig; renderedAt = Date.now();
  const all = {backups: records("backups"), restores: records("restores")}, si = $("instance").value.trim();
  const restoring = new Set(all.restores.filter(running).map(r => r.ServiceInstanceId));
  const newest = new Map();     // each instance's newest restorable backup (the listing is newest first)
  for (const b of all.backups) {
    if (b.Restorable && !newest.has(b.ServiceInstanceId)) newest.set(b.ServiceInstanceId, b.BackupId);
  }
  const now = KINDS.flatMap(kind => all[kind].filter(running).map(r => row(r, kind, restoring, newest)));
  $("running").replaceChildren(...now); $("running-section").hidden = !now.length;
  const good = all.backups.find(b => b.Restorable);    // newest first: what a restore would bring back now
  $("overview").textContent = (good ? "Latest restorable backup: " + good.BackupId + ", taken " + ago(good.StartTime)
    + (si ? "" : " (" + good.ServiceInstanceId + ")") : all.backups.length ? "No restorable backup "
    + (state.next.backups ? "on this page." : "yet.") : "")
    + (state.objectives && state.objectives.Breached ? " Recovery objectives BREACHED: "
       + state.objectives.Breaches.join("; ") + "." : "");
  for (const kind of KINDS) {
    const done = all[kind].filter(r => !running(r)).map(r => row(r, kind, restoring, newest));
    if (!done.length) done.push(el("p", "empty", !state.answered ? "Not loaded: see the message above."
      : kind === "backups"
      ? (all.backups.length ? "No finished backups yet: the one running is above."
                            : "No backups " + (si ? "of " + si + " " : "") + "yet. Create Backup takes one now; "
                              + "a schedule (nestbackup schedule set) takes them regularly.")
      : (all.restores.length ? "No finished restores yet: the one running is above."
                             : "No restores " + (si ? "of " + si + " " : "") + "yet. Restore is on each Created "
                               + "backup.")));
    $(kind).replaceChildren(...done);
    $("more-" + kind).hidden = !state.next[kind];
  }
}
async function refresh(force) {
  clearTimeout(timer);
  if (!state.loaded) return;
  const si = $("instance").value.trim(), q = si ? "?serviceInstanceId=" + encodeURIComponent(si) : "";
  try {
    const [b, r] = await Promise.all([api("GET", "/backups" + q), api("GET", "/restores" + q)]);
    state.pages.backups = b.Backups; state.pages.restores = r.Restores; state.answered = true;
    state.objectives = si ? await api("GET", "/service-instances/" + encodeURIComponent(si)
                                      + "/recovery-objectives").catch(() => null) : null;
    if (!state.older.backups.length) state.next.backups = b.NextToken || null;
    if (!state.older.restores.length) state.next.restores = r.NextToken || null;
    render(force);
  } catch (e) { fail(e); if (!state.answered) render(true); }
  const busy = KINDS.some(kind => records(kind).some(running));
  timer = setTimeout(refresh, busy ? 1500 : 15000);
}
async function older(kind) {
  const si = $("instance").value.trim();
  const q = "?nextToken=" + encodeURIComponent(state.next[kind])
            + (si ? "&serviceInstanceId=" + encodeURIComponent(si) : "");
  try {
    const page = await api("GET", "/" + kind + q);
    state.older[kind] = state.older[kind].concat(page[kind === "backups" ? "Backups" : "Restores"]);
    state.next[kind] = page.NextToken || null; render(true);
  } catch (e) { fail(e); }
}
for (const kind of KINDS) $("more-" + kind).onclick = () => older(kind);
function load() {
  sessionStorage.setItem("nestbackup-token", $("token").value);
  sessionStorage.setItem("nestbackup-instance", $("instance").value.trim());
  $("create").disabled = !$("instance").value.trim(); $("error").textContent = "";
  state.loaded = true; state.answered = false;      // another instance's records are not shown meanwhile
  state.pages = {backups: [], restores: []}; state.older = {backups: [], restores: []};
  state.next = {backups: null, restores: null};
  refresh(true);
}
$("load").onclick = load;
$("create").onclick = async () => {
  try { await api("POST", "/backups", {ServiceInstanceId: $("instance").value.trim()}); $("error").textContent = ""; }
  catch (e) { fail(e); }
  refresh(true);
};
if ($("token").value) load();
"""
