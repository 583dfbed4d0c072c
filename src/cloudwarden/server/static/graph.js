// Behaviour graph: a small force layout drawn in SVG. Node names (process paths, addresses) come from
// monitored hosts and are attacker-controlled, so they only ever reach the page through textContent.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var svg = document.getElementById("graph");
  var status = document.getElementById("graph-status");
  if (!svg) { return; }
  var W = 1000, H = 640;

  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }
  function shortName(id) {
    var s = String(id);
    var slash = s.lastIndexOf("/");
    s = slash >= 0 && slash < s.length - 1 ? s.slice(slash + 1) : s;
    return s.length > 28 ? s.slice(0, 27) + "\u2026" : s;
  }

  fetch(svg.getAttribute("data-src"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
    .then(draw)
    .catch(function (err) { status.textContent = "Could not load the graph: " + err.message; });

  function draw(data) {
    var nodes = data.nodes.map(function (n, i) {
      var a = 2 * Math.PI * i / Math.max(1, data.nodes.length);
      return { id: n.id, kind: n.kind, x: W / 2 + 220 * Math.cos(a), y: H / 2 + 220 * Math.sin(a), vx: 0, vy: 0, deg: 0 };
    });
    var byId = {};
    nodes.forEach(function (n) { byId[n.id] = n; });
    var edges = data.edges.filter(function (e) { return byId[e.source] && byId[e.target]; }).map(function (e) {
      byId[e.source].deg++; byId[e.target].deg++;
      return { s: byId[e.source], t: byId[e.target], kind: e.kind, count: e.count };
    });
    status.textContent = nodes.length + " nodes, " + edges.length + " edges";
    if (!nodes.length) { status.textContent = "No process or network events for this selection."; return; }

    var view = el("g", {}); svg.appendChild(view);
    var defs = el("defs", {});
    var marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 22, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" });
    marker.appendChild(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9aa6bb" }));
    defs.appendChild(marker); svg.appendChild(defs);
    var edgeLayer = el("g", {}), nodeLayer = el("g", {});
    view.appendChild(edgeLayer); view.appendChild(nodeLayer);

    edges.forEach(function (e) {
      e.line = el("line", { "class": "edge " + e.kind, "stroke-width": Math.min(1 + Math.log(1 + e.count), 5), "marker-end": "url(#arrow)" });
      var title = el("title", {}); title.textContent = e.s.id + (e.kind === "launch" ? " launched " : " connected to ") + e.t.id + " (" + e.count + "\u00d7)";
      e.line.appendChild(title);
      edgeLayer.appendChild(e.line);
    });
    nodes.forEach(function (n) {
      n.g = el("g", { "class": "node " + n.kind });
      n.g.appendChild(el("circle", { r: Math.min(5 + Math.sqrt(n.deg) * 2, 14) }));
      var label = el("text", { x: 9, y: 3 }); label.textContent = shortName(n.id); n.g.appendChild(label);
      var title = el("title", {}); title.textContent = n.id + " (" + n.kind + ")"; n.g.appendChild(title);
      n.g.addEventListener("mousedown", function (ev) { drag = n; ev.stopPropagation(); });
      n.g.addEventListener("click", function () { highlight(n); });
      nodeLayer.appendChild(n.g);
    });

    var alpha = 1, drag = null, scale = 1, tx = 0, ty = 0, pan = null;
    function step() {
      var k = Math.min(160, Math.sqrt(W * H / nodes.length) * 0.45);
      for (var i = 0; i < nodes.length; i++) {
        var a = nodes[i];
        for (var j = i + 1; j < nodes.length; j++) {
          var b = nodes[j], dx = a.x - b.x, dy = a.y - b.y, d2 = dx * dx + dy * dy + 0.01;
          if (d2 > 250000) { continue; }
          var f = k * k / d2 * 0.05;
          a.vx += dx * f; a.vy += dy * f; b.vx -= dx * f; b.vy -= dy * f;
        }
      }
      edges.forEach(function (e) {
        var dx = e.t.x - e.s.x, dy = e.t.y - e.s.y, d = Math.sqrt(dx * dx + dy * dy) + 0.01, f = (d - k) / d * 0.04;
        e.s.vx += dx * f; e.s.vy += dy * f; e.t.vx -= dx * f; e.t.vy -= dy * f;
      });
      nodes.forEach(function (n) {
        n.vx += (W / 2 - n.x) * 0.004; n.vy += (H / 2 - n.y) * 0.004;
        if (n === drag) { n.vx = n.vy = 0; return; }
        n.x += Math.max(-20, Math.min(20, n.vx * alpha)); n.y += Math.max(-20, Math.min(20, n.vy * alpha));
        n.x = Math.max(30, Math.min(W - 140, n.x)); n.y = Math.max(20, Math.min(H - 20, n.y));
        n.vx *= 0.6; n.vy *= 0.6;
      });
    }
    function paint() {
      edges.forEach(function (e) {
        e.line.setAttribute("x1", e.s.x.toFixed(1)); e.line.setAttribute("y1", e.s.y.toFixed(1));
        e.line.setAttribute("x2", e.t.x.toFixed(1)); e.line.setAttribute("y2", e.t.y.toFixed(1));
      });
      nodes.forEach(function (n) { n.g.setAttribute("transform", "translate(" + n.x.toFixed(1) + "," + n.y.toFixed(1) + ")"); });
      view.setAttribute("transform", "translate(" + tx + "," + ty + ") scale(" + scale + ")");
    }
    function tick() {
      if (alpha > 0.02 || drag) { step(); alpha *= 0.985; }
      paint();
      window.requestAnimationFrame(tick);
    }
    function toGraph(ev) {
      var pt = svg.createSVGPoint(); pt.x = ev.clientX; pt.y = ev.clientY;
      var p = pt.matrixTransform(svg.getScreenCTM().inverse());
      return { x: (p.x - tx) / scale, y: (p.y - ty) / scale, rx: p.x, ry: p.y };
    }
    svg.addEventListener("mousemove", function (ev) {
      var p = toGraph(ev);
      if (drag) { drag.x = p.x; drag.y = p.y; alpha = Math.max(alpha, 0.3); }
      else if (pan) { tx = pan.tx + p.rx - pan.x; ty = pan.ty + p.ry - pan.y; }
    });
    svg.addEventListener("mousedown", function (ev) { var p = toGraph(ev); pan = { x: p.rx, y: p.ry, tx: tx, ty: ty }; });
    window.addEventListener("mouseup", function () { drag = null; pan = null; });
    svg.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var p = toGraph(ev), f = ev.deltaY < 0 ? 1.1 : 1 / 1.1;
      tx = p.rx - (p.rx - tx) * f; ty = p.ry - (p.ry - ty) * f; scale *= f;
    }, { passive: false });
    var selected = null;
    function highlight(n) {
      selected = selected === n ? null : n;
      var near = {};
      if (selected) {
        near[n.id] = true;
        edges.forEach(function (e) { if (e.s === n) { near[e.t.id] = true; } if (e.t === n) { near[e.s.id] = true; } });
      }
      nodes.forEach(function (m) {
        m.g.classList.toggle("dim", !!selected && !near[m.id]);
        m.g.classList.toggle("hl", selected === m);
      });
      edges.forEach(function (e) { e.line.classList.toggle("dim", !!selected && e.s !== n && e.t !== n); });
    }
    for (var i = 0; i < 150; i++) { step(); alpha *= 0.99; }
    tick();
  }
})();
