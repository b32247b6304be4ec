// The report's search box: titles and bylines, from window.ARCHIVER_SEARCH (search-index.js),
// each entry [id, page, title, byline, date, key], where key is the text folded by archiver
// (archiver/store/fulltext.py) and lower-cased. The query is folded here by the same rule:
// each character becomes the first code point of its NFD decomposition, đ→d and Đ→D, except
// characters whose decomposition starts with a combining mark, which stay as they are.
"use strict";
const ARCHIVER_FOLD_KEEP = new Set([0x340, 0x341, 0x343, 0x344, 0xF73, 0xF75, 0xF81]);

function archiverFold(text) {
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (code < 0x80) { out += ch; continue; }
    if (ch === "\u0111") { out += "d"; continue; }
    if (ch === "\u0110") { out += "D"; continue; }
    if (ARCHIVER_FOLD_KEEP.has(code)) { out += ch; continue; }
    out += String.fromCodePoint(ch.normalize("NFD").codePointAt(0));
  }
  return out;
}

function archiverSearch(query, limit) {
  const words = archiverFold(query).toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  const hits = [];
  for (const item of window.ARCHIVER_SEARCH || []) {
    if (words.every((w) => item[5].includes(w))) {
      hits.push(item);
      if (hits.length >= limit) break;
    }
  }
  return hits;
}

function archiverShow(box, list, prefix) {
  const hits = archiverSearch(box.value, 50);
  list.replaceChildren();
  for (const [id, page, title, byline, date] of hits) {
    const li = document.createElement("li");
    const target = page ? document.createElement("a") : document.createElement("span");
    if (page) target.href = prefix + page;
    target.textContent = title || id;
    li.append(target, document.createTextNode(" " + [date, byline, id].filter(Boolean).join(" · ")));
    list.append(li);
  }
  list.dataset.hits = String(hits.length);
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("search");
  const list = document.getElementById("hits");
  if (!box || !list) return;
  box.addEventListener("input", () => archiverShow(box, list, box.dataset.prefix || ""));
});

// The articles page: its table drawn from the same index, a thousand rows at a time.
function archiverList(table, button) {
  const items = window.ARCHIVER_SEARCH || [];
  const body = table.tBodies[0];
  let shown = 0;
  const more = () => {
    for (const [id, page, title, byline, date, , source, count] of items.slice(shown, shown + 1000)) {
      const row = body.insertRow();
      row.insertCell().textContent = date || "-";
      const cell = row.insertCell();
      const name = page ? document.createElement("a") : document.createElement("span");
      if (page) name.href = page;
      name.textContent = title || id;
      const code = document.createElement("code");
      code.textContent = id;
      cell.append(name, document.createElement("br"), code);
      row.insertCell().textContent = byline;
      row.insertCell().textContent = source;
      const n = row.insertCell();
      n.className = "n";
      n.textContent = String(count);
    }
    shown = Math.min(items.length, shown + 1000);
    button.hidden = shown >= items.length;
  };
  button.addEventListener("click", more);
  more();
}

document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("articles");
  const button = document.getElementById("more");
  if (table && button) archiverList(table, button);
});
