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

function teamsCard(card, onAction) {
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
  for (const a of (card && card.actions) || []) {
    const btn = teamsEl("button", { type: "button", className: a.style === "positive" ? "primary" : "", textContent: a.title });
    btn.dataset.verb = a.verb;
    btn.onclick = () => onAction(a);
    row.append(btn);
  }
  box.append(row);
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
    }).catch(report)));
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
