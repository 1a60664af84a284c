/* NetRaven dashboard: local times, sign-in, job and batch actions, preferences and live updates.
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
    return { status: response.status, ok: response.ok, data: data, headers: response.headers };
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

  /* ---- preferences: each field's control to its API value; the API's 422 errors beside the field */
  function flatten(messages) {
    if (typeof messages === "string") return [messages];
    if (Array.isArray(messages)) return [].concat.apply([], messages.map(flatten));
    if (messages && typeof messages === "object") {
      return [].concat.apply([], Object.keys(messages).map(function (key) {
        return flatten(messages[key]).map(function (text) { return key + ": " + text; });
      }));
    }
    return [];
  }

  function preferenceValue(form, field) {
    const name = field.dataset.pref;
    const kind = field.dataset.kind;
    if (kind === "checkbox") return form.elements[name].checked;
    if (kind === "radio") {
      const chosen = field.querySelector("input[type=radio]:checked");
      const value = chosen ? chosen.value : "";
      return value === "" && field.dataset.nullable === "true" ? null : value;
    }
    if (kind === "multi") {
      return Array.prototype.map.call(field.querySelectorAll("input[type=checkbox]:checked"), function (box) { return box.value; });
    }
    if (kind === "quiet_hours") {
      if (!form.elements[name].checked) return null;
      return {
        start: document.getElementById("quiet-start").value,
        end: document.getElementById("quiet-end").value,
        timezone: document.getElementById("quiet-timezone").value.trim(),
      };
    }
    const text = form.elements[name].value.trim();
    if (kind === "json") return text === "" ? null : JSON.parse(text);
    return text === "" && field.dataset.nullable === "true" ? null : text;
  }

  function setupTestSends() {
    document.querySelectorAll("[data-test-channel]").forEach(function (button) {
      button.addEventListener("click", async function () {
        const channel = button.dataset.testChannel;
        const result = document.getElementById("test-" + channel);
        button.disabled = true;
        result.textContent = "Sending…";
        const answer = await api("POST", "/users/me/notifications/test", { channel: channel });
        if (answer.status !== 202) {
          result.textContent = (answer.data && answer.data.message) || "Not sent (" + answer.status + ")";
          button.disabled = false;
          return;
        }
        const id = answer.data.id;
        for (let tries = 0; tries < 60; tries += 1) {
          const state = await api("GET", "/users/me/notifications/" + id);
          const message = state.data || {};
          if (message.state === "sent") {
            result.textContent = "Delivered to " + message.address + ".";
            break;
          }
          if (message.state === "failed") {
            result.textContent = "Failed: " + (message.last_error || "no reason given");
            break;
          }
          result.textContent = message.attempts ? "Retrying: " + (message.last_error || "") : "Sending…";
          await new Promise(function (done) { setTimeout(done, 1000); });
        }
        button.disabled = false;
      });
    });
  }

  function setupPreferences() {
    const form = document.getElementById("preferences");
    if (!form) return;
    const quiet = document.getElementById("pref-quiet_hours");
    if (quiet) {
      quiet.addEventListener("change", function () { document.getElementById("quiet-window").hidden = !quiet.checked; });
    }
    setupTestSends();
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const body = {};
      const formError = document.getElementById("form-error");
      formError.hidden = true;
      document.getElementById("saved").textContent = "";
      let broken = false;
      form.querySelectorAll(".pref").forEach(function (field) {
        const name = field.dataset.pref;
        const message = document.getElementById("error-" + name);
        message.hidden = true;
        field.querySelectorAll("[aria-invalid]").forEach(function (input) { input.removeAttribute("aria-invalid"); });
        try { body[name] = preferenceValue(form, field); }
        catch (ignored) { message.textContent = "not valid JSON"; message.hidden = false; broken = true; }
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
        message.textContent = flatten(errors[name]).join(" ");
        message.hidden = false;
        const input = form.querySelector("[data-pref='" + name + "'] input, [data-pref='" + name + "'] textarea");
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
  function subscribe(onRow, poll, onBatch) {
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
    if (onBatch) {
      source.addEventListener("batch", function (event) {
        try { onBatch(JSON.parse(event.data)); } catch (ignored) { /* as above */ }
      });
    }
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

  /* ---- fleet runs: the batch list and one batch's page (progress, counts, children, actions).
     A batch's "done" only grows and a terminal status is final, so a replayed older row
     (the stream resumes from before the page's query) never moves the page backwards. */
  function batchDone(batch) {
    return TERMINAL.reduce(function (sum, status) { return sum + (batch.counts[status] || 0); }, 0);
  }

  function staleBatch(node, batch) {
    const badge = node.querySelector("[data-field=status]");
    const over = badge && badge.textContent !== "running";
    const shown = Number(node.dataset.done || -1);
    return (over && batch.status === "running") || batchDone(batch) < shown;
  }

  function showBatchProgress(bar, batch) {
    const percent = batch.total ? Math.floor(batchDone(batch) * 100 / batch.total) : 100;
    bar.setAttribute("aria-valuenow", percent);
    bar.setAttribute("aria-valuetext", percent + "% done");
    bar.querySelector("[data-field=percent]").textContent = percent + "%";
    let x = 0;
    bar.querySelectorAll("rect[data-segment]").forEach(function (rect) {
      const width = batch.total ? (batch.counts[rect.dataset.segment] || 0) * 100 / batch.total : 0;
      rect.setAttribute("x", x.toFixed(3));
      rect.setAttribute("width", width.toFixed(3));
      x += width;
    });
    markSeen("batch-" + batch.id, percent);
    return percent;
  }

  function showBatchRow(node, batch) {
    if (staleBatch(node, batch)) return false;
    node.dataset.done = batchDone(batch);
    showBatchProgress(node.querySelector("[role=progressbar]"), batch);
    setStatus(node.querySelector("[data-field=status]"), batch.status);
    const finished = node.querySelector("[data-field=finished_at]");
    if (finished) finished.replaceChildren(timeNode(batch.finished_at));
    const summary = node.querySelector("[data-field=counts]");
    if (summary) {
      const parts = Object.keys(batch.counts).filter(function (status) { return batch.counts[status]; });
      summary.textContent = parts.map(function (status) { return batch.counts[status] + " " + status; }).join(", ") || "—";
    }
    node.querySelectorAll("[data-count]").forEach(function (tile) {
      tile.textContent = batch.counts[tile.dataset.count] || 0;
    });
    return true;
  }

  function runTime(seconds) {
    // as the page's run_time macro: under a second in milliseconds
    if (seconds === null || seconds === undefined) return "—";
    return seconds < 1 ? (seconds * 1000).toFixed(0) + " ms" : seconds.toFixed(1) + " s";
  }

  function showBatchChild(job) {
    const tr = document.getElementById("child-" + job.id);
    if (!tr) return; // on another page of the table
    const badge = tr.querySelector("[data-field=status]");
    if (TERMINAL.indexOf(badge.textContent) >= 0 && TERMINAL.indexOf(job.status) < 0) return;
    setStatus(badge, job.status);
    tr.querySelector("[data-field=attempts]").textContent = job.attempts;
    const took = tr.querySelector("[data-field=duration_seconds]");
    took.dataset.seconds = job.duration_seconds == null ? "" : job.duration_seconds;
    took.textContent = runTime(job.duration_seconds);
    const error = tr.querySelector("[data-field=error]");
    error.textContent = "";
    if (job.error_type) {
      const type = document.createElement("strong");
      type.textContent = job.error_type;
      error.appendChild(type);
      error.appendChild(document.createTextNode(": "));
    }
    error.appendChild(document.createTextNode((job.error_message || "").trim().split("\n")[0]));
  }

  function batchListPage() {
    const table = document.getElementById("batches");
    if (!table) return;
    function show(batch) {
      const tr = document.getElementById("batch-" + batch.id);
      if (tr) showBatchRow(tr, batch);
    }
    subscribe(function () { /* runs are shown on each batch's page */ }, async function () {
      const page = new URLSearchParams(location.search).get("page") || "1";
      const answer = await api("GET", "/batches?page_size=" + table.tBodies[0].rows.length + "&page=" + encodeURIComponent(page));
      if (answer.ok && Array.isArray(answer.data)) answer.data.forEach(show);
    }, show);
  }

  async function refreshBatchChildren() {
    // Polling only: this page's own rows, in its order, read again from the server.
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const rows = fresh.querySelector("#batch-children tbody");
    const table = document.querySelector("#batch-children tbody");
    if (rows && table) table.replaceWith(document.adoptNode(rows));
  }

  function batchPage() {
    const section = document.getElementById("batch");
    if (!section) return;
    const id = Number(section.dataset.batchId);
    const bar = section.querySelector("[role=progressbar]");
    markSeen("batch-" + id, Number(bar.getAttribute("aria-valuenow")));
    let lastCounts = "";

    function show(batch) {
      if (Number(batch.id) !== id || !showBatchRow(section, batch)) return false;
      const over = batch.status !== "running";
      const cancel = section.querySelector('[data-batch-action="cancel"]');
      if (cancel) cancel.hidden = over;
      const rerun = section.querySelector('[data-batch-action="rerun-failed"]');
      if (rerun) rerun.hidden = !(over && batch.counts.failed > 0);
      const counts = JSON.stringify(batch.counts);
      const changed = counts !== lastCounts;
      lastCounts = counts;
      return changed;
    }

    subscribe(function (job) {
      if (Number(job.batch_id) === id) showBatchChild(job);
    }, async function () {
      const answer = await api("GET", "/batches/" + id);
      if (answer.ok && show(answer.data)) refreshBatchChildren();
    }, show);
  }

  function setupBatchActions() {
    document.querySelectorAll("button[data-batch-action]").forEach(function (button) {
      button.addEventListener("click", async function () {
        if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
        const out = document.getElementById("action-result");
        const rerun = button.dataset.batchAction === "rerun-failed";
        button.disabled = true;
        const answer = await api("POST", button.dataset.url, rerun ? { only: "failed" } : undefined);
        if (answer.status === 202 && rerun) {
          location.assign("/ui/batches/" + answer.data.batch_id);
          return;
        }
        out.textContent = answer.status === 202
          ? "Canceled " + answer.data.canceled + " device(s) that had not started; running ones finish."
          : (answer.data && answer.data.message) || "Refused (" + answer.status + ")";
        out.className = "action-result" + (answer.status === 202 ? "" : " error");
        if (answer.status !== 202) button.disabled = false;
      });
    });
  }

  /* A refused form: each field's error beside it (#error-<field>), else the message below the page. */
  /* A refused request: the API's message in #action-result */
  function showRefused(answer) {
    const out = document.getElementById("action-result");
    out.textContent = (answer.data && answer.data.message) || "Refused (" + answer.status + ")";
    out.className = "action-result error";
  }

  /* A refused form: each 422 message beside its field (nested ones flattened), else the message */
  function showRefusal(form, answer) {
    form.querySelectorAll(".field-error").forEach(function (node) { node.hidden = true; });
    const fieldErrors = (answer.data && answer.data.errors && answer.data.errors.json) || {};
    const named = Object.keys(fieldErrors).filter(function (name) { return document.getElementById("error-" + name); });
    named.forEach(function (name) {
      const node = document.getElementById("error-" + name);
      node.textContent = flatten(fieldErrors[name]).join(" ");
      node.hidden = false;
    });
    if (!named.length) showRefused(answer);
  }

  /* "a, b ,c" -> ["a", "b", "c"] */
  function commaList(value) {
    return value.split(",").map(function (item) { return item.trim(); }).filter(Boolean);
  }

  /* ---- personal access tokens: make one (its secret shown once), revoke one */
  function setupTokens() {
    const form = document.getElementById("new-token");
    if (!form) return;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      form.querySelectorAll(".field-error").forEach(function (node) { node.hidden = true; });
      const body = { name: form.elements.name.value, expires_in_days: parseInt(form.elements.expires_in_days.value, 10) };
      const answer = await api("POST", form.dataset.url, body);
      if (answer.status === 201) {
        document.getElementById("token-value").textContent = answer.data.token;
        document.getElementById("token-secret").hidden = false;
        return;
      }
      showRefusal(form, answer);
    });
    document.querySelectorAll("button[data-revoke]").forEach(function (button) {
      button.addEventListener("click", async function () {
        if (!window.confirm(button.dataset.confirm)) return;
        button.disabled = true;
        const answer = await api("DELETE", button.dataset.revoke);
        const out = document.getElementById("action-result");
        if (answer.status === 204) {
          button.closest("tr").querySelector(".token-state").textContent = "revoked";
          button.remove();
          out.textContent = "Revoked.";
          out.className = "action-result";
        } else {
          out.textContent = (answer.data && answer.data.message) || "Refused (" + answer.status + ")";
          out.className = "action-result error";
          button.disabled = false;
        }
      });
    });
  }

  /* ---- maintenance windows: create (admins), end an active one now */
  function setupMaintenance() {
    const form = document.getElementById("new-window");
    function instant(value) { return value ? new Date(value).toISOString() : ""; }
    if (form) {
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        const match = {};
        ["devices", "sites", "tags"].forEach(function (name) {
          const values = commaList(form.elements[name].value);
          if (values.length) match[name] = values;
        });
        const schedules = commaList(form.elements.schedule_ids.value).map(Number);
        if (schedules.length) match.schedule_ids = schedules;
        const body = {
          starts_at: instant(form.elements.starts_at.value),
          ends_at: instant(form.elements.ends_at.value),
          match: match,
          skip_runs: form.elements.skip_runs.checked,
          reason: form.elements.reason.value,
        };
        const answer = await api("POST", form.dataset.url, body);
        if (answer.status === 201) { location.reload(); return; }
        showRefusal(form, answer);
      });
    }
    document.querySelectorAll("button[data-end-window]").forEach(function (button) {
      button.addEventListener("click", async function () {
        if (!window.confirm(button.dataset.confirm)) return;
        button.disabled = true;
        const answer = await api("PATCH", button.dataset.endWindow, { ends_at: new Date().toISOString() });
        if (answer.ok) { location.reload(); return; }
        showRefused(answer);
        button.disabled = false;
      });
    });
  }

  /* ---- teams: an admin creates one; its managers and admins add and remove members */
  function setupTeams() {
    const create = document.getElementById("new-team");
    if (create) {
      create.addEventListener("submit", async function (event) {
        event.preventDefault();
        const body = { name: create.elements.name.value, description: create.elements.description.value };
        const answer = await api("POST", "/teams", body);
        if (answer.status === 201) { location.assign("/ui/teams/" + answer.data.id); return; }
        showRefusal(create, answer);
      });
    }
    const add = document.getElementById("add-member");
    if (add) {
      add.addEventListener("submit", async function (event) {
        event.preventDefault();
        const url = add.dataset.url + encodeURIComponent(add.elements.user_id.value);
        const answer = await api("PUT", url, { role: add.elements.role.value });
        if (answer.status === 200) { location.reload(); return; }
        showRefusal(add, answer);
      });
    }
    document.querySelectorAll("button[data-remove-member]").forEach(function (button) {
      button.addEventListener("click", async function () {
        if (!window.confirm(button.dataset.confirm)) return;
        button.disabled = true;
        const answer = await api("DELETE", button.dataset.removeMember);
        if (answer.status === 204) { button.closest("tr").remove(); return; }
        showRefusal(add || document.body, answer);
        button.disabled = false;
      });
    });
  }

  /* ---- routes: make one (the API's 422 errors next to their field), delete one */
  function setupRoutes() {
    const form = document.getElementById("new-route");
    const out = document.getElementById("action-result");
    if (form) {
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        const team = form.elements.team_id.value;
        const events = Array.prototype.filter.call(form.querySelectorAll('input[name="events"]'),
          function (box) { return box.checked; }).map(function (box) { return box.value; });
        const body = {
          name: form.elements.name.value, team_id: team ? parseInt(team, 10) : null,
          channel: form.elements.channel.value, target: form.elements.target.value,
          match: { job_types: commaList(form.elements.job_types.value), sites: commaList(form.elements.sites.value),
                   tags: commaList(form.elements.tags.value), events: events },
        };
        const answer = await api("POST", form.dataset.url, body);
        if (answer.status === 201) { location.reload(); return; }
        showRefusal(form, answer);
      });
    }
    document.querySelectorAll("button[data-delete-route]").forEach(function (button) {
      button.addEventListener("click", async function () {
        if (!window.confirm(button.dataset.confirm)) return;
        button.disabled = true;
        const answer = await api("DELETE", button.dataset.deleteRoute);
        if (answer.status === 204) {
          button.closest("tr").remove();
          out.textContent = "Deleted.";
          out.className = "action-result";
        } else {
          showRefused(answer);
          button.disabled = false;
        }
      });
    });
  }

  // For forms.js (the launch and schedule forms): one API client, one way to show times and errors.
  window.NetRaven = { api: api, flatten: flatten, localTime: localTime };

  document.addEventListener("DOMContentLoaded", function () {
    localizeTimes(document);
    setupSignIn();
    setupActions();
    setupPreferences();
    setupTokens();
    setupMaintenance();
    setupTeams();
    setupRoutes();
    activePage();
    detailPage();
    setupBatchActions();
    batchListPage();
    batchPage();
  });
})();
