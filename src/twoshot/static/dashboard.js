"use strict";
const $ = (id) => document.getElementById(id);
let me = null;

// el("td", {class: "x"}, "text", child, …): every piece of data goes in as text, never HTML
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "style") node.style.cssText = v;  // the CSP allows styles set from script only
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function say(text, bad) {
  const m = $("msg");
  m.textContent = text; m.className = bad ? "bad" : ""; m.style.display = "block";
  clearTimeout(say.t); say.t = setTimeout(() => { m.style.display = "none"; }, 4000);
}

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (opts.method && opts.method !== "GET") headers["X-CSRF-Token"] = me ? me.csrf_token : "";
  if (opts.json !== undefined) { headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(opts.json); }
  const r = await fetch(path, { method: opts.method || "GET", headers, body: opts.body, credentials: "same-origin" });
  if (r.status === 401) { location.replace("/dashboard/login"); throw new Error("signed out"); }
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && data.error.message) || ("HTTP " + r.status));
  return data;
}

const when = (iso) => iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "—";
const limit = (n) => n === 0 ? "none" : String(n);
function copyButton(text) {
  return el("button", { class: "plain", onclick: async (ev) => {
    await navigator.clipboard.writeText(text).then(() => say("Copied."), () => say("Select and copy by hand.", true));
    ev.preventDefault();
  } }, "Copy");
}
function keyOptions(keys, selected) {
  return [el("option", { value: "" }, "all keys"), ...keys.map((k) => el("option", { value: k.id, selected: k.id === selected }, k.name + " (" + k.prefix + "…)"))];
}

// -- keys -------------------------------------------------------------------------------

async function showKeys(view) {
  const keys = await api("/api/account/keys");
  const name = el("input", { type: "text", placeholder: "what the key is for, e.g. ios-app", maxlength: 200, size: 34, id: "key-name" });
  const created = el("div");
  const create = el("form", { class: "row", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const made = await api("/api/account/keys", { method: "POST", json: { name: name.value || "key" } });
      name.value = "";
      await showKeys(view);
      $("created").replaceChildren(
        el("b", {}, "Your new key — shown only this once. Store it now."),
        el("div", { class: "row", style: "margin-top:8px" }, el("code", { id: "new-secret" }, made.secret), copyButton(made.secret)),
        el("p", { class: "muted", style: "margin:12px 0 4px" }, "Try it:"),
        el("pre", {}, made.curl), copyButton(made.curl), " ",
        el("a", { href: "/#key=" + encodeURIComponent(made.secret), id: "try-playground" }, "Open the playground with this key"));
      $("created").hidden = false;
    } catch (e) { say(e.message, true); }
  } }, name, el("button", { id: "create-key" }, "Create key"));
  const rows = keys.map((k) => el("tr", { "data-key": k.id },
    el("td", {}, el("b", {}, k.name)),
    el("td", {}, el("code", {}, k.prefix + "…")),
    el("td", {}, when(k.created_at)),
    el("td", {}, when(k.last_used_at)),
    el("td", {}, k.tasks_today),
    el("td", {}, limit(k.effective_rate_limit_per_minute) + " / min", el("br"), limit(k.effective_quota_per_day) + " / day"),
    el("td", {}, k.revoked_at ? el("span", { class: "badge revoked" }, "revoked") : webhookCell(k)),
    el("td", {}, k.revoked_at ? el("span", { class: "muted" }, when(k.revoked_at)) :
      el("button", { class: "danger", "data-revoke": k.id, onclick: async () => {
        if (!confirm("Revoke " + k.name + "? Apps using it stop working at once.")) return;
        try { await api("/api/account/keys/" + k.id, { method: "DELETE" }); say("Revoked " + k.name + "."); showKeys(view); }
        catch (e) { say(e.message, true); }
      } }, "Revoke"))));
  view.replaceChildren(
    el("section", {}, el("h2", {}, "Create a key"), create,
      el("div", { class: "secret", id: "created", hidden: true }), created),
    el("section", {}, el("h2", {}, "Your keys"),
      keys.length ? el("table", { id: "keys" },
        el("tr", {}, ["Name", "Prefix", "Created", "Last used", "Tasks today", "Limits", "Webhook secret", ""].map((h) => el("th", {}, h))),
        rows) : el("p", { class: "muted" }, "No keys yet: create one above."),
      el("p", { class: "muted", style: "margin-top:10px" }, "Limits are set by your operator. The playground needs a key's secret, which is shown only when the key is made.")));
}

function webhookCell(k) {
  const out = el("span", { class: "row" });
  const reveal = el("button", { class: "plain", onclick: async () => {
    try { const s = await api("/api/account/keys/" + k.id + "/webhook-secret"); out.replaceChildren(el("code", {}, s.webhook_secret), copyButton(s.webhook_secret), rotate); }
    catch (e) { say(e.message, true); }
  } }, "Reveal");
  const rotate = el("button", { class: "plain", onclick: async () => {
    if (!confirm("Rotate the webhook secret of " + k.name + "? Deliveries from now on are signed with the new one.")) return;
    try { const s = await api("/api/account/keys/" + k.id + "/webhook-secret", { method: "POST" }); out.replaceChildren(el("code", {}, s.webhook_secret), copyButton(s.webhook_secret), rotate); say("Rotated."); }
    catch (e) { say(e.message, true); }
  } }, "Rotate");
  out.append(reveal, rotate);
  return out;
}

// -- usage ------------------------------------------------------------------------------

const COLORS = { completed: "#1e8449", failed: "#c0392b", canceled: "#98a2b3" };

function chart(days) {
  const W = 1120, H = 260, left = 40, bottom = 30, top = 12, bw = (W - left - 10) / days.length;
  const max = Math.max(1, ...days.map((d) => d.completed + d.failed + d.canceled));
  const raw = max / 4, p10 = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * p10).find((s) => s >= raw));
  const scale = (H - bottom - top) / (Math.ceil(max / step) * step);
  const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", id: "usage-chart", "aria-label": "images per day" });
  for (let v = 0; v <= Math.ceil(max / step) * step; v += step) {
    const y = H - bottom - v * scale;
    g.append(svg("line", { x1: left, x2: W - 10, y1: y, y2: y, stroke: "#e6e9f0" }), svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, v));
  }
  days.forEach((d, i) => {
    let y = H - bottom;
    const x = left + i * bw + 2;
    for (const o of ["completed", "failed", "canceled"]) {
      if (!d[o]) continue;
      const h = d[o] * scale;
      y -= h;
      g.append(svg("rect", { x, y, width: Math.max(1, bw - 4), height: h, fill: COLORS[o], rx: 2, "data-day": d.date, "data-outcome": o },
        svg("title", {}, `${d.date}: ${d[o]} ${o}`)));
    }
    if (i % 5 === days.length % 5 || i === days.length - 1) g.append(svg("text", { x: x + bw / 2 - 2, y: H - 10, "text-anchor": "middle" }, d.date.slice(5)));
  });
  return g;
}

// the content policy's refusals per day (README: Content policy); days with none left out
const REFUSALS = ["prompt_refused", "unsafe_input", "apparent_minor", "unsafe_content"];
function refusalTable(days, id) {
  const rows = days.filter((d) => REFUSALS.some((c) => d[c]));
  if (!rows.length) return el("p", { class: "muted", id }, "Nothing refused by the content policy in this period.");
  return el("table", { id }, el("tr", {}, ["Date", ...REFUSALS].map((h) => el("th", {}, h))),
    rows.slice().reverse().map((d) => el("tr", {}, el("td", {}, d.date), REFUSALS.map((c) => el("td", {}, d[c] || 0)))));
}

async function showUsage(view, params) {
  const key = params.get("key") || "";
  const [report, keys] = await Promise.all([api("/api/account/usage?days=30" + (key ? "&key=" + key : "")), api("/api/account/keys")]);
  const sum = (o) => report.days.reduce((n, d) => n + d[o], 0);
  const pick = el("select", { id: "usage-key", onchange: () => { location.hash = "usage" + (pick.value ? "?key=" + pick.value : ""); } }, keyOptions(keys, key));
  const secs = (v) => v === null ? "—" : v < 10 ? v.toFixed(2) + " s" : v.toFixed(1) + " s";
  const perKey = keys.filter((k) => !key || k.id === key).map((k) => {
    const t = { completed: 0, failed: 0, canceled: 0 };
    for (const d of report.days) { const c = d.keys[k.id]; if (c) for (const o in t) t[o] += c[o] || 0; }
    return el("tr", {}, el("td", {}, k.name), el("td", {}, t.completed), el("td", {}, t.failed), el("td", {}, t.canceled));
  });
  view.replaceChildren(
    el("section", {},
      el("div", { class: "row", style: "justify-content:space-between;margin-bottom:12px" },
        el("h2", { style: "margin:0" }, "Images per day, last 30 days (UTC)"),
        el("span", { class: "row" }, pick, el("a", { href: "/api/account/usage.csv?days=30" + (key ? "&key=" + key : ""), id: "csv", download: "twoshot-usage.csv" }, "Download CSV"))),
      el("div", { class: "stats" },
        el("div", { class: "stat" }, el("span", { class: "muted" }, "completed"), el("b", { id: "total-completed" }, sum("completed"))),
        el("div", { class: "stat" }, el("span", { class: "muted" }, "failed"), el("b", {}, sum("failed"))),
        el("div", { class: "stat" }, el("span", { class: "muted" }, "canceled"), el("b", {}, sum("canceled"))),
        el("div", { class: "stat" }, el("span", { class: "muted" }, "today"), el("b", {}, (() => { const d = report.days[report.days.length - 1]; return d.completed + d.failed + d.canceled; })()))),
      chart(report.days),
      el("div", { class: "legend" }, Object.entries(COLORS).map(([o, c]) => el("span", {}, el("i", { style: "background:" + c }), o)))),
    el("section", { class: "row", style: "align-items:flex-start;gap:28px" },
      el("div", { style: "flex:1" }, el("h2", {}, "Per key"),
        el("table", {}, el("tr", {}, ["Key", "Completed", "Failed", "Canceled"].map((h) => el("th", {}, h))), perKey)),
      el("div", { style: "flex:1" }, el("h2", {}, "Time per image"),
        el("table", { id: "percentiles" }, el("tr", {}, ["", "p50", "p90", "p99"].map((h) => el("th", {}, h))),
          el("tr", {}, el("td", {}, "waiting in the queue"), ["p50", "p90", "p99"].map((p) => el("td", {}, secs(report.queue_wait_seconds[p])))),
          el("tr", {}, el("td", {}, "running"), ["p50", "p90", "p99"].map((p) => el("td", {}, secs(report.run_seconds[p]))))),
        el("p", { class: "muted" }, "From the latest " + report.sampled_tasks + " completed task(s) still kept."))),
    el("section", {}, el("h2", {}, "Refused by the content policy"),
      refusalTable(report.days.map((d) => ({ date: d.date, ...d.refusals })), "refusals"),
      el("p", { class: "muted" }, "Prompts, pictures and apparent minors refused at submission, and results withheld by the nudity screen (these are also failed tasks).")));
}

// -- tasks ------------------------------------------------------------------------------

function identity(t) {
  if (!t.identity.length) return el("span", { class: "muted" }, "—");
  return el("span", {}, t.identity.map((p, i) => [i ? el("br") : null,
    (p.role || "person") + ": " + (p.found ? (p.distance ?? 0).toFixed(2) : "not found")]));
}

async function showTasks(view, params) {
  const key = params.get("key") || "", status = params.get("status") || "";
  const keys = await api("/api/account/keys");
  const go = () => { const q = new URLSearchParams(); if (pick.value) q.set("key", pick.value); if (stat.value) q.set("status", stat.value); location.hash = "tasks" + (q.toString() ? "?" + q : ""); };
  const pick = el("select", { id: "tasks-key", onchange: go }, keyOptions(keys, key));
  const stat = el("select", { id: "tasks-status", onchange: go }, ["", "queued", "processing", "completed", "failed", "canceled"].map((s) => el("option", { value: s, selected: s === status }, s || "any status")));
  const body = el("tbody");
  const more = el("button", { class: "plain", hidden: true }, "Older tasks");
  let before = null, beforeId = null;
  async function load() {
    const q = new URLSearchParams({ limit: 25 });
    if (key) q.set("key", key); if (status) q.set("status", status); if (before) { q.set("before", before); q.set("before_id", beforeId); }
    const page = await api("/api/account/tasks?" + q);
    for (const t of page.tasks) {
      body.append(el("tr", { class: "click", "data-task": t.task_id, onclick: () => { location.hash = "task/" + t.task_id; } },
        el("td", {}, t.thumbnail_url ? el("img", { class: "thumb", src: t.thumbnail_url, alt: "result", loading: "lazy" }) : el("div", { class: "thumb" })),
        el("td", {}, el("span", { class: "badge " + t.status }, t.status), t.error_code ? el("div", { class: "flags" }, t.error_code) : null),
        el("td", {}, t.kind, el("br"), el("span", { class: "muted" }, t.engine)),
        el("td", {}, t.key_name || t.key_id),
        el("td", {}, when(t.created_at)),
        el("td", {}, t.seconds === null ? "—" : t.seconds + " s"),
        el("td", {}, identity(t)),
        el("td", {}, t.flags.length ? el("span", { class: "flags" }, t.flags.join(", ")) : el("span", { class: "muted" }, "none"))));
    }
    before = page.next_before; beforeId = page.next_before_id; more.hidden = !before;
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "muted" }, "No tasks yet.")));
  }
  more.addEventListener("click", load);
  view.replaceChildren(el("section", {},
    el("div", { class: "row", style: "justify-content:space-between;margin-bottom:12px" }, el("h2", { style: "margin:0" }, "Latest tasks"), el("span", { class: "row" }, pick, stat)),
    el("table", { id: "tasks" }, el("thead", {}, el("tr", {}, ["Result", "Status", "Kind", "Key", "Submitted", "Took", "Identity (distance)", "Flags"].map((h) => el("th", {}, h)))), body),
    el("div", { style: "margin-top:12px" }, more)));
  await load();
}

async function showTask(view, id) {
  const t = await api("/api/account/tasks/" + encodeURIComponent(id));
  view.replaceChildren(el("section", {},
    el("p", {}, el("a", { href: "#tasks" }, "← all tasks")),
    el("h2", {}, "Task " + t.task_id),
    t.status === "completed" && t.image_url ? el("img", { class: "big", src: "/api/account/tasks/" + encodeURIComponent(id) + "/thumbnail", alt: "result" }) : null,
    el("p", { class: "muted" }, "GET /api/task-status/" + t.task_id + " answers:"),
    el("pre", { id: "task-json" }, JSON.stringify(t, null, 2))));
}

// -- admin ------------------------------------------------------------------------------

async function showAdmin(view) {
  const [queue, accounts, keys, refused] = await Promise.all([api("/api/account/admin/queue"), api("/api/account/admin/accounts"), api("/api/account/admin/keys"), api("/api/account/admin/refusals")]);
  const emails = Object.fromEntries(accounts.map((a) => [a.id, a.email]));
  const ago = (s) => s < 60 ? Math.round(s) + " s ago" : Math.round(s / 60) + " min ago";
  view.replaceChildren(
    el("section", {}, el("h2", {}, "Queue"),
      el("div", { class: "stats" }, ["queued", "processing", "completed", "failed"].map((s) => el("div", { class: "stat" }, el("span", { class: "muted" }, s), el("b", {}, queue.tasks[s] || 0)))),
      el("h2", {}, "Workers heard from in the last 10 minutes"),
      queue.workers.length ? el("table", { id: "workers" }, el("tr", {}, ["Worker", "Engines", "Task in hand", "Last heartbeat", "Since"].map((h) => el("th", {}, h))),
        queue.workers.map((w) => el("tr", {}, el("td", {}, el("code", {}, w.worker)), el("td", {}, w.engines.join(", ")), el("td", {}, w.task_id ? el("code", {}, w.task_id) : el("span", { class: "muted" }, "idle")), el("td", {}, ago(w.seconds_since_seen)), el("td", {}, when(w.first_seen)))))
        : el("p", { class: "muted" }, "No worker has claimed work lately.")),
    el("section", {}, el("h2", {}, "Content policy: refusals, every account, last 30 days"),
      el("p", { class: "muted" }, "In force: nudity threshold " + (refused.policy.nsfw_threshold ?? "off") + ", minimum apparent age " + (refused.policy.min_apparent_age ?? "off") + ", " + (refused.policy.prompts.rules ?? 0) + " prompt rules."),
      refusalTable(refused.days, "admin-refusals")),
    el("section", {}, el("h2", {}, "Accounts"),
      el("table", { id: "accounts" }, el("tr", {}, ["Email", "Name", "Role", "Created", "State", ""].map((h) => el("th", {}, h))),
        accounts.map((a) => el("tr", {}, el("td", {}, a.email), el("td", {}, a.name), el("td", {}, a.is_admin ? "admin" : "developer"), el("td", {}, when(a.created_at)),
          el("td", {}, a.disabled_at ? el("span", { class: "badge failed" }, "disabled") : a.has_password ? "active" : el("span", { class: "muted" }, "no password yet")),
          el("td", {}, a.id === me.id ? "" : el("button", { class: a.disabled_at ? "plain" : "danger", onclick: async () => {
            try { await api("/api/account/admin/accounts/" + a.id + (a.disabled_at ? "/enable" : "/disable"), { method: "POST" }); showAdmin(view); }
            catch (e) { say(e.message, true); }
          } }, a.disabled_at ? "Enable" : "Disable")))))),
    el("section", {}, el("h2", {}, "Per-key limits"),
      el("p", { class: "muted" }, "Empty: the server's default. 0: no limit."),
      el("table", { id: "limits" }, el("tr", {}, ["Key", "Account", "Per minute", "Per day", ""].map((h) => el("th", {}, h))),
        keys.filter((k) => !k.revoked_at).map((k) => {
          const rate = el("input", { type: "number", min: 0, value: k.rate_limit_per_minute ?? "", placeholder: String(k.effective_rate_limit_per_minute) });
          const quota = el("input", { type: "number", min: 0, value: k.quota_per_day ?? "", placeholder: String(k.effective_quota_per_day) });
          const num = (i) => i.value === "" ? null : Number(i.value);
          return el("tr", {}, el("td", {}, k.name, " ", el("code", { class: "muted" }, k.prefix + "…")), el("td", {}, emails[k.account_id] || k.account_id), el("td", {}, rate), el("td", {}, quota),
            el("td", {}, el("button", { class: "plain", onclick: async () => {
              try { await api("/api/account/admin/keys/" + k.id + "/limits", { method: "PUT", json: { rate_limit_per_minute: num(rate), quota_per_day: num(quota) } }); say("Saved."); }
              catch (e) { say(e.message, true); }
            } }, "Save")));
        }))));
}

// -- routing ----------------------------------------------------------------------------

async function route() {
  const [path, query] = (location.hash.slice(1) || "keys").split("?");
  const params = new URLSearchParams(query || "");
  const tab = path.startsWith("task/") ? "tasks" : path;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.dataset.tab === tab);
  const view = $("view");
  try {
    if (path.startsWith("task/")) await showTask(view, path.slice(5));
    else if (path === "usage") await showUsage(view, params);
    else if (path === "tasks") await showTasks(view, params);
    else if (path === "admin" && me.is_admin) await showAdmin(view);
    else await showKeys(view);
    document.body.dataset.ready = path;
  } catch (e) { say(e.message, true); }
}

$("signout").addEventListener("click", async () => {
  await api("/api/account/sign-out", { method: "POST" }).catch(() => null);
  location.replace("/dashboard/login");
});

(async () => {
  me = await api("/api/account");
  $("who").textContent = me.email;
  $("admin-tab").hidden = !me.is_admin;
  window.addEventListener("hashchange", route);
  route();
})();
