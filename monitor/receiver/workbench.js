// The rule workbench: the rules as typed, previewed on the archive (POST /v1/rules/preview).
// Text from articles is only ever set as text, never as markup.
"use strict";

const $ = (id) => document.getElementById(id);
let timer = null;
let asked = 0;

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

async function call(method, path, body) {
  const headers = { Authorization: "Bearer " + $("token").value };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!answer.ok) throw new Error(answer.status === 401 ? "the token is refused" : "HTTP " + answer.status);
  return answer.json();
}

function snippet(example) {
  const p = el("p", null, { class: "snippet", dir: "auto" });
  if (example.language) p.setAttribute("lang", example.language);
  let at = 0;
  for (const [start, end] of example.marks) {
    if (start < at) continue;
    p.append(document.createTextNode(example.snippet.slice(at, start)));
    p.append(el("mark", example.snippet.slice(start, end)));
    at = end;
  }
  p.append(document.createTextNode(example.snippet.slice(at)));
  return p;
}

// A link only to a web page: an archived URL is a stranger's text.
function link(title, url) {
  const safe = /^https?:\/\//i.test(url || "");
  return el("a", title || url, safe ? { href: url, dir: "auto" } : { dir: "auto" });
}

function listed(items, cls, sign) {
  const ul = el("ul", null, { class: cls });
  for (const item of items) {
    const li = el("li", sign + " ", { dir: "auto" });
    li.append(link(item.title, item.url));
    ul.append(li);
  }
  return ul;
}

function render(found) {
  const problems = $("problems");
  const results = $("results");
  problems.replaceChildren();
  if (!found.valid) {
    for (const p of found.problems) {
      problems.append(el("li", `line ${p.line}, column ${p.column}: ${p.message}`,
                         { "data-line": p.line, "data-column": p.column }));
    }
    $("status").textContent = found.problems.length + " problem(s): nothing previewed";
    return;
  }
  results.replaceChildren();
  if (!found.archive) {
    $("status").textContent = "valid; there is no archive to preview on";
    return;
  }
  $("status").textContent = `valid; ${found.articles} articles of the last ${found.days} days`;
  for (const rule of found.fires) {
    const section = el("section", null, { class: "rule", "data-rule": rule.rule });
    const change = rule.added.length || rule.removed.length
      ? ` (+${rule.added.length} −${rule.removed.length} against the rules in force)` : "";
    section.append(el("h2", `${rule.rule}: ${rule.fires} fires${change}`));
    for (const example of rule.examples) {
      const article = el("article", null, { "data-id": example.id });
      article.append(link(example.title, example.url));
      article.append(snippet(example));
      section.append(article);
    }
    if (rule.added.length) section.append(listed(rule.added, "added", "+"));
    if (rule.removed.length) section.append(listed(rule.removed, "removed", "−"));
    results.append(section);
  }
}

async function preview() {
  const mine = ++asked;
  $("status").textContent = "checking…";
  try {
    const found = await call("POST", "/v1/rules/preview",
                             { rules: $("rules").value, days: Number($("days").value) || 3 });
    if (mine === asked) render(found);
  } catch (error) {
    if (mine === asked) $("status").textContent = error.message;
  }
}

function later() {
  clearTimeout(timer);
  timer = setTimeout(preview, 400);
}

async function start() {
  sessionStorage.setItem("monitor-token", $("token").value);
  try {
    const current = await call("GET", "/v1/rules");
    if (!$("rules").value) $("rules").value = current.text;
    await preview();
  } catch (error) {
    $("status").textContent = error.message;
  }
}

$("token").value = sessionStorage.getItem("monitor-token") || "";
$("token").addEventListener("change", start);
$("rules").addEventListener("input", later);
$("days").addEventListener("change", later);
if ($("token").value) start();
