// OrbitEOS web UI: plain ES module, no build step, no CDN. Talks to /api/* and /api/websocket.

const TOKEN_KEY = "orbiteos.token";
const DEVICE_DOMAINS = ["pv", "battery", "ev_charger", "meter"];
const ALERTS_ENTITY = "sensor.orbiteos_alerts";
const IDLE_KW = 0.05;

const ui = {
  token: null,
  user: null,
  config: null,
  recorder: false,
  entities: new Map(),
  automations: [],
  history: new Map(),
  ws: null,
  wsId: 0,
  backoff: 1000,
  trace: null, // {automation, runs, selected}
  renderQueued: false,
  changed: new Set(),
};

// --- tiny DOM helpers (no innerHTML with data) ------------------------------
const $ = (id) => document.getElementById(id);
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") el.setAttribute("class", value);
    else el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// --- formatting --------------------------------------------------------------
const num = (value) => {
  const n = Number.parseFloat(value);
  return Number.isFinite(n) ? n : null;
};
const kw = (value) => (value === null ? "–" : `${Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1)} kW`);
function ago(iso) {
  if (!iso) return "never";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleString();
}
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "–");
const friendly = (state) => state.attributes.friendly_name || state.entity_id.split(".")[1].replaceAll("_", " ");
const domainOf = (entityId) => entityId.split(".")[0];
const canOperate = () => ui.user && (ui.user.role === "operator" || ui.user.role === "admin");

// --- API ---------------------------------------------------------------------
async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${ui.token}`, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  const text = await response.text();
  let body = text;
  if ((response.headers.get("Content-Type") || "").includes("json")) {
    try { body = JSON.parse(text); } catch { /* keep the text */ }
  }
  if (response.status === 401) {
    signOut("Your token was refused (revoked or invalid). Sign in again.");
  }
  if (!response.ok) {
    const error = new Error((body && body.message) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

async function callService(domain, service, data) {
  return api(`/api/services/${domain}/${service}`, { method: "POST", body: JSON.stringify(data) });
}

// --- sign in / out -------------------------------------------------------------
async function signIn(token) {
  ui.token = token;
  try {
    ui.user = await api("/api/auth/whoami");
  } catch (error) {
    ui.token = null;
    throw error;
  }
  localStorage.setItem(TOKEN_KEY, token);
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  $("connection").hidden = false;
  $("whoami").textContent = `${ui.user.name} · ${ui.user.role}`;
  $("reload-automations").hidden = ui.user.role !== "admin";
  await start();
}

function signOut(message = "") {
  localStorage.removeItem(TOKEN_KEY);
  ui.token = null;
  ui.user = null;
  if (ui.ws) {
    ui.ws.onclose = null;
    ui.ws.close();
    ui.ws = null;
  }
  setConnection(false);
  $("connection").hidden = true;
  $("app").hidden = true;
  $("signout").hidden = true;
  $("whoami").textContent = "";
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("token-input").value = "";
}

async function start() {
  ui.config = await api("/api/config");
  $("site-name").textContent = ui.config.location_name || "";
  document.title = `OrbitEOS · ${ui.config.location_name || ""}`;
  ui.recorder = Boolean(ui.config.history);
  connect();
  await loadAutomations();
  if (ui.recorder) loadHistory();
  else $("history-note").textContent = "History sparklines appear when the recorder is set up.";
}

// --- websocket -------------------------------------------------------------------
function setConnection(live) {
  const el = $("connection");
  el.textContent = live ? "live" : "offline";
  el.className = `connection ${live ? "live" : "offline"}`;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/websocket`);
  ui.ws = ws;
  ui.wsId = 0;
  const send = (message) => {
    ui.wsId += 1;
    ws.send(JSON.stringify({ id: ui.wsId, ...message }));
    return ui.wsId;
  };
  let statesId = null;
  ws.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "auth_required") {
      ws.send(JSON.stringify({ type: "auth", access_token: ui.token }));
    } else if (data.type === "auth_invalid") {
      signOut(data.message);
    } else if (data.type === "auth_ok") {
      ui.backoff = 1000;
      setConnection(true);
      send({ type: "subscribe_events", event_type: "state_changed" });
      statesId = send({ type: "get_states" });
    } else if (data.type === "result" && data.id === statesId && data.success) {
      ui.entities = new Map(data.result.map((state) => [state.entity_id, state]));
      queueRender(true);
    } else if (data.type === "event" && data.event.event_type === "state_changed") {
      onStateChanged(data.event.data);
    }
  };
  ws.onclose = () => {
    setConnection(false);
    if (!ui.token) return;
    setTimeout(() => ui.token && connect(), ui.backoff);
    ui.backoff = Math.min(ui.backoff * 2, 30000);
  };
}

function onStateChanged({ entity_id: entityId, new_state: newState }) {
  if (newState) ui.entities.set(entityId, newState);
  else ui.entities.delete(entityId);
  ui.changed.add(entityId);
  if (newState && ui.recorder && DEVICE_DOMAINS.includes(domainOf(entityId))) {
    const series = ui.history.get(entityId);
    const value = num(newState.state);
    if (series && value !== null) series.push([Date.parse(newState.last_updated), value]);
  }
  if (domainOf(entityId) === "automation") scheduleAutomationRefresh();
  queueRender(false);
}

let automationTimer = null;
function scheduleAutomationRefresh() {
  if (automationTimer) return;
  automationTimer = setTimeout(async () => {
    automationTimer = null;
    await loadAutomations();
    if (ui.trace) await openTrace(ui.trace.automation, { selectNewest: false, scroll: false });
  }, 250);
}

function queueRender(full) {
  if (full) ui.fullRender = true;
  if (ui.renderQueued) return;
  ui.renderQueued = true;
  requestAnimationFrame(() => {
    ui.renderQueued = false;
    renderAlerts();
    renderFlow();
    renderDevices();
    renderEntities(ui.fullRender);
    ui.fullRender = false;
    ui.changed.clear();
  });
}

// --- alerts: fail-safe states and setpoint conflicts (sensor.orbiteos_alerts) ----------
function renderAlerts() {
  const state = ui.entities.get(ALERTS_ENTITY);
  const alerts = (state && state.attributes.alerts) || [];
  $("alerts").hidden = alerts.length === 0;
  $("alert-list").replaceChildren(...alerts.map((alert) => h("li", { class: `alert alert-${alert.kind}` },
    h("span", { class: "alert-kind" }, alert.kind === "failsafe" ? "Fail-safe" : "Setpoint conflict"),
    " ", alert.message)));
}

// --- site at a glance ---------------------------------------------------------------
function sumDomain(domain) {
  const states = [...ui.entities.values()].filter((st) => domainOf(st.entity_id) === domain);
  const values = states.map((st) => num(st.state)).filter((v) => v !== null);
  return { count: states.length, power: values.length ? values.reduce((a, b) => a + b, 0) : null, states,
    complete: values.length === states.length };
}

function renderFlow() {
  const svg = $("flow");
  svg.replaceChildren();
  const pv = sumDomain("pv");
  const battery = sumDomain("battery");
  const grid = sumDomain("meter");
  const ev = sumDomain("ev_charger");
  // Signs (DESIGN.md): pv >= 0 produces; battery + discharges; meter + imports; ev >= 0 consumes.
  const load = (pv.power || 0) + (battery.power || 0) + (grid.power || 0) - (ev.power || 0);
  const center = { x: 320, y: 165, r: 50 };
  const nodes = [
    { key: "pv", label: "Solar", x: 110, y: 62, part: pv, toSite: pv.power },
    { key: "grid", label: "Grid", x: 530, y: 62, part: grid, toSite: grid.power },
    { key: "battery", label: "Battery", x: 110, y: 262, part: battery, toSite: battery.power },
    { key: "ev", label: "EV", x: 530, y: 262, part: ev, toSite: ev.power === null ? null : -ev.power },
  ];
  svg.append(s("defs", {}, ...nodes.map((node) => s("marker", {
    id: `arrow-${node.key}`, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "5", markerHeight: "5",
    orient: "auto-start-reverse", class: `arrowhead ${node.key}`,
  }, s("path", { d: "M 0 0 L 10 5 L 0 10 z" })))));
  for (const node of nodes) {
    const flow = node.toSite;
    const active = flow !== null && Math.abs(flow) >= IDLE_KW;
    // The line runs from circle edge to circle edge, in the direction the power flows.
    const dx = center.x - node.x;
    const dy = center.y - node.y;
    const length = Math.hypot(dx, dy);
    const [ux, uy] = [dx / length, dy / length];
    let from = [node.x + ux * 48, node.y + uy * 48];
    let to = [center.x - ux * (center.r + 4), center.y - uy * (center.r + 4)];
    if (active && flow < 0) [from, to] = [to, from];
    const attrs = {
      class: `link ${node.key}${active ? " active" : ""}`,
      d: `M ${from[0].toFixed(1)} ${from[1].toFixed(1)} L ${to[0].toFixed(1)} ${to[1].toFixed(1)}`,
      "data-flow": node.key, "data-direction": !active ? "idle" : flow > 0 ? "to-site" : "from-site",
    };
    if (active) attrs["marker-end"] = `url(#arrow-${node.key})`;
    svg.append(s("path", attrs));
  }
  const circle = (node, radius, ...content) =>
    s("g", { class: `node ${node.key}${node.part && node.part.count === 0 ? " absent" : ""}`, "data-node": node.key },
      s("circle", { cx: node.x, cy: node.y, r: radius }), ...content);
  for (const node of nodes) {
    const value = node.part.power;
    const sub = [];
    if (node.key === "grid" && value !== null) sub.push(value > IDLE_KW ? "importing" : value < -IDLE_KW ? "exporting" : "idle");
    if (node.key === "battery" && value !== null) {
      sub.push(value > IDLE_KW ? "discharging" : value < -IDLE_KW ? "charging" : "idle");
    }
    if (node.key === "ev" && ev.states[0]) sub.push(ev.states[0].attributes.status || "");
    const parts = [
      s("text", { class: "label", x: node.x, y: node.y - 16 }, node.label),
      s("text", { class: "value", x: node.x, y: node.y + 7, "data-value": node.key },
        node.part.count ? kw(value === null ? null : Math.abs(value)) : "none"),
      s("text", { class: "sub", x: node.x, y: node.y + 24 }, sub.join(" ")),
    ];
    if (node.key === "battery" && battery.states.length) {
      const socs = battery.states.map((st) => num(st.attributes.soc)).filter((v) => v !== null);
      if (socs.length) {
        const soc = socs.reduce((a, b) => a + b, 0) / socs.length;
        parts.push(
          s("rect", { class: "soc-back", x: node.x - 34, y: node.y + 52, width: 68, height: 8, rx: 4 }),
          s("rect", { class: "soc-fill", x: node.x - 34, y: node.y + 52, width: (68 * Math.max(0, Math.min(100, soc))) / 100,
            height: 8, rx: 4 }),
          s("text", { class: "sub", x: node.x, y: node.y + 76, "data-soc": "battery" }, `SoC ${soc.toFixed(0)} %`),
        );
      }
    }
    svg.append(circle(node, 44, ...parts));
  }
  const any = pv.count + battery.count + grid.count + ev.count > 0;
  // With a device unavailable (a lost meter, say) the site load is unknown, not a sum of the rest.
  const known = [pv, battery, grid, ev].every((part) => part.complete);
  svg.append(circle({ key: "site", x: center.x, y: center.y, part: null }, center.r,
    s("text", { class: "label", x: center.x, y: center.y - 14 }, "Site load"),
    s("text", { class: "value", x: center.x, y: center.y + 10, "data-value": "site" },
      any && known ? kw(load) : "–")));
  $("flow-note").textContent = any
    ? "Arrows move in the direction power flows. Site load = solar + battery + grid − EV."
    : "No pv, battery, meter or ev_charger entities yet.";
}

// --- devices -------------------------------------------------------------------------
const DEVICE_ATTRS = {
  pv: [["limit_kw", "limit", "kW"], ["energy_kwh", "today", "kWh"]],
  battery: [["soc", "SoC", "%"], ["setpoint_kw", "setpoint", "kW"], ["capacity_kwh", "capacity", "kWh"]],
  ev_charger: [["status", "", ""], ["limit_kw", "limit", "kW"], ["session_kwh", "session", "kWh"]],
  meter: [["frequency_hz", "", "Hz"], ["import_kwh", "import", "kWh"], ["export_kwh", "export", "kWh"]],
};

function renderDevices() {
  const container = $("devices");
  const devices = [...ui.entities.values()]
    .filter((st) => DEVICE_DOMAINS.includes(domainOf(st.entity_id)))
    .sort((a, b) => DEVICE_DOMAINS.indexOf(domainOf(a.entity_id)) - DEVICE_DOMAINS.indexOf(domainOf(b.entity_id))
      || a.entity_id.localeCompare(b.entity_id));
  container.replaceChildren(...devices.map((st) => {
    const domain = domainOf(st.entity_id);
    const unavailable = st.state === "unavailable" || st.state === "unknown";
    const value = num(st.state);
    const attrs = (DEVICE_ATTRS[domain] || [])
      .filter(([key]) => st.attributes[key] !== undefined && st.attributes[key] !== null)
      .map(([key, label, unit]) => `${label ? `${label} ` : ""}${st.attributes[key]}${unit ? ` ${unit}` : ""}`);
    return h("div", { class: `device ${domain}${unavailable ? " unavailable" : ""}`, dataset: { entityId: st.entity_id } },
      h("div", { class: "name" }, friendly(st)),
      h("div", { class: "power" }, unavailable ? st.state : value === null ? st.state : kw(value)),
      h("div", { class: "attrs" }, attrs.join(" · ")),
      ui.recorder ? sparkline(ui.history.get(st.entity_id)) : null);
  }));
}

function sparkline(series) {
  const svg = s("svg", { class: "spark", viewBox: "0 0 200 36", preserveAspectRatio: "none" });
  if (!series || series.length < 2) return svg;
  const xs = series.map((p) => p[0]);
  const ys = series.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-6) { y0 -= 1; y1 += 1; }
  const points = series.map(([x, y]) => `${(((x - x0) / (x1 - x0 || 1)) * 200).toFixed(1)},${(34 - ((y - y0) / (y1 - y0)) * 32).toFixed(1)}`);
  svg.append(s("polyline", { points: points.join(" ") }));
  return svg;
}

async function loadHistory() {
  const ids = [...ui.entities.keys()].filter((id) => DEVICE_DOMAINS.includes(domainOf(id)));
  if (!ids.length) {
    setTimeout(loadHistory, 2000);
    return;
  }
  const start = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
  try {
    // Ten-minute buckets keep a day of a 1 Hz device to 144 points.
    const query = `filter_entity_id=${ids.join(",")}&bucket=600`;
    const result = await api(`/api/history/period/${encodeURIComponent(start)}?${query}`);
    for (const series of result) {
      if (!series.length) continue;
      const points = series.map((b) => [Date.parse(b.start), num(b.mean)]).filter((p) => p[1] !== null);
      ui.history.set(series[0].entity_id, points);
    }
    $("history-note").textContent = "Sparklines: the last 24 hours from the recorder.";
  } catch (error) {
    $("history-note").textContent = `History unavailable: ${error.message}`;
  }
  queueRender(false);
  setTimeout(loadHistory, 5 * 60 * 1000);
}

// --- automations ------------------------------------------------------------------------
async function loadAutomations() {
  try {
    ui.automations = await api("/api/automations");
  } catch (error) {
    $("automations-note").textContent = `Automations unavailable: ${error.message}`;
    return;
  }
  renderAutomations();
}

// An automation that did not validate: no switch, no actions, its errors with file:line.
function unavailableRow(a) {
  return h("tr", { class: "unavailable", dataset: { automationId: a.id, state: "unavailable" } },
    h("td", {}, h("span", { class: "muted" }, "unavailable")),
    h("td", {}, h("span", { class: "alias" }, a.alias || a.id),
      h("div", { class: "muted small" }, a.entity_id),
      h("ul", { class: "errors small" }, ...(a.errors || []).map((e) => h("li", {}, e)))),
    h("td", { class: "muted" }, ""),
    h("td", {}, ""),
    h("td", { class: "actions" }, ""));
}

function renderAutomations() {
  const body = $("automations").querySelector("tbody");
  const operate = canOperate();
  const why = operate ? undefined : "needs the operator role";
  body.replaceChildren(...ui.automations.map((a) => a.state === "unavailable" ? unavailableRow(a) : h("tr", { dataset: { automationId: a.id } },
    h("td", {}, h("button", {
      class: `switch${a.enabled ? " on" : ""}`, "aria-label": a.enabled ? "turn off" : "turn on",
      "aria-pressed": a.enabled ? "true" : "false", disabled: !operate, title: why, dataset: { action: "toggle" },
      onclick: () => act(a, a.enabled ? "turn_off" : "turn_on"),
    })),
    h("td", {}, h("span", { class: "alias" }, a.alias || a.id),
      a.current ? h("span", { class: "running" }, `running ×${a.current}`) : null,
      h("div", { class: "muted small" }, a.entity_id)),
    h("td", { class: "muted" }, a.mode),
    h("td", { title: a.last_triggered || "", dataset: { lastTriggered: a.last_triggered || "" } }, ago(a.last_triggered)),
    h("td", { class: "actions" },
      h("button", { class: "ghost", disabled: !operate, title: why, dataset: { action: "run" },
        onclick: () => act(a, "trigger") }, "Run"),
      h("button", { class: "ghost", dataset: { action: "trace" }, onclick: () => openTrace(a, { selectNewest: true, scroll: true }) }, "Trace")))));
  // The note may hold the outcome of the last action; only the empty-list text is ours to change.
  const note = $("automations-note");
  const EMPTY = "No automations configured.";
  if (!ui.automations.length && !note.textContent) note.textContent = EMPTY;
  else if (ui.automations.length && note.textContent === EMPTY) note.textContent = "";
}

async function act(automation, service) {
  const started = performance.now();
  $("automations-note").textContent = "";
  try {
    await callService("automation", service, { entity_id: automation.entity_id });
  } catch (error) {
    $("automations-note").textContent = `${service.replace("_", " ")} ${automation.alias}: ${error.message}`;
  }
  await loadAutomations();
  if (ui.trace && ui.trace.automation.id === automation.id) {
    await openTrace(automation, { selectNewest: service === "trigger", scroll: false, since: started });
  }
}

async function reloadAutomations() {
  const note = $("automations-note");
  note.textContent = "Reloading…";
  try {
    await callService("automation", "reload", {});
    note.textContent = "Automations reloaded.";
  } catch (error) {
    note.textContent = `Reload refused: ${error.message}`;
  }
  await loadAutomations();
}

// --- traces -----------------------------------------------------------------------------
async function openTrace(automation, { selectNewest, scroll, since = performance.now() }) {
  let runs;
  try {
    runs = await api(`/api/automations/${encodeURIComponent(automation.id)}/traces`);
  } catch (error) {
    $("automations-note").textContent = `Traces of ${automation.alias}: ${error.message}`;
    return;
  }
  const same = ui.trace && ui.trace.automation.id === automation.id;
  const previous = same ? ui.trace.selected : null;
  const newest = runs.length ? runs[runs.length - 1].run_id : null;
  const pickedAt = same ? ui.trace.pickedAt : 0;
  // A run the user picked after this request began wins over "show the newest".
  const showNewest = (selectNewest && !(pickedAt > since)) || !previous;
  ui.trace = { automation, runs, selected: showNewest ? newest : previous, pickedAt };
  renderTrace();
  if (scroll) $("trace-panel").scrollIntoView({ block: "start" });
  await renderExplain(automation);
}

// "Why didn't it fire?": each trigger's last value, arming, pending `for:` and refusals.
async function renderExplain(automation) {
  let report;
  try {
    report = await api(`/api/automations/${encodeURIComponent(automation.id)}/explain`);
  } catch (error) {
    $("trace-explain-lines").replaceChildren(h("li", { class: "error" }, error.message));
    return;
  }
  if (!ui.trace || ui.trace.automation.id !== automation.id) return;
  const lines = report.summary.length ? report.summary : ["nothing noted yet"];
  $("trace-explain-lines").replaceChildren(...lines.map((line) => h("li", {}, line)));
}

function renderTrace() {
  const panel = $("trace-panel");
  const { automation, runs, selected } = ui.trace;
  panel.hidden = false;
  $("trace-title").textContent = `Trace · ${automation.alias || automation.id}`;
  $("trace-runs").replaceChildren(...[...runs].reverse().map((run) => h("li", {},
    h("button", {
      class: run.run_id === selected ? "selected" : "", dataset: { runId: run.run_id },
      onclick: () => { ui.trace.selected = run.run_id; ui.trace.pickedAt = performance.now(); renderTrace(); },
    }, h("div", {}, time(run.started), " ", badge(run.result, run.error)),
    h("div", { class: "muted small" }, run.trigger_description || "")))));
  const run = runs.find((r) => r.run_id === selected);
  const detail = $("trace-detail");
  if (!run) {
    detail.replaceChildren(h("p", { class: "muted" }, "No runs yet. Press Run, or wait for a trigger."));
    return;
  }
  detail.replaceChildren(
    h("div", { class: "trace-summary" },
      h("div", {}, h("strong", {}, "Triggered by "), run.trigger_description || describeTrigger(run.trigger)),
      h("div", { class: "muted small" }, `started ${new Date(run.started).toLocaleString()}`,
        run.finished ? ` · finished ${time(run.finished)}` : " · still running", ` · run ${run.run_id}`),
      run.error ? h("div", { class: "error" }, run.error) : null),
    h("ol", { class: "steps" }, ...(run.steps || []).map(renderStep)),
  );
}

function badge(result, error) {
  if (!result && !error) return h("span", { class: "badge" }, "running");
  const ok = !error && !/(error|fail|abort)/i.test(result || "");
  return h("span", { class: `badge ${ok ? "pass" : "fail"}` }, result || "error");
}

function describeTrigger(trigger) {
  if (!trigger) return "unknown";
  if (trigger.platform) return `${trigger.platform}${trigger.entity_id ? ` of ${trigger.entity_id}` : ""}`;
  return JSON.stringify(trigger);
}

const STEP_SKIP = new Set(["path", "timestamp", "alias", "description", "result", "error"]);
const show = (value) => (typeof value === "string" ? value : JSON.stringify(value));
// {"battery.main": 64} -> "battery.main = 64": what a condition saw, per entity.
const seenValue = (value) => (value && typeof value === "object" && !Array.isArray(value)
  ? Object.entries(value).map(([key, v]) => `${key} = ${show(v)}`).join(", ") : show(value));

// One sentence saying what the step saw and did; the raw record stays one click away.
function stepSentence(step) {
  if (step.enabled === false) return "disabled, skipped";
  if (step.condition) {
    const seen = [];
    for (const key of ["value", "state", "rendered", "now", "id"]) {
      if (step[key] !== undefined && step[key] !== null) seen.push(`saw ${seenValue(step[key])}`);
    }
    for (const key of ["above", "below", "wanted", "after", "before"]) {
      if (step[key] !== undefined && step[key] !== null) seen.push(`${key} ${show(step[key])}`);
    }
    return `${step.condition} condition${seen.length ? `: ${seen.join(", ")}` : ""}`;
  }
  if (step.service) {
    const target = step.target && step.target.entity_id ? ` on ${show(step.target.entity_id)}` : "";
    const data = step.data && Object.keys(step.data).length ? ` with ${show(step.data)}` : "";
    return `called ${step.service}${target}${data}`;
  }
  if (step.delay !== undefined) return `delay of ${step.delay} s${step.done === false ? " (interrupted)" : ""}`;
  if (step.choice !== undefined) return `took ${step.choice === null ? "no branch" : `branch ${show(step.choice)}`}`;
  if (step.wait !== undefined || step.timed_out !== undefined) return step.timed_out ? "wait timed out" : "wait completed";
  if (step.iterations !== undefined) return `repeated ${step.iterations} time(s)`;
  if (step.event !== undefined) return `fired event ${step.event}`;
  if (step.variables !== undefined) return `set variables ${show(step.variables)}`;
  if (step.stop !== undefined) return `stopped: ${step.stop}`;
  return "";
}

function renderStep(step) {
  const verdict = typeof step.result === "boolean" ? step.result
    : step.result && typeof step.result === "object" && typeof step.result.result === "boolean"
      ? step.result.result : null;
  const kind = step.path.split("/")[0];
  const headline = step.alias || step.description || (step.condition ? "condition" : step.service ? "action" : kind);
  const rest = Object.fromEntries(Object.entries(step).filter(([key]) => !STEP_SKIP.has(key)));
  if (step.result !== undefined && typeof step.result !== "boolean") rest.result = step.result;
  const sentence = stepSentence(step);
  return h("li", { class: `step ${verdict === true ? "pass" : verdict === false || step.error ? "fail" : ""}`,
    dataset: { path: step.path } },
  h("div", {}, h("span", { class: "what" }, headline),
    verdict !== null ? h("span", { class: `badge ${verdict ? "pass" : "fail"}` }, verdict ? "true" : "false") : null,
    h("span", { class: "path" }, ` ${step.path} · ${time(step.timestamp)}`)),
  sentence ? h("div", { class: "sentence" }, sentence) : null,
  step.error ? h("div", { class: "error" }, step.error) : null,
  Object.keys(rest).length ? h("details", {}, h("summary", { class: "muted small" }, "details"),
    h("pre", { class: "kv" }, formatDetails(rest))) : null);
}

function formatDetails(details) {
  return Object.entries(details).map(([key, value]) => `${key}: ${show(value)}`).join("\n");
}

// --- entities by domain -----------------------------------------------------------------
function renderEntities(full) {
  const container = $("entities");
  const filter = $("entity-filter").value.trim().toLowerCase();
  if (!full && !filter) {
    let missing = false;
    for (const entityId of ui.changed) {
      const row = container.querySelector(`tr[data-entity-id="${CSS.escape(entityId)}"]`);
      const st = ui.entities.get(entityId);
      if (!row || !st) { missing = true; break; }
      row.replaceWith(entityRow(st, true));
    }
    if (!missing) return;
  }
  const groups = new Map();
  for (const st of [...ui.entities.values()].sort((a, b) => a.entity_id.localeCompare(b.entity_id))) {
    if (filter && !st.entity_id.includes(filter) && !friendly(st).toLowerCase().includes(filter)) continue;
    const domain = domainOf(st.entity_id);
    if (!groups.has(domain)) groups.set(domain, []);
    groups.get(domain).push(st);
  }
  container.replaceChildren(...[...groups.entries()].map(([domain, states]) =>
    h("div", { class: "domain", dataset: { domain } },
      h("h3", {}, `${domain} (${states.length})`),
      h("table", {}, h("tbody", {}, ...states.map((st) => entityRow(st, ui.changed.has(st.entity_id))))))));
}

function entityRow(st, flash) {
  const unit = st.attributes.unit_of_measurement || (DEVICE_DOMAINS.includes(domainOf(st.entity_id)) && num(st.state) !== null ? "kW" : "");
  return h("tr", { class: flash ? "flash" : "", dataset: { entityId: st.entity_id } },
    h("td", { class: "entity" }, h("div", {}, friendly(st)), h("div", { class: "id" }, st.entity_id)),
    h("td", { class: "state", dataset: { state: st.state } }, `${st.state}${unit ? ` ${unit}` : ""}`),
    h("td", { class: "changed", title: st.last_changed }, time(st.last_changed)));
}

// --- wiring -----------------------------------------------------------------------------
function init() {
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("signin-error").textContent = "";
    try {
      await signIn($("token-input").value.trim());
    } catch (error) {
      $("signin-error").textContent = error.status === 401 ? "That token was not accepted." : error.message;
    }
  });
  $("signout").addEventListener("click", () => signOut());
  $("reload-automations").addEventListener("click", reloadAutomations);
  $("trace-close").addEventListener("click", () => { ui.trace = null; $("trace-panel").hidden = true; });
  $("entity-filter").addEventListener("input", () => queueRender(true));
  setInterval(() => { if (ui.user) renderAutomations(); }, 30000);
  const saved = localStorage.getItem(TOKEN_KEY);
  if (saved) {
    signIn(saved).catch(() => signOut("Your saved token is no longer accepted."));
  } else {
    signOut();
  }
}

init();
