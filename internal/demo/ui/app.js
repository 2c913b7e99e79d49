// The demo page: renders the emulators' state and sends what a customer or
// an agent does through the demo API, which forwards it to Threadline as
// Telegram and Slack would.
"use strict";

const $ = (id) => document.getElementById(id);
let state = { customers: [], channel: { threads: [] }, ephemeral: [] };
let selected = "";

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(path + ": " + res.status + " " + (await res.text()));
  return res.json();
}

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) if (c != null) e.append(c);
  return e;
}

// Slack mrkdwn, reduced to what the cards use: *bold*, _italic_, <url|label>,
// <@user> and a few emoji.
const emoji = {
  speech_balloon: "💬", large_green_circle: "🟢", hourglass: "⏳", white_check_mark: "✅",
  lock: "🔒", memo: "📝", warning: "⚠️", stopwatch: "⏱️", rotating_light: "🚨", double_vertical_bar: "⏸️", zzz: "💤", label: "🏷️",
};
function mrkdwn(text) {
  const span = el("span");
  span.textContent = (text || "")
    .replace(/<([^|>]+)\|([^>]+)>/g, "$2")
    .replace(/<@([A-Z0-9]+)>/g, "@$1")
    .replace(/:([a-z_]+):/g, (m, name) => emoji[name] || m)
    .replace(/\*([^*\n]+)\*/g, "$1")
    .replace(/(^|\s)_([^_\n]+)_(?=\s|$)/g, "$1$2")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  return span;
}

function agent() {
  const [id, name] = $("agent").value.split("|");
  return { user_id: id, name };
}

function renderBlocks(msg) {
  const box = el("div", { className: "parent" });
  const blocks = msg.blocks || [];
  if (blocks.length === 0) box.append(el("div", { className: "block" }, mrkdwn(msg.text)));
  for (const b of blocks) {
    if (b.type === "section" || b.type === "header") {
      const d = el("div", { className: "block" }, mrkdwn(b.text && b.text.text));
      for (const f of b.fields || []) d.append(el("div", {}, mrkdwn(f.text)));
      box.append(d);
    } else if (b.type === "context") {
      box.append(el("div", { className: "block context" }, ...(b.elements || []).map((x) => mrkdwn(x.text))));
    } else if (b.type === "actions") {
      const row = el("div", { className: "actions" });
      for (const a of b.elements || []) {
        if (a.type === "static_select") {
          const sel = el("select", { title: a.placeholder.text });
          sel.dataset.actionId = a.action_id;
          sel.append(el("option", { value: "", textContent: a.placeholder.text }));
          for (const o of a.options || []) sel.append(el("option", { value: o.value, textContent: o.text.text }));
          sel.onchange = () => sel.value && api("/demo/api/slack/click", {
            ...agent(), channel: msg.channel, message_ts: msg.ts, action_id: a.action_id, selected: sel.value, block_id: b.block_id || "",
          }).then(refresh).catch(report);
          row.append(sel);
          continue;
        }
        if (a.type !== "button") continue;
        const btn = el("button", { type: "button", className: a.style || "", textContent: a.text.text });
        btn.dataset.actionId = a.action_id;
        btn.onclick = () => api("/demo/api/slack/click", {
          ...agent(), channel: msg.channel, message_ts: msg.ts, action_id: a.action_id, value: a.value, block_id: b.block_id || "",
        }).then(refresh).catch(report);
        row.append(btn);
      }
      box.append(row);
    }
  }
  return box;
}

function renderSlack() {
  $("channel-name").textContent = state.channel.name ? "#" + state.channel.name : "";
  const box = $("threads");
  box.replaceChildren();
  // Answers to buttons on a card are shown in the channel, not a thread.
  for (const e of (state.ephemeral || []).filter((x) => !x.thread_ts).slice(-3)) {
    box.append(el("div", { className: "ephemeral", textContent: "Only visible to " + e.user + ": " + e.text }));
  }
  for (const t of state.channel.threads || []) {
    const th = el("div", { className: "thread" });
    th.dataset.ts = t.parent.ts;
    th.append(renderBlocks(t.parent));
    const replies = el("div", { className: "replies" });
    for (const r of t.replies || []) {
      const line = el("div", { className: "reply" }, el("span", { className: "who", textContent: r.user_name || r.user || "Threadline" }), mrkdwn(r.text));
      for (const re of r.reactions || []) line.append(el("span", { className: "reaction", textContent: re === "white_check_mark" ? "✅" : ":" + re + ":" }));
      replies.append(line);
    }
    for (const e of (state.ephemeral || []).filter((x) => x.thread_ts === t.parent.ts || x.channel_ts === t.parent.ts)) {
      replies.append(el("div", { className: "ephemeral", textContent: "Only visible to " + e.user + ": " + e.text }));
    }
    th.append(replies);
    const input = el("input", { placeholder: "Reply in thread… (note: … stays internal)", autocomplete: "off" });
    const form = el("form", {}, input, el("button", { type: "submit", textContent: "Send" }));
    form.onsubmit = (ev) => {
      ev.preventDefault();
      if (!input.value.trim()) return;
      api("/demo/api/slack/reply", { ...agent(), channel: t.parent.channel, thread_ts: t.parent.ts, text: input.value })
        .then(() => { input.value = ""; refresh(); }).catch(report);
    };
    th.append(form);
    box.append(th);
  }
  // SLA alerts: the alerts channel and the agents' direct messages from the app.
  const alerts = $("alerts");
  alerts.replaceChildren(...(state.alerts || []).map((m) =>
    el("div", { className: "reply alert" }, el("span", { className: "who", textContent: m.channel === state.alert_channel ? "#sla-alerts" : "DM to " + m.channel.slice(1) }), mrkdwn(m.text))));
}

function renderTelegram() {
  const sel = $("customer");
  const focused = document.activeElement === sel;
  if (!focused) {
    sel.replaceChildren(...(state.customers || []).map((c) => el("option", { value: c.chat_id, textContent: c.name })));
    if (!selected && (state.customers || []).length) selected = String(state.customers[0].chat_id);
    sel.value = selected;
  }
  const c = (state.customers || []).find((x) => String(x.chat_id) === selected);
  const chat = $("chat");
  chat.replaceChildren(...((c && c.messages) || []).map((m) => {
    const bubble = el("div", { className: "bubble " + m.from }, m.text);
    // An inline keyboard (the satisfaction survey): tapping sends a callback query.
    for (const row of m.buttons || []) {
      const line = el("div", { className: "keyboard" });
      for (const b of row) {
        const btn = el("button", { type: "button", textContent: b.text });
        btn.onclick = () => api("/demo/api/telegram/press", { chat_id: c.chat_id, message_id: m.message_id, data: b.callback_data }).then(refresh).catch(report);
        line.append(btn);
      }
      bubble.append(line);
    }
    bubble.append(el("div", { className: "meta", textContent: m.from === "customer" ? c.name : "Acme Support" }));
    return bubble;
  }));
  chat.scrollTop = chat.scrollHeight;
}

function report(err) { console.error(err); }

async function refresh() {
  // Re-rendering replaces the reply boxes: keep what an agent is typing.
  const a = document.activeElement;
  const typing = a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA") && a.value !== "" && (a.closest(".thread form") || a.closest(".teams-card"));
  state = await api("/demo/api/state");
  renderTelegram();
  if (typeof renderMeta === "function") renderMeta(state.meta);
  if (state.surface === "teams") {
    $("slack").hidden = true;
    $("teams").hidden = false;
    if (!typing) renderTeams(state.teams, api, refresh, report);
    return;
  }
  if (!typing) renderSlack();
}

$("customer").onchange = (e) => { selected = e.target.value; renderTelegram(); };
$("add-customer").onclick = () => {
  const name = $("new-customer").value.trim();
  if (!name) return;
  api("/demo/api/customers", { name }).then((c) => { selected = String(c.chat_id); $("new-customer").value = ""; return refresh(); }).catch(report);
};
$("customer-form").onsubmit = (e) => {
  e.preventDefault();
  const text = $("customer-text").value;
  if (!text.trim() || !selected) return;
  api("/demo/api/telegram/send", { chat_id: Number(selected), text }).then(() => { $("customer-text").value = ""; return refresh(); }).catch(report);
};

refresh().catch(report);
setInterval(() => refresh().catch(report), 700);
