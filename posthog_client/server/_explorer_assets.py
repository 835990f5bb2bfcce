"""The person explorer's stylesheet and script, served as files so the pages need no inline code.

The script only keeps a page current: it polls ``/explorer/revision`` and, when events arrived,
fetches the same page and swaps its ``<main>`` (open ``<details>`` stay open). The pages work
without it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CSS", "JS"]

CSS: Final = """
:root {
  --bg: #f6f7f9; --card: #fff; --ink: #1d2330; --muted: #6b7280; --line: #e3e6eb;
  --accent: #1d4aff; --ok: #1a7f37; --warn: #b35900; --bad: #c62828;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header {
  display: flex; align-items: center; gap: 24px; padding: 10px 24px;
  background: #151a24; color: #fff;
}
header .brand { font-weight: 600; letter-spacing: .2px; }
header nav a { color: #c9d1e0; margin-right: 16px; }
header nav a.active { color: #fff; font-weight: 600; }
header .live { margin-left: auto; font-size: 12px; color: #9fb0c8; }
header .live::before { content: "\\25CF "; color: #3ecf8e; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 22px; margin: 4px 0 4px; }
h2 { font-size: 15px; margin: 0 0 10px; }
.sub { color: var(--muted); margin-bottom: 16px; }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 16px; margin-bottom: 16px;
}
table { width: 100%; border-collapse: collapse; }
th {
  text-align: left; font-weight: 600; color: var(--muted); font-size: 12px;
  text-transform: uppercase; letter-spacing: .4px; padding: 6px 8px;
  border-bottom: 1px solid var(--line);
}
td { padding: 7px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; white-space: nowrap; }
.time { white-space: nowrap; color: var(--muted); font-variant-numeric: tabular-nums; }
.mono, code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { font-size: 12.5px; }
pre {
  margin: 6px 0 0; padding: 8px; background: #f3f4f6; border-radius: 6px;
  font-size: 12px; white-space: pre-wrap; word-break: break-all;
}
.muted { color: var(--muted); }
.uuid { font-size: 12px; color: var(--muted); }
.chip {
  display: inline-block; padding: 1px 8px; margin: 1px 4px 1px 0; border-radius: 10px;
  font-size: 12.5px; font-family: ui-monospace, Menlo, Consolas, monospace;
  background: #eef1f6; border: 1px solid #d9dee8; max-width: 100%;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; vertical-align: middle;
}
.hue-0 { background: #e8f0fe; border-color: #c6d7fb; }
.hue-1 { background: #e6f4ea; border-color: #bfe3c8; }
.hue-2 { background: #fef3e0; border-color: #f6d9a8; }
.hue-3 { background: #fce8ec; border-color: #f4c2cd; }
.hue-4 { background: #efe8fd; border-color: #d5c6f7; }
.hue-5 { background: #e3f5f6; border-color: #b7e2e5; }
.badge {
  display: inline-block; padding: 1px 7px; border-radius: 4px; font-size: 12px; font-weight: 600;
  background: #eef1f6; color: #374151; white-space: nowrap;
}
.badge.ok { background: #e6f4ea; color: var(--ok); }
.badge.warn { background: #fff1e0; color: var(--warn); }
.badge.bad { background: #fdecea; color: var(--bad); }
.facts { display: flex; flex-wrap: wrap; gap: 8px 28px; margin-top: 10px; }
.facts div span { display: block; font-size: 12px; color: var(--muted); }
form.search { display: flex; gap: 8px; margin-bottom: 16px; }
form.search input {
  flex: 1; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; font-size: 14px;
}
form.search button {
  padding: 8px 16px; border: 0; border-radius: 6px; background: var(--accent); color: #fff;
  font-weight: 600; cursor: pointer;
}
.pager { display: flex; gap: 16px; align-items: center; margin-top: 12px; color: var(--muted); }
.empty { color: var(--muted); padding: 12px 0; }
.notice { background: #fff8e6; border: 1px solid #f1dca7; }
details summary { cursor: pointer; color: var(--muted); font-size: 12.5px; }
"""

JS: Final = """
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="explorer-revision"]');
  if (!meta || !window.fetch || !window.DOMParser) { return; }
  var revision = meta.getAttribute("content");
  var busy = false;

  function openDetails() {
    var ids = {};
    document.querySelectorAll("main details[open][id]").forEach(function (d) { ids[d.id] = 1; });
    return ids;
  }

  function refresh() {
    return fetch(location.href, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { location.reload(); return; }
      return response.text().then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.querySelector("main");
        var current = document.querySelector("main");
        if (!fresh || !current) { return; }
        var open = openDetails();
        current.replaceWith(fresh);
        fresh.querySelectorAll("details[id]").forEach(function (d) {
          if (open[d.id]) { d.open = true; }
        });
        document.title = page.title;
      });
    });
  }

  function poll() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch("/explorer/revision", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && String(body.revision) !== revision) {
          revision = String(body.revision);
          return refresh();
        }
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }

  setInterval(poll, 1000);
})();
"""
