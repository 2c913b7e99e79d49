// The Messenger / Instagram customer pane of the demo page: it acts as a
// customer of the demo's Facebook Page or Instagram account through the
// Graph API emulator, which delivers to Threadline's /webhooks/meta signed
// with the app secret. app.js owns the state refresh; this file renders the
// pane from state.meta and switches between it and the Telegram pane.
"use strict";

const meta = { platform: "", selected: {} };

function metaApi(path, body) {
  return fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
    .then(async (res) => { if (!res.ok) throw new Error(path + ": " + res.status + " " + (await res.text())); return res.json(); });
}

function metaEl(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function showPlatform(p) {
  meta.platform = p === "telegram" ? "" : p;
  document.getElementById("telegram").hidden = !!meta.platform;
  const pane = document.getElementById("meta");
  pane.hidden = !meta.platform;
  pane.classList.toggle("instagram", meta.platform === "instagram");
  document.getElementById("meta-title").textContent = meta.platform === "instagram" ? "Instagram" : "Messenger";
  document.getElementById("meta-story").hidden = meta.platform !== "instagram";
  renderMeta(window.lastMetaState);
}

function renderMeta(m) {
  window.lastMetaState = m;
  if (!meta.platform || !m) return;
  const customers = (m.customers || []).filter((c) => c.platform === meta.platform);
  const sel = document.getElementById("meta-customer");
  if (document.activeElement !== sel) {
    sel.replaceChildren(...customers.map((c) => metaEl("option", { value: c.id, textContent: c.name })));
    if (!meta.selected[meta.platform] && customers.length) meta.selected[meta.platform] = customers[0].id;
    sel.value = meta.selected[meta.platform] || "";
  }
  const c = customers.find((x) => x.id === meta.selected[meta.platform]);
  const chat = document.getElementById("meta-chat");
  const brand = meta.platform === "instagram" ? "acme.shop" : "Acme Support";
  chat.replaceChildren(...((c && c.messages) || []).map((line) =>
    metaEl("div", { className: "bubble " + line.from }, line.text, metaEl("div", { className: "meta", textContent: line.from === "customer" ? c.name : brand }))));
  chat.scrollTop = chat.scrollHeight;
}

function metaSend(kind) {
  const input = document.getElementById("meta-text");
  const id = meta.selected[meta.platform];
  if (!input.value.trim() || !id) return;
  metaApi("/demo/api/meta/send", { id, text: input.value, kind }).then(() => { input.value = ""; }).catch((e) => console.error(e));
}

for (const b of document.querySelectorAll(".platform-switch button")) b.onclick = () => showPlatform(b.dataset.platform);
document.getElementById("meta-customer").onchange = (e) => { meta.selected[meta.platform] = e.target.value; renderMeta(window.lastMetaState); };
document.getElementById("meta-form").onsubmit = (e) => { e.preventDefault(); metaSend("dm"); };
document.getElementById("meta-comment").onclick = () => metaSend("comment");
document.getElementById("meta-story").onclick = () => metaSend("story");
document.getElementById("meta-add-customer").onclick = () => {
  const input = document.getElementById("meta-new-customer");
  const name = input.value.trim();
  if (!name) return;
  metaApi("/demo/api/meta/customers", { name, platform: meta.platform })
    .then((c) => { meta.selected[meta.platform] = c.id; input.value = ""; }).catch((e) => console.error(e));
};
