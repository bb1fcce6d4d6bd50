"""The console page: a Backup and Restoration view per service instance, served at GET /api/console.

One static page; it asks for a bearer token (kept in this tab's sessionStorage) and calls the API with it. Every
value it shows is inserted as text, never as HTML.
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nestbackup · Backup and Restoration</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1100px}
 h1{font-size:20px;margin:0 0 16px} h2{font-size:16px;margin:24px 0 8px}
 input{font:inherit;padding:4px 6px;margin-right:8px} button{font:inherit;padding:4px 12px;cursor:pointer}
 table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #d0d7de}
 tr.detail td{background:#f6f8fa;font-size:13px} .Created,.Restored,.Succeeded{color:#1a7f37}
 .CreateFailed,.RestoreFailed,.Failed,.DeleteFailed{color:#cf222e;text-decoration:underline dotted}
 .Creating,.Restoring,.Running,.Deleting{color:#9a6700} #error{color:#cf222e;margin:8px 0}
 #warn{background:#fff8c5;border:1px solid #d4a72c;padding:8px;margin:8px 0}
 dialog{max-width:520px} .muted{color:#57606a}
 ol.events{margin:6px 0 0;padding-left:20px;color:#57606a} button.timeline{font-size:12px;padding:1px 8px;margin-top:4px}
</style></head>
<body>
<h1>Backup and Restoration</h1>
<div>
 <input id="token" type="password" placeholder="bearer token" size="30">
 <input id="instance" placeholder="service instance id" size="28">
 <button id="load">Load</button>
 <button id="create" disabled>Create Backup</button>
</div>
<div id="warn">During a backup or a restore, do not operate on the instance or change its data. A restore stops the
 service instance; a backup is taken right before it.</div>
<div id="error" role="alert"></div>
<h2>Backups</h2>
<table id="backups"><thead><tr><th>Backup</th><th>Status</th><th>Started</th><th>Ended</th><th>Restorable until</th><th>Resources</th><th></th></tr>
</thead><tbody></tbody></table>
<h2>Restore tasks</h2>
<table id="restores"><thead><tr><th>Restore task</th><th>From backup</th><th>Status</th><th>Phase</th><th>Started</th><th>Ended</th></tr>
</thead><tbody></tbody></table>
<dialog id="confirm"><p><b>Restore <span id="confirm-id"></span>?</b></p>
 <p>The service instance will be <b>stopped</b> while its disks and databases are restored, and started again
 afterwards. The databases as they are now are kept aside under new names, and a safety backup is taken first.</p>
 <button id="confirm-yes">Confirm restore</button> <button id="confirm-no">Cancel</button></dialog>
<script>
const $ = (id) => document.getElementById(id);
$("token").value = sessionStorage.getItem("nestbackup-token") || "";
$("instance").value = sessionStorage.getItem("nestbackup-instance") || "";
let timer = null, pending = null;
const shown = new Set();          // records whose timeline is open: kept open across refreshes

function cell(tr, text, cls, title) {
  const td = document.createElement("td"); td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls; if (title) td.title = title; tr.appendChild(td); return td;
}
function causes(record) { return record.StatusDetail || ""; }   // the record's own one-line cause, as the API says it
async function api(method, path, body) {
  const response = await fetch("/api" + path, {method, headers: {"Authorization": "Bearer " + $("token").value,
    "Content-Type": "application/json"}, body: body ? JSON.stringify(body) : undefined});
  const data = await response.json();
  if (!response.ok) throw new Error((data.Code || response.status) + ": " + (data.Message || ""));
  return data;
}
function detailRow(tbody, record, span) {
  const tr = document.createElement("tr"); tr.className = "detail";
  const td = document.createElement("td"); td.colSpan = span; tr.appendChild(td);
  for (const r of record.Resources || []) {
    const div = document.createElement("div");
    div.textContent = r.ResourceType + " " + r.ResourceId + " · " + r.Status + " · " + (r.Progress || 0) + "% · "
      + (r.ArtifactId || r.SourceArtifactId || "-") + (r.ErrorCode ? " · " + r.ErrorCode + ": " + r.ErrorMessage : "")
      + (r.WaitReason && !r.ErrorCode ? " · waiting: " + r.WaitReason : "") + (r.ExpiresAt ? " · expires " + r.ExpiresAt : "")
      + (r.Restorable === false ? " · not restorable: " + r.RestorableReason : "");
    div.className = r.Status; td.appendChild(div);
  }
  if (record.Cost) {
    const c = record.Cost, calls = Object.values(c.Calls || {}).reduce((a, b) => a + b, 0);
    const div = document.createElement("div"); div.className = "muted cost";
    div.textContent = "cost ~$" + c.TotalUSD.toFixed(4) + " · " + calls + " cloud calls · " + c.FlowTransitions
      + " flow transitions · " + c.Invocations + " invocations · " + (c.BytesCreated / 2 ** 30).toFixed(2) + " GiB"
      + (record.DowntimeSeconds != null ? " · instances stopped " + record.DowntimeSeconds + " s" : "");
    td.appendChild(div);
  }
  const kind = record.RestoreId ? "restores" : "backups", id = record.RestoreId || record.BackupId;
  const toggle = document.createElement("button"); toggle.textContent = "Timeline"; toggle.className = "timeline";
  const list = document.createElement("ol"); list.className = "events"; list.hidden = !shown.has(id);
  toggle.onclick = () => { list.hidden = !list.hidden; list.hidden ? shown.delete(id) : shown.add(id);
                           if (!list.hidden) events(kind, id, list); };
  td.appendChild(toggle); td.appendChild(list);
  if (!list.hidden) events(kind, id, list);
  tbody.appendChild(tr);
}
async function events(kind, id, list) {
  try {
    const data = await api("GET", "/" + kind + "/" + encodeURIComponent(id) + "/events");
    list.textContent = "";
    for (const e of data.Events) {
      const li = document.createElement("li");
      li.textContent = e.Time + " " + (e.ResourceId ? e.ResourceId + " " : "") + e.Event + (e.Detail ? " · " + e.Detail : "");
      list.appendChild(li);
    }
  } catch (e) { $("error").textContent = e.message; }
}
async function refresh() {
  $("error").textContent = "";
  const si = encodeURIComponent($("instance").value);
  try {
    const [backups, restores] = await Promise.all([api("GET", "/backups?serviceInstanceId=" + si),
                                                   api("GET", "/restores?serviceInstanceId=" + si)]);
    const bt = $("backups").tBodies[0]; bt.textContent = "";
    for (const b of backups.Backups) {
      const tr = document.createElement("tr"); tr.dataset.id = b.BackupId;
      cell(tr, b.BackupId); cell(tr, b.Status, b.Status, causes(b)); cell(tr, b.StartTime); cell(tr, b.EndTime || "…");
      cell(tr, b.RestorableUntil || (b.Status === "Created" ? "no expiry" : "")); cell(tr, b.Resources.length);
      const actions = cell(tr, "");
      if (b.Status === "Created") {
        const button = document.createElement("button"); button.textContent = "Restore"; button.className = "restore";
        button.onclick = () => { pending = b.BackupId; $("confirm-id").textContent = b.BackupId; $("confirm").showModal(); };
        actions.appendChild(button);
      }
      bt.appendChild(tr); detailRow(bt, b, 7);
    }
    const rt = $("restores").tBodies[0]; rt.textContent = "";
    for (const r of restores.Restores) {
      const tr = document.createElement("tr"); tr.dataset.id = r.RestoreId;
      cell(tr, r.RestoreId); cell(tr, r.BackupId); cell(tr, r.Status, r.Status, causes(r)); cell(tr, r.Phase);
      cell(tr, r.StartTime); cell(tr, r.EndTime || "…"); rt.appendChild(tr); detailRow(rt, r, 6);
    }
    const busy = backups.Backups.concat(restores.Restores).some(x => x.Status === "Creating" || x.Status === "Restoring");
    clearTimeout(timer); if (busy) timer = setTimeout(refresh, 1000);
  } catch (e) { $("error").textContent = e.message; }
}
$("load").onclick = () => {
  sessionStorage.setItem("nestbackup-token", $("token").value);
  sessionStorage.setItem("nestbackup-instance", $("instance").value);
  $("create").disabled = false; refresh();
};
$("create").onclick = async () => {
  try { await api("POST", "/backups", {ServiceInstanceId: $("instance").value}); } catch (e) { $("error").textContent = e.message; }
  refresh();
};
$("confirm-no").onclick = () => $("confirm").close();
$("confirm-yes").onclick = async () => {
  $("confirm").close();
  try { await api("POST", "/restores", {BackupId: pending}); } catch (e) { $("error").textContent = e.message; }
  refresh();
};
</script></body></html>
"""
