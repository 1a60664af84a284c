/* NetRaven dashboard: the launch and schedule forms. Their controls are generated from the job type's
   argument schema on the server; this script turns them into the API's JSON, sends it with the
   session (NetRaven.api, from ui.js), and puts each 422 message beside the field it names. It also
   counts the devices a fleet selector matches and previews a schedule's next runs as they change.
   Every value from the server is put in the page as text (textContent), never as HTML. */
"use strict";
(function () {
  const DEBOUNCE_MS = 250;
  const SUGGESTIONS = 20;
  const DEVICE_PREFIX = /^[A-Za-z0-9_.-]{1,253}$/; // what GET /devices?q= accepts
  const TIMING_FIELDS = ["interval_seconds", "cron", "timezone"];

  function debounce(run) {
    let timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(run, DEBOUNCE_MS); };
  }

  /* Answers can come back out of order: only the latest request of a kind may change the page. */
  function latestOnly() {
    let counter = 0;
    return { next: function () { counter += 1; return counter; }, isLatest: function (n) { return n === counter; } };
  }

  /* ---- errors beside their fields: the slot of field path P is #error-P (arguments.port, targets, cron) */
  function clearErrors(form, paths) {
    form.querySelectorAll(".field-error").forEach(function (slot) {
      const path = slot.id.slice("error-".length);
      if (paths && paths.indexOf(path) < 0) return;
      slot.hidden = true;
      slot.textContent = "";
      form.querySelectorAll('[aria-describedby~="' + slot.id + '"]').forEach(function (input) { input.removeAttribute("aria-invalid"); });
    });
    if (!paths) document.getElementById("form-error").hidden = true;
  }

  function showError(form, path, messages) {
    const slot = document.getElementById("error-" + path);
    if (!slot || !form.contains(slot)) return null;
    slot.textContent = NetRaven.flatten(messages).join(" ");
    slot.hidden = false;
    const input = form.querySelector('[aria-describedby~="error-' + path + '"]');
    if (input) input.setAttribute("aria-invalid", "true");
    return input || slot;
  }

  /* The API's field errors (errors.json, errors.query, or errors itself for a selection that matched
     nothing), each beside its field; a job type's own 422 under "arguments" goes one level down.
     ``prefix`` wraps them when the body was the arguments themselves (POST /jobs/{type}/runs). */
  function placeErrors(form, answer, prefix, only) {
    const data = answer.data || {};
    let errors = (data.errors && (data.errors.json || data.errors.query || data.errors)) || {};
    if (prefix) { const wrapped = {}; wrapped[prefix] = errors; errors = wrapped; }
    const unplaced = [];
    let first = null;
    function place(path, messages) {
      if (only && only.indexOf(path) < 0) return;
      const shown = showError(form, path, messages);
      if (shown) { first = first || shown; return; }
      unplaced.push(path + ": " + NetRaven.flatten(messages).join(" "));
    }
    Object.keys(errors).forEach(function (key) {
      const messages = errors[key];
      const nested = key === "arguments" && messages && typeof messages === "object" && !Array.isArray(messages);
      if (nested) Object.keys(messages).forEach(function (name) { place("arguments." + name, messages[name]); });
      else place(key, messages);
    });
    if (only) return first;
    if (first && first.focus) first.focus();
    if (!first || unplaced.length) {
      const top = document.getElementById("form-error");
      const reason = answer.status === 403 ? "Not allowed: " : "";
      const wait = answer.headers && answer.headers.get("Retry-After");
      top.textContent = reason + (unplaced.length ? unplaced.join("; ") : (data.message || "Refused (" + answer.status + ")"))
        + (wait ? " Try again in " + wait + " s." : "");
      top.hidden = false;
      if (!first) top.focus();
    }
    return first;
  }

  /* ---- the values of the generated controls */
  function argumentValue(field) {
    const kind = field.dataset.kind;
    const input = field.querySelector("input, select, textarea");
    if (kind === "checkbox") return input.checked;
    if (kind === "number" && input.validity.badInput) throw new Error("must be a number");
    const text = input.value.trim();
    if (text === "") return undefined; // the job type's default applies
    if (kind === "number") { const number = Number(text); return isNaN(number) ? text : number; }
    if (kind === "lines") return text.split("\n").map(function (line) { return line.trim(); }).filter(Boolean);
    if (kind === "json") {
      try { return JSON.parse(text); } catch (ignored) { throw new Error("not valid JSON"); }
    }
    return text;
  }

  /* The arguments as one object, or null after showing what the browser itself could not read. */
  function collectArguments(form) {
    const values = {};
    let broken = false;
    form.querySelectorAll("#arguments .arg").forEach(function (field) {
      try {
        const value = argumentValue(field);
        if (value !== undefined) values[field.dataset.arg] = value;
      } catch (problem) {
        showError(form, "arguments." + field.dataset.arg, problem.message);
        broken = true;
      }
    });
    return broken ? null : values;
  }

  function chosen(form, name) {
    const radio = form.querySelector("input[name=" + name + "]:checked");
    return radio ? radio.value : null;
  }

  function selector(form) {
    const targets = {};
    const site = document.getElementById("target-site").value;
    const platform = document.getElementById("target-platform").value;
    const tags = Array.prototype.map.call(form.querySelectorAll("input[name=target-tag]:checked"), function (box) { return box.value; });
    if (site) targets.site = site;
    if (platform) targets.platform = platform;
    if (tags.length) targets.tags = tags;
    return targets;
  }

  /* ---- the target picker: one device (with the inventory's names as suggestions) or a fleet */
  function setupTargetPicker(form) {
    const picker = document.getElementById("target-picker");
    if (!picker) return null;
    const deviceArg = picker.dataset.deviceArg;
    const deviceBox = document.getElementById("arg-" + deviceArg);
    const names = document.getElementById("device-names");
    const count = document.getElementById("target-count");
    const counting = latestOnly();
    const suggesting = latestOnly();

    async function countDevices() {
      const targets = selector(form);
      clearErrors(form, ["targets"]);
      if (!Object.keys(targets).length) {
        count.textContent = "Choose a site, a platform or tags.";
        delete count.dataset.count;
        return;
      }
      const query = new URLSearchParams({ enabled: "true", page_size: "1" });
      if (targets.site) query.set("site", targets.site);
      if (targets.platform) query.set("platform", targets.platform);
      (targets.tags || []).forEach(function (tag) { query.append("tag", tag); });
      const mine = counting.next();
      count.textContent = "Counting…";
      const answer = await NetRaven.api("GET", "/devices?" + query.toString());
      if (!counting.isLatest(mine)) return;
      if (!answer.ok) { count.textContent = (answer.data && answer.data.message) || "Could not count (" + answer.status + ")"; return; }
      const total = JSON.parse(answer.headers.get("X-Pagination") || "{}").total || 0;
      count.dataset.count = total;
      count.textContent = total === 1 ? "1 enabled device matches." : total + " enabled devices match.";
    }

    async function suggest() {
      const typed = deviceBox.value.trim();
      if (typed && !DEVICE_PREFIX.test(typed)) return;
      const query = new URLSearchParams({ enabled: "true", page_size: String(SUGGESTIONS) });
      if (typed) query.set("q", typed);
      const mine = suggesting.next();
      const answer = await NetRaven.api("GET", "/devices?" + query.toString());
      if (!suggesting.isLatest(mine) || !answer.ok || !Array.isArray(answer.data)) return;
      names.textContent = "";
      answer.data.forEach(function (device) {
        const option = document.createElement("option");
        option.value = device.name;
        option.label = [device.address, device.site, device.platform].filter(Boolean).join(" · ");
        names.appendChild(option);
      });
    }

    function showMode() {
      const fleet = chosen(form, "target-mode") === "fleet";
      document.getElementById("target-device").hidden = fleet;
      document.getElementById("target-fleet").hidden = !fleet;
      if (fleet) countDevices();
    }

    form.querySelectorAll("input[name=target-mode]").forEach(function (radio) { radio.addEventListener("change", showMode); });
    document.getElementById("target-fleet").addEventListener("change", countDevices);
    deviceBox.addEventListener("input", debounce(suggest));
    deviceBox.addEventListener("focus", suggest, { once: true });
    showMode();

    /* What the form sends: {targets} for a fleet, or the device in the arguments. */
    return function apply(body, argumentsOf) {
      if (chosen(form, "target-mode") === "fleet") { body.targets = selector(form); return "fleet"; }
      const device = deviceBox.value.trim();
      if (device) argumentsOf[deviceArg] = device;
      return "device";
    };
  }

  /* ---- /ui/jobs/{type}/launch: one device → POST /jobs/{type}/runs, a fleet → POST /jobs/{type}/batches */
  function setupLaunchForm() {
    const form = document.getElementById("launch-form");
    if (!form) return;
    const target = setupTargetPicker(form);
    const type = encodeURIComponent(form.dataset.jobType);
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      clearErrors(form);
      const args = collectArguments(form);
      if (args === null) return;
      const body = {};
      const mode = target ? target(body, args) : "device";
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      if (mode === "fleet") {
        body.arguments = args;
        const answer = await NetRaven.api("POST", "/jobs/" + type + "/batches", body);
        if (answer.status === 202) { location.assign("/ui/batches/" + answer.data.batch_id); return; }
        placeErrors(form, answer);
      } else {
        const answer = await NetRaven.api("POST", "/jobs/" + type + "/runs", args);
        if (answer.status === 202) { location.assign("/ui/job-logs/" + answer.data.job_log_id); return; }
        placeErrors(form, answer, "arguments");
      }
      button.disabled = false;
    });
  }

  /* ---- the schedule form: timing, the preview of the next five runs, create or save */
  function timingOf() {
    const interval = chosen(document.getElementById("schedule-form"), "timing-mode") === "interval";
    const count = document.getElementById("interval-count").value.trim();
    const unit = Number(document.getElementById("interval-unit").value);
    return {
      interval_seconds: interval && count !== "" ? (isNaN(Number(count)) ? count : Number(count) * unit) : null,
      cron: interval ? null : (document.getElementById("cron").value.trim() || null),
      timezone: document.getElementById("timezone").value.trim() || "UTC",
    };
  }

  function runWords(run, zone) {
    const at = new Date(run.at);
    const style = { weekday: "short", year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    let there;
    try { there = at.toLocaleString(undefined, Object.assign({ timeZone: zone }, style)); }
    catch (ignored) { there = run.local; } // a zone this browser does not know
    const here = at.toLocaleString(undefined, style);
    const minutes = Math.round((at - Date.now()) / 60000);
    const away = minutes < 60 ? minutes + " min" : minutes < 2880 ? Math.round(minutes / 60) + " h" : Math.round(minutes / 1440) + " days";
    return there + " (" + zone + ")" + (here !== there ? " · your time " + here : "") + " · in " + away;
  }

  function setupPreview(form) {
    const words = document.getElementById("preview-words");
    const list = document.getElementById("preview-runs");
    const previewing = latestOnly();

    async function refresh() {
      const timing = timingOf();
      const query = new URLSearchParams({ timezone: timing.timezone });
      if (timing.interval_seconds !== null) query.set("interval_seconds", String(timing.interval_seconds));
      if (timing.cron !== null) query.set("cron", timing.cron);
      const mine = previewing.next();
      const answer = await NetRaven.api("GET", "/schedules/preview?" + query.toString());
      if (!previewing.isLatest(mine)) return;
      clearErrors(form, TIMING_FIELDS);
      list.textContent = "";
      if (!answer.ok) {
        words.textContent = "No preview until the timing is valid.";
        placeErrors(form, answer, null, TIMING_FIELDS);
        return;
      }
      words.textContent = "Runs " + answer.data.description + ".";
      answer.data.runs.forEach(function (run) {
        const item = document.createElement("li");
        const time = document.createElement("time");
        time.setAttribute("datetime", run.at);
        time.textContent = runWords(run, answer.data.timezone);
        item.appendChild(time);
        list.appendChild(item);
      });
    }

    function showMode() {
      const interval = chosen(form, "timing-mode") === "interval";
      document.getElementById("timing-interval").hidden = !interval;
      document.getElementById("timing-cron").hidden = interval;
      refresh();
    }

    const later = debounce(refresh);
    ["interval-count", "interval-unit", "cron", "timezone"].forEach(function (id) {
      document.getElementById(id).addEventListener("input", later);
      document.getElementById(id).addEventListener("change", later);
    });
    form.querySelectorAll("input[name=timing-mode]").forEach(function (radio) { radio.addEventListener("change", showMode); });
    showMode();
  }

  function setupScheduleForm() {
    const form = document.getElementById("schedule-form");
    if (!form) return;
    const target = setupTargetPicker(form);
    setupPreview(form);
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      clearErrors(form);
      const args = collectArguments(form);
      if (args === null) return;
      const grace = document.getElementById("grace").value.trim();
      const body = Object.assign({ job_type: form.dataset.jobType }, timingOf(), {
        grace_seconds: grace === "" ? null : (isNaN(Number(grace)) ? grace : Number(grace)),
        description: document.getElementById("description").value.trim() || null,
        enabled: document.getElementById("enabled").checked,
      });
      if (target && target(body, args) === "device") body.targets = null;
      body.arguments = args;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      const answer = await NetRaven.api(form.dataset.method, form.dataset.url, body);
      if (answer.ok) { location.assign("/ui/schedules/" + answer.data.id); return; }
      placeErrors(form, answer);
      button.disabled = false;
    });
  }

  /* ---- Pause / Resume / Delete on a schedule's page */
  function setupScheduleActions() {
    document.querySelectorAll("button[data-schedule-action]").forEach(function (button) {
      button.addEventListener("click", async function () {
        if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
        const action = button.dataset.scheduleAction;
        const out = document.getElementById("action-result");
        button.disabled = true;
        const answer = action === "delete"
          ? await NetRaven.api("DELETE", button.dataset.url)
          : await NetRaven.api("PATCH", button.dataset.url, { enabled: action === "resume" });
        if (answer.ok) {
          if (action === "delete") location.assign("/ui/schedules");
          else location.reload();
          return;
        }
        out.textContent = (answer.data && answer.data.message) || "Refused (" + answer.status + ")";
        out.className = "action-result error";
        button.disabled = false;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupLaunchForm();
    setupScheduleForm();
    setupScheduleActions();
  });
})();
