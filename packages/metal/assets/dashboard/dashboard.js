// The dashboard page: renders the snapshot from GET events, then replaces one host card, the
// unknown machines that changed or the deploy table per server-sent event. Plain DOM, no framework
// (docs/decisions/0100-dashboard-without-a-framework.md); text only through textContent.

/** Phase as text plus a symbol, so the page reads without colour. */
const PHASE_SYMBOLS = {
  pending: "○",
  waking: "◔",
  pxe: "◑",
  installer: "◕",
  installing: "⟳",
  installed: "●",
  ready: "✓",
  failed: "✗",
};
const DEPLOY_SYMBOLS = { waiting: "○", skipped: "–", running: "⟳", done: "✓", failed: "✗" };

const hosts = new Map();
const byId = (id) => document.getElementById(id);

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) if (child) element.append(child);
  return element;
}

function phaseLabel(phase) {
  return `${PHASE_SYMBOLS[phase] ?? "?"} ${phase}`;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

function bytes(count) {
  if (count < 1024) return `${count} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = count / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function fileName(path) {
  return decodeURIComponent(path.split("?")[0].split("/").pop() ?? path);
}

function downloadsTable(downloads) {
  if (downloads.length === 0) return undefined;
  return h(
    "table",
    { class: "downloads" },
    h("caption", { class: "visually-hidden", text: "Boot file downloads" }),
    h(
      "thead",
      {},
      h("tr", {}, h("th", { text: "File" }), h("th", { text: "Progress" }), h("th", { text: "" })),
    ),
    h(
      "tbody",
      {},
      downloads.map((download) => {
        const state =
          download.state === "done"
            ? `✓ ${bytes(download.bytes)} in ${download.durationMs} ms`
            : download.state === "aborted"
              ? `✗ aborted after ${bytes(download.bytes)}`
              : `⟳ ${bytes(download.size)} on the way`;
        return h(
          "tr",
          {},
          h("td", {}, h("code", { text: fileName(download.path) })),
          h(
            "td",
            {},
            h("progress", {
              max: download.size || 1,
              value: download.state === "running" ? undefined : download.bytes,
              "aria-label": `${fileName(download.path)} progress`,
            }),
          ),
          h("td", { text: state }),
        );
      }),
    ),
  );
}

function hostCard(host, open) {
  const key = (section) => `${host.name}:${section}`;
  const timeline = h(
    "details",
    { "data-key": key("timeline"), open: open.has(key("timeline")) || host.phase === "failed" },
    h("summary", { text: `Timeline (${host.timeline.length} steps)` }),
    h(
      "ol",
      { class: "timeline" },
      host.timeline.map((entry) =>
        h(
          "li",
          { "data-level": entry.level },
          h("time", { datetime: new Date(entry.time).toISOString(), text: clock(entry.time) }),
          entry.level === "error" ? "✗ " : entry.level === "warn" ? "⚠ " : "",
          entry.text,
          entry.count > 1 ? ` (×${entry.count})` : "",
        ),
      ),
    ),
  );
  const log =
    host.logTail.length > 0
      ? h(
          "details",
          { "data-key": key("log"), open: open.has(key("log")) },
          h("summary", { text: "Install log (last lines)" }),
          h("pre", { class: "log", tabindex: 0, text: host.logTail.join("\n") }),
        )
      : undefined;
  return [
    h(
      "h3",
      {},
      h("span", { text: host.name }),
      h("span", { class: "phase", "data-phase": host.phase, text: phaseLabel(host.phase) }),
    ),
    h(
      "p",
      { class: "meta" },
      h("code", { text: host.mac }),
      ` · ${host.address} · ${host.role}`,
      host.attempt ? ` · attempt ${host.attempt}` : "",
      host.since ? ` · since ${clock(host.since)}` : "",
    ),
    h("p", { class: "last-step", text: host.lastStep }),
    host.failure
      ? h(
          "div",
          { class: "failure", role: "alert" },
          h("strong", { text: `✗ Failed in ${host.failure.phase}` }),
          host.failure.reason,
        )
      : undefined,
    host.hints.map((hint) =>
      h(
        "div",
        { class: "hint", "data-hint": hint.id },
        h("strong", { text: `⚠ ${hint.symptom}` }),
        `Likely fix: ${hint.fix}`,
      ),
    ),
    downloadsTable(host.downloads),
    timeline,
    log,
  ];
}

function renderHost(host) {
  const previous = hosts.get(host.name);
  hosts.set(host.name, host);
  let card = document.querySelector(`article[data-host="${CSS.escape(host.name)}"]`);
  if (!card) {
    card = h("article", { class: "host", "data-host": host.name, "aria-label": host.name });
    byId("host-list").append(card);
  }
  const open = new Set(
    [...card.querySelectorAll("details[open]")].map((details) => details.dataset.key),
  );
  const focusedKey = card.contains(document.activeElement)
    ? document.activeElement.closest("[data-key]")?.dataset.key
    : undefined;
  card.dataset.phase = host.phase;
  card.replaceChildren(...hostCard(host, open).flat().filter(Boolean));
  if (focusedKey) card.querySelector(`[data-key="${CSS.escape(focusedKey)}"] summary`)?.focus();
  if (previous && previous.phase !== host.phase)
    announce(`${host.name}: ${phaseLabel(host.phase)}`);
}

function renderSummary() {
  const counts = new Map();
  for (const host of hosts.values()) counts.set(host.phase, (counts.get(host.phase) ?? 0) + 1);
  byId("summary").textContent = [...counts]
    .map(([phase, count]) => `${count} ${phaseLabel(phase)}`)
    .join(" · ");
}

async function copySnippet(textarea, status) {
  try {
    await navigator.clipboard.writeText(textarea.value);
    status.textContent = "Copied to the clipboard.";
  } catch {
    textarea.focus();
    textarea.select();
    status.textContent = "Selected: press Ctrl+C to copy.";
  }
}

/** Unknown machines by MAC; the server sends the whole list in the snapshot, then deltas. */
const unknownMachines = new Map();

function unknownItem(machine) {
  const id = `snippet-${machine.mac.replaceAll(":", "")}`;
  const textarea = h("textarea", {
    id,
    readonly: true,
    rows: (machine.snippet ?? "").split("\n").length,
    text: machine.snippet ?? "",
  });
  const status = h("span", { class: "copy-status", role: "status" });
  const button = h("button", {
    type: "button",
    "aria-describedby": id,
    text: `Copy [[hosts]] block for ${machine.mac}`,
  });
  button.addEventListener("click", () => copySnippet(textarea, status));
  return h(
    "li",
    { "data-mac": machine.mac },
    h(
      "p",
      {},
      h("code", { text: machine.mac }),
      ` seen ${machine.count}× · last ${clock(machine.lastSeen)}`,
    ),
    machine.likelyTypoOf
      ? h("p", {
          text: `⚠ Looks like a typo of ${machine.likelyTypoOf}'s MAC in the inventory.`,
        })
      : undefined,
    machine.snippet ? h("label", { for: id, text: "Inventory block" }) : undefined,
    machine.snippet ? textarea : undefined,
    machine.snippet ? h("p", {}, button, " ", status) : undefined,
  );
}

function renderUnknown(machines) {
  unknownMachines.clear();
  for (const machine of machines) unknownMachines.set(machine.mac, machine);
  byId("unknown").hidden = machines.length === 0;
  byId("unknown-list").replaceChildren(...machines.map(unknownItem));
}

/** A delta: changed machines move to the top (most recently seen first), removed ones go. */
function applyUnknown({ machines, removed }) {
  const list = byId("unknown-list");
  for (const mac of removed) {
    unknownMachines.delete(mac);
    list.querySelector(`li[data-mac="${CSS.escape(mac)}"]`)?.remove();
  }
  for (const machine of [...machines].sort((a, b) => a.lastSeen - b.lastSeen)) {
    unknownMachines.set(machine.mac, machine);
    list.querySelector(`li[data-mac="${CSS.escape(machine.mac)}"]`)?.remove();
    list.prepend(unknownItem(machine));
  }
  byId("unknown").hidden = unknownMachines.size === 0;
}

function renderDeploy(deploy) {
  if (!deploy) return;
  byId("deploy").hidden = false;
  const state = deploy.finished
    ? deploy.finished.ok
      ? "✓ finished"
      : "✗ stopped"
    : deploy.dryRun
      ? "plan only (dry run)"
      : "⟳ running";
  byId("deploy-body").replaceChildren(
    h("p", { text: `Deploy ${deploy.deployId}: ${state}` }),
    h(
      "table",
      { class: "deploy-table" },
      h("caption", { class: "visually-hidden", text: "Deploy plan and progress" }),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["Batch", "Node", "Status", "Step", "Detail"].map((text) =>
            h("th", { scope: "col", text }),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        deploy.nodes.map((node) =>
          h(
            "tr",
            { "data-node": node.host },
            h("td", { text: node.batch === 0 ? "–" : String(node.batch) }),
            h("th", { scope: "row", text: node.host }),
            h("td", { text: `${DEPLOY_SYMBOLS[node.status]} ${node.status}` }),
            h("td", { text: node.step ?? "" }),
            h(
              "td",
              {},
              node.error ? h("strong", { text: `✗ ${node.error}` }) : node.detail,
              node.recovery.length
                ? h(
                    "ul",
                    {},
                    node.recovery.map((line) => h("li", { text: line })),
                  )
                : undefined,
            ),
          ),
        ),
      ),
    ),
    deploy.warnings.length
      ? h(
          "ul",
          {},
          deploy.warnings.map((warning) => h("li", { text: `⚠ ${warning}` })),
        )
      : undefined,
  );
}

function announce(text) {
  byId("announcer").append(h("p", { text }));
  const lines = byId("announcer").children;
  while (lines.length > 5) lines[0].remove();
}

function setConnection(state, text) {
  const element = byId("connection");
  element.dataset.state = state;
  element.textContent = text;
}

function connect() {
  const source = new EventSource("events");
  source.addEventListener("open", () => setConnection("live", "● live"));
  source.addEventListener("error", () => setConnection("lost", "✗ connection lost, reconnecting…"));
  source.addEventListener("snapshot", (message) => {
    const snapshot = JSON.parse(message.data);
    byId("cluster").textContent = snapshot.cluster;
    document.title = `metal · ${snapshot.cluster}`;
    byId("hosts").hidden = snapshot.hosts.length === 0;
    for (const host of snapshot.hosts) renderHost(host);
    renderSummary();
    renderUnknown(snapshot.unknownMachines);
    renderDeploy(snapshot.deploy);
  });
  source.addEventListener("host", (message) => {
    renderHost(JSON.parse(message.data).host);
    renderSummary();
  });
  source.addEventListener("unknown", (message) => applyUnknown(JSON.parse(message.data)));
  source.addEventListener("deploy", (message) => renderDeploy(JSON.parse(message.data).deploy));
}

connect();
