/* NetRaven dashboard: local times, sign-in, job actions, preferences and live updates.
   Every value from the server is put in the page as text (textContent), never as HTML. */
"use strict";
(function () {
  const TERMINAL = ["completed", "failed", "canceled"];
  const POLL_MS = 2000;
  window.__netraven = { seen: {} }; // when each job/status first showed on screen (for tests)

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function signInAgain() {
    const next = location.pathname + location.search;
    location.assign("/ui/sign-in?next=" + encodeURIComponent(next));
  }

  async function api(method, url, body) {
    const options = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") options.headers["X-CSRF-Token"] = csrf();
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    let data = null;
    try { data = await response.json(); } catch (ignored) { data = null; }
    if (response.status === 401) { signInAgain(); }
    return { status: response.status, ok: response.ok, data: data };
  }

  function localTime(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    return isNaN(date) ? iso : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  }

  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (node) {
      const epoch = node.getAttribute("data-epoch");
      const iso = epoch ? new Date(parseFloat(epoch) * 1000).toISOString() : node.getAttribute("datetime");
      node.title = iso;
      node.textContent = localTime(iso);
    });
  }

  function timeNode(iso) {
    if (!iso) return document.createTextNode("—");
    const node = document.createElement("time");
    node.setAttribute("datetime", iso);
    node.title = iso;
    node.textContent = localTime(iso);
    return node;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "—";
    seconds = Math.max(0, seconds);
    if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + " s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + Math.floor(seconds % 60) + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  function setStatus(badge, status) {
    badge.className = "status status-" + status;
    badge.textContent = status;
  }

  function markSeen(id, status) {
    const seen = window.__netraven.seen;
    const key = id + ":" + status;
    if (!(key in seen)) seen[key] = Date.now();
  }

  /* ---- sign in: the token comes from POST /auth/token (with its rate limit), the cookie from us */
  function setupSignIn() {
    const form = document.getElementById("sign-in");
    if (!form) return;
    const error = document.getElementById("sign-in-error");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      error.hidden = true;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const response = await fetch(form.dataset.tokenUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ username: form.username.value, password: form.password.value }),
        });
        const data = await response.json().catch(function () { return {}; });
        if (!response.ok) {
          const wait = response.headers.get("Retry-After");
          error.textContent = (data && data.message) || "Sign-in failed (" + response.status + ")";
          if (wait) error.textContent += " Try again in " + wait + " s.";
          error.hidden = false;
          button.disabled = false;
          return;
        }
        form.password.value = "";
        form.token.value = data.access_token;
        form.submit();
      } catch (failure) {
        error.textContent = "The server did not answer: " + failure;
        error.hidden = false;
        button.disabled = false;
      }
    });
  }

  /* ---- Cancel / Re-run on a job's page */
  function setupActions() {
    document.querySelectorAll("button[data-action]").forEach(function (button) {
      button.addEventListener("click", async function () {
        if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
        const out = document.getElementById("action-result");
        button.disabled = true;
        const answer = await api("POST", button.dataset.action);
        if (answer.status === 202 && answer.data && answer.data.rerun_of) {
          location.assign("/ui/job-logs/" + answer.data.job_log_id);
          return;
        }
        out.textContent = answer.status === 202
          ? "Cancel sent; the status changes here when the worker confirms."
          : (answer.data && answer.data.message) || "Refused (" + answer.status + ")";
        out.className = "action-result" + (answer.status === 202 ? "" : " error");
        if (answer.status !== 202) button.disabled = false;
      });
    });
  }

  /* ---- preferences: every field, the API's 422 errors next to their field */
  function setupPreferences() {
    const form = document.getElementById("preferences");
    if (!form) return;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const body = {};
      const formError = document.getElementById("form-error");
      formError.hidden = true;
      document.getElementById("saved").textContent = "";
      let broken = false;
      form.querySelectorAll(".pref").forEach(function (field) {
        const name = field.dataset.pref;
        const input = form.elements[name];
        const message = document.getElementById("error-" + name);
        message.hidden = true;
        input.removeAttribute("aria-invalid");
        if (field.dataset.kind === "checkbox") body[name] = input.checked;
        else if (field.dataset.kind === "json") {
          const text = input.value.trim();
          try { body[name] = text === "" ? null : JSON.parse(text); }
          catch (ignored) { message.textContent = "not valid JSON"; message.hidden = false; broken = true; }
        } else {
          const text = input.value.trim();
          body[name] = text === "" && field.dataset.nullable === "true" ? null : text;
        }
      });
      if (broken) return;
      const answer = await api("PATCH", form.dataset.url, body);
      if (answer.ok) {
        document.getElementById("saved").textContent = "Saved.";
        return;
      }
      const errors = (answer.data && answer.data.errors && (answer.data.errors.json || answer.data.errors)) || {};
      let placed = false;
      Object.keys(errors).forEach(function (name) {
        const message = document.getElementById("error-" + name);
        if (!message) return;
        message.textContent = [].concat(errors[name]).join(" ");
        message.hidden = false;
        const input = form.elements[name];
        if (input) { input.setAttribute("aria-invalid", "true"); if (!placed) input.focus(); }
        placed = true;
      });
      if (!placed) {
        formError.textContent = (answer.data && answer.data.message) || "Not saved (" + answer.status + ")";
        formError.hidden = false;
      }
    });
  }

  /* ---- live updates: Server-Sent Events, or polling on the embedded default */
  function subscribe(onRow, poll) {
    let polling = null;
    function startPolling() {
      if (polling) return;
      polling = setInterval(poll, POLL_MS);
      poll();
    }
    const live = document.querySelector("[data-live]").dataset;
    if (live.live !== "stream" || !window.EventSource) { startPolling(); return; }
    // From where the page was rendered: nothing that changed meanwhile is missed.
    const after = live.liveAfter ? "?after=" + encodeURIComponent(live.liveAfter) : "";
    const source = new EventSource("/job-logs/stream" + after);
    source.addEventListener("job", function (event) {
      try { onRow(JSON.parse(event.data)); } catch (ignored) { /* a bad message must not stop the feed */ }
    });
    source.addEventListener("error", function () {
      // EventSource reconnects by itself (with Last-Event-ID); CLOSED means it was refused (401, 503).
      if (source.readyState === EventSource.CLOSED) startPolling();
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function activePage() {
    const table = document.getElementById("active-jobs");
    if (!table) return;
    const body = table.tBodies[0];
    const empty = document.getElementById("active-empty");
    const owners = {};
    body.querySelectorAll("tr").forEach(function (tr) {
      markSeen(tr.dataset.jobId, tr.querySelector("[data-field=status]").textContent);
    });

    function cell(tr, field) { return tr.querySelector('[data-field="' + field + '"]'); }

    function rowFor(job) {
      let tr = document.getElementById("job-" + job.id);
      if (tr) return tr;
      tr = document.createElement("tr");
      tr.id = "job-" + job.id;
      tr.dataset.jobId = job.id;
      const link = document.createElement("a");
      link.href = "/ui/job-logs/" + job.id;
      link.textContent = "#" + job.id;
      const cells = ["", "status", "job_type", "device", "owner", "elapsed", "attempts", "retry"];
      cells.forEach(function (field) {
        const td = document.createElement("td");
        if (field) td.dataset.field = field;
        tr.appendChild(td);
      });
      tr.cells[0].appendChild(link);
      const badge = document.createElement("span");
      badge.dataset.field = "status";
      tr.cells[1].removeAttribute("data-field");
      tr.cells[1].appendChild(badge);
      body.appendChild(tr);
      return tr;
    }

    function show(job) {
      const tr = rowFor(job);
      setStatus(cell(tr, "status"), job.status);
      cell(tr, "job_type").textContent = job.job_type;
      cell(tr, "device").textContent = job.device || "—";
      if (job.owner) owners[job.owner_id] = job.owner;
      cell(tr, "owner").textContent = job.owner || owners[job.owner_id] || cell(tr, "owner").textContent || ("user #" + job.owner_id);
      cell(tr, "attempts").textContent = job.attempts;
      tr.dataset.queuedAt = job.queued_at || "";
      tr.dataset.nextRetryAt = job.next_retry_at || "";
      tr.classList.toggle("finished", TERMINAL.indexOf(job.status) >= 0);
      empty.hidden = true;
      markSeen(job.id, job.status);
      tick();
    }

    function tick() {
      const now = Date.now();
      body.querySelectorAll("tr").forEach(function (tr) {
        const finished = tr.classList.contains("finished");
        if (tr.dataset.queuedAt && !finished) cell(tr, "elapsed").textContent = duration((now - Date.parse(tr.dataset.queuedAt)) / 1000);
        const retry = tr.dataset.nextRetryAt;
        cell(tr, "retry").textContent = retry && !finished ? "in " + duration((Date.parse(retry) - now) / 1000) : "—";
      });
    }
    setInterval(tick, 1000);
    tick();

    subscribe(show, async function () {
      const answer = await api("GET", "/job-logs/active?page_size=500");
      if (!answer.ok || !Array.isArray(answer.data)) return;
      const active = {};
      answer.data.forEach(function (job) { active[job.id] = true; show(job); });
      body.querySelectorAll("tr:not(.finished)").forEach(async function (tr) {
        if (active[tr.dataset.jobId]) return;
        const detail = await api("GET", "/job-logs/" + tr.dataset.jobId);
        if (detail.ok) show(detail.data);
      });
    });
  }

  function detailPage() {
    const section = document.getElementById("job");
    if (!section) return;
    const id = Number(section.dataset.jobId);
    let status = section.querySelector("[data-field=status]").textContent;
    markSeen(id, status);

    function field(name) { return section.querySelector('[data-field="' + name + '"]'); }

    function renderTimeline(entries) {
      const list = document.getElementById("timeline");
      list.textContent = "";
      entries.forEach(function (entry) {
        const li = document.createElement("li");
        li.className = "level-" + entry.level;
        li.appendChild(timeNode(entry.at));
        const level = document.createElement("span");
        level.className = "level";
        level.textContent = " " + entry.level + " ";
        li.appendChild(level);
        const name = document.createElement("span");
        name.className = "event";
        name.textContent = entry.event;
        li.appendChild(name);
        li.appendChild(document.createTextNode(": " + entry.message));
        if (entry.details && entry.details.traceback) {
          const details = document.createElement("details");
          const summary = document.createElement("summary");
          summary.textContent = "Traceback";
          const pre = document.createElement("pre");
          pre.textContent = entry.details.traceback;
          details.appendChild(summary);
          details.appendChild(pre);
          li.appendChild(details);
        }
        list.appendChild(li);
      });
    }

    async function show(job) {
      if (Number(job.id) !== id) return;
      setStatus(field("status"), job.status);
      field("attempts").textContent = job.attempts;
      field("worker").textContent = job.worker || "—";
      field("started_at").replaceChildren(timeNode(job.started_at));
      field("finished_at").replaceChildren(timeNode(job.finished_at));
      field("duration_seconds").textContent = job.duration_seconds == null ? "—" : job.duration_seconds.toFixed(1) + " s";
      markSeen(id, job.status);
      const over = TERMINAL.indexOf(job.status) >= 0;
      const cancel = document.querySelector('button[data-action$="/cancel"]');
      if (cancel) cancel.hidden = over;
      const rerun = document.querySelector('button[data-action$="/rerun"]');
      if (rerun) rerun.hidden = !over;
      if (job.status !== status) {
        status = job.status;
        const detail = await api("GET", "/job-logs/" + id);
        if (detail.ok && detail.data.entries) renderTimeline(detail.data.entries);
      }
    }

    subscribe(show, async function () {
      const detail = await api("GET", "/job-logs/" + id);
      if (detail.ok) show(detail.data);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localizeTimes(document);
    setupSignIn();
    setupActions();
    setupPreferences();
    activePage();
    detailPage();
  });
})();
