// The Teams pane of the demo page: thread roots are Adaptive Cards as
// Threadline renders them (RichTextBlock, FactSet, Action.Execute buttons);
// buttons and replies go through the demo API to Threadline's real
// /teams/messages endpoint, as the Bot Connector sends them.
"use strict";

function teamsEl(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) if (c != null) e.append(c);
  return e;
}

// Teams' XML text format, reduced to what Threadline sends: <b>, <i>, <br>
// and entities. Rendered as text, never as HTML.
function teamsText(xml) {
  const span = teamsEl("span");
  const lines = (xml || "").split(/<br\s*\/?>/);
  lines.forEach((line, i) => {
    if (i > 0) span.append(teamsEl("br"));
    span.append(document.createTextNode(line.replace(/<\/?(b|i|at)>/g, "")
      .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&")));
  });
  return span;
}

// Adaptive Card markdown as Teams shows it: backslash escapes removed.
function unmark(s) { return (s || "").replace(/\\(.)/g, "$1").replace(/&lt;/g, "<").replace(/&gt;/g, ">"); }

// Open "…" cards and their choices survive the page's re-rendering.
const teamsOpen = {};

function teamsCard(card, onAction, key) {
  const box = teamsEl("div", { className: "parent teams-card" });
  const walk = (items, into) => {
    for (const b of items || []) {
      if (b.type === "Container") {
        const c = teamsEl("div", { className: b.style === "attention" ? "attention" : "" });
        into.append(c);
        walk(b.items, c);
      } else if (b.type === "RichTextBlock") {
        into.append(teamsEl("div", { className: "block" }, ...(b.inlines || []).map((r) =>
          teamsEl(r.weight === "Bolder" ? "strong" : r.italic ? "em" : "span", { textContent: r.text }))));
      } else if (b.type === "FactSet") {
        const facts = teamsEl("div", { className: "block context" });
        for (const f of b.facts || []) facts.append(teamsEl("div", {}, teamsEl("strong", { textContent: f.title + ": " }), unmark(f.value)));
        into.append(facts);
      }
    }
  };
  walk((card && card.body) || [], box);
  const row = teamsEl("div", { className: "actions" });
  const shown = teamsEl("div", { className: "block", hidden: true });
  for (const a of (card && card.actions) || []) {
    const btn = teamsEl("button", { type: "button", className: a.style === "positive" ? "primary" : a.style === "destructive" ? "danger" : "", textContent: a.title });
    if (a.type === "Action.ShowCard") {
      // The inner card: text, a choice list, and its own buttons, which
      // send the choice with their data as Teams merges inputs.
      const open = () => {
        const state = teamsOpen[key] || (teamsOpen[key] = { title: a.title, values: {} });
        const inputs = {};
        const inner = teamsEl("div", {});
        for (const b of (a.card && a.card.body) || []) {
          if (b.type === "TextBlock") inner.append(teamsEl("div", { textContent: b.text }));
          if (b.type === "Input.Text") {
            const box = teamsEl("textarea", { placeholder: b.placeholder || "", rows: 2, value: state.values[b.id] || "" });
            box.oninput = () => { state.values[b.id] = box.value; };
            box.dataset.input = b.id;
            inputs[b.id] = box;
            inner.append(box);
          }
          if (b.type === "Input.ChoiceSet") {
            const sel = teamsEl("select", {}, ...(b.choices || []).map((c) => teamsEl("option", { value: c.value, textContent: c.title })));
            sel.value = state.values[b.id] || b.value || "";
            sel.onchange = () => { state.values[b.id] = sel.value; };
            sel.dataset.input = b.id;
            inputs[b.id] = sel;
            inner.append(sel);
          }
        }
        for (const x of (a.card && a.card.actions) || []) {
          const ib = teamsEl("button", { type: "button", className: x.style === "destructive" ? "danger" : "", textContent: x.title });
          ib.dataset.verb = x.verb;
          ib.onclick = () => {
            const data = { ...(x.data || {}) };
            for (const [id, el] of Object.entries(inputs)) data[id] = el.value;
            delete teamsOpen[key];
            onAction({ ...x, data });
          };
          inner.append(ib);
        }
        shown.replaceChildren(inner);
        shown.hidden = false;
      };
      btn.onclick = () => {
        if (teamsOpen[key] && teamsOpen[key].title === a.title) {
          delete teamsOpen[key];
          shown.hidden = true;
          return;
        }
        delete teamsOpen[key];
        open();
      };
      if (teamsOpen[key] && teamsOpen[key].title === a.title) open();
    } else {
      btn.dataset.verb = a.verb;
      btn.onclick = () => onAction(a);
    }
    row.append(btn);
  }
  box.append(row, shown);
  return box;
}

function renderTeams(teams, api, refresh, report) {
  const $ = (id) => document.getElementById(id);
  $("teams-channel").textContent = teams && teams.channel ? "· " + teams.channel : "";
  const agent = () => $("teams-agent").value;
  const box = $("teams-threads");
  box.replaceChildren();
  for (const t of (teams && teams.threads) || []) {
    const th = teamsEl("div", { className: "thread" });
    th.dataset.conversation = t.root.conversation_id;
    const notice = teamsEl("div", { className: "ephemeral", hidden: true });
    th.append(teamsCard(t.root.card, (a) => api("/demo/api/teams/click", {
      user_id: agent(), conversation_id: t.root.conversation_id, root_id: t.root.id, verb: a.verb, data: a.data,
    }).then((res) => {
      if (res.message) { notice.textContent = "Only you see this: " + res.message; notice.hidden = false; }
      return refresh();
    }).catch(report), t.root.conversation_id));
    th.append(notice);
    const replies = teamsEl("div", { className: "replies" });
    for (const r of t.replies || []) {
      replies.append(teamsEl("div", { className: "reply" },
        teamsEl("span", { className: "who", textContent: r.from_bot ? "Threadline" : (r.from_name || r.from_id) }), teamsText(r.text)));
    }
    th.append(replies);
    const input = teamsEl("input", { placeholder: "Reply… (note …, claim, resolve, @Bob … stay internal)", autocomplete: "off" });
    const form = teamsEl("form", {}, input, teamsEl("button", { type: "submit", textContent: "Send" }));
    form.onsubmit = (ev) => {
      ev.preventDefault();
      if (!input.value.trim()) return;
      api("/demo/api/teams/reply", {
        user_id: agent(), conversation_id: t.root.conversation_id, root_id: t.root.id, text: input.value, mention_bot: $("teams-mention").checked,
      }).then(() => { input.value = ""; refresh(); }).catch(report);
    };
    th.append(form);
    box.append(th);
  }
}
