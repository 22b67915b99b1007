"use strict";
// The case table and the case view, built from the JSON data block with textContent only:
// no string of the data is ever parsed as HTML or used as a URL.
(function () {
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var cases = data.cases;
  var rows = document.getElementById("case-rows");
  var detail = document.getElementById("case-detail");
  var fVerdict = document.getElementById("f-verdict");
  var fScorer = document.getElementById("f-scorer");
  var fTag = document.getElementById("f-tag");
  var fText = document.getElementById("f-text");
  var count = document.getElementById("f-count");
  var sortButton = document.getElementById("sort-change");
  var sortDir = 0; // 0 as written, 1 largest drop first, -1 largest gain first
  var selected = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function pct(x) { return x === null ? "–" : (x * 100).toFixed(0) + "%"; }
  function num(x, d) { return x === null || x === undefined ? "–" : Number(x).toFixed(d); }

  function sides(rep) {
    if (!rep.diff) return [rep.base, rep.out];
    var a = "", b = "";
    rep.diff.forEach(function (op) {
      if (op[0] !== "+") a += op[1];
      if (op[0] !== "-") b += op[1];
    });
    return [a, b];
  }

  function haystack(c) {
    if (c._hay === undefined) {
      var parts = [c.id, c.suite, c.tags.join(" "), c.vars || ""];
      c.messages.forEach(function (m) { parts.push(m[1]); });
      c.repeats.forEach(function (r) {
        var s = sides(r);
        parts.push(s[0] || "", s[1] || "", r.error || "");
        r.scores.forEach(function (x) { parts.push(x[3], x[4] || ""); });
      });
      c._hay = parts.join("\n").toLowerCase();
    }
    return c._hay;
  }

  function matches(c) {
    var v = fVerdict.value, sid = fScorer.value, tag = fTag.value;
    var text = fText.value.trim().toLowerCase();
    if (tag && c.tags.indexOf(tag) < 0) return false;
    if (sid) {
      var s = c.scorers.filter(function (x) { return x[0] === sid; })[0];
      if (!s) return false;
      if (v && s[5].indexOf(v) < 0) return false;
    } else if (v && c.verdicts.indexOf(v) < 0) {
      return false;
    }
    return !text || haystack(c).indexOf(text) >= 0;
  }

  function ordered() {
    var list = cases.filter(matches);
    if (sortDir) {
      list = list.slice().sort(function (a, b) {
        if (a.change === b.change) return 0;
        if (a.change === null) return 1;
        if (b.change === null) return -1;
        return sortDir * (a.change - b.change);
      });
    }
    return list;
  }

  function renderRows() {
    var list = ordered();
    var frag = document.createDocumentFragment();
    list.forEach(function (c) {
      var tr = el("tr");
      if (c === selected) tr.className = "selected";
      tr.appendChild(el("td", "", c.suite));
      var td = el("td");
      var b = el("button", "case", c.id);
      b.type = "button";
      b.addEventListener("click", function () { show(c); });
      td.appendChild(b);
      if (c.critical) td.appendChild(el("span", "badge failed", "critical"));
      tr.appendChild(td);
      var vs = el("td");
      c.verdicts.forEach(function (v) { vs.appendChild(el("span", "badge " + v, v)); });
      tr.appendChild(vs);
      tr.appendChild(el("td", "mono", c.scorers.map(function (s) {
        return s[0] + " " + pct(s[2]) + "→" + pct(s[4]);
      }).join("  ")));
      var ch = el("td", c.change < 0 ? "neg" : c.change > 0 ? "pos" : "",
        c.change === null ? "–" : (c.change > 0 ? "+" : "") + c.change.toFixed(2));
      tr.appendChild(ch);
      frag.appendChild(tr);
      if (c === selected) {
        // The case view opens under its row, where the reviewer's eye already is.
        var holder = el("tr", "detail-row");
        var cell = el("td");
        cell.colSpan = 5;
        cell.appendChild(detail);
        holder.appendChild(cell);
        frag.appendChild(holder);
      }
    });
    if (selected && list.indexOf(selected) < 0) detail.hidden = true;
    rows.textContent = "";
    rows.appendChild(frag);
    count.textContent = list.length + " of " + cases.length + " cases";
  }

  function diffInto(node, ops, keep) {
    ops.forEach(function (op) {
      if (op[0] === "=") node.appendChild(document.createTextNode(op[1]));
      else if (op[0] === keep) node.appendChild(el(keep === "-" ? "del" : "ins", "", op[1]));
    });
  }

  function side(title, cls, text, ops, keep) {
    var box = el("div", cls);
    box.appendChild(el("h4", "", title));
    var pre = el("pre");
    if (ops) diffInto(pre, ops, keep);
    else pre.textContent = text === null || text === undefined ? "(none recorded)" : text;
    box.appendChild(pre);
    return box;
  }

  function show(c) {
    selected = c;
    detail.textContent = "";
    detail.hidden = false;
    var h = el("h3", "", c.id);
    detail.appendChild(h);
    detail.appendChild(el("p", "meta", "suite " + c.suite +
      (c.tags.length ? " · tags " + c.tags.join(", ") : "") + (c.critical ? " · critical" : "")));
    detail.appendChild(el("h4", "", "Input"));
    if (c.messages.length) {
      c.messages.forEach(function (m) {
        var box = el("div", "msg");
        box.appendChild(el("div", "role", m[0]));
        box.appendChild(el("pre", "", m[1]));
        detail.appendChild(box);
      });
    } else {
      detail.appendChild(el("pre", "", c.vars === null ? "(the case is no longer in the dataset)" : c.vars));
    }
    var t = el("table", "scorers");
    var head = el("tr");
    ["scorer", "base score", "base pass", "now score", "now pass", ""].forEach(function (x) {
      head.appendChild(el("th", "", x));
    });
    t.appendChild(head);
    c.scorers.forEach(function (s) {
      var tr = el("tr");
      tr.appendChild(el("td", "", s[0]));
      tr.appendChild(el("td", "", num(s[1], 2)));
      tr.appendChild(el("td", "", pct(s[2])));
      tr.appendChild(el("td", "", num(s[3], 2)));
      tr.appendChild(el("td", "", pct(s[4])));
      tr.appendChild(el("td", "", s[5].join(", ")));
      t.appendChild(tr);
    });
    detail.appendChild(t);
    c.repeats.forEach(function (r) {
      detail.appendChild(el("h4", "", (c.repeats.length > 1 ? "Repeat " + r.r + " · " : "Reply · ") +
        "tokens " + (r.tin === null ? "–" : r.tin) + " in / " + (r.tout === null ? "–" : r.tout) +
        " out · latency " + num(r.lat, 3) + "s · cost $" + num(r.cost, 6) +
        (r.replayed ? " · replayed from the baseline" : r.cached ? " · cached" : "")));
      if (r.error) detail.appendChild(el("p", "fail", "error: " + r.error));
      var grid = el("div", "side-by-side");
      grid.appendChild(side("Baseline", "base", r.base, r.diff, "-"));
      grid.appendChild(side("Current", "current", r.out, r.diff, "+"));
      detail.appendChild(grid);
      var ul = el("ul", "scores");
      r.scores.forEach(function (s) {
        var li = el("li");
        li.appendChild(el("span", "mono", s[0] + " "));
        li.appendChild(el("span", s[2] ? "pass" : "fail", s[2] ? "PASS" : "FAIL"));
        li.appendChild(document.createTextNode(" " + num(s[1], 2) + " " + (s[4] ? "error: " + s[4] : s[3])));
        ul.appendChild(li);
      });
      detail.appendChild(ul);
    });
    renderRows();
  }

  [fVerdict, fScorer, fTag].forEach(function (x) { x.addEventListener("change", renderRows); });
  fText.addEventListener("input", renderRows);
  sortButton.addEventListener("click", function () {
    sortDir = sortDir === 1 ? -1 : 1;
    sortButton.textContent = sortDir === 1 ? "Δ score ▲" : "Δ score ▼";
    renderRows();
  });
  renderRows();
})();
