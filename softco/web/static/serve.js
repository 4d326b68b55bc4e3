// softco serve: follow the run live (server-sent events), load diffs; report.js (loaded first) draws the diagrams
// and drives the code browser.
// Every HTML fragment this inserts was rendered and escaped by the server; the page's CSP allows no inline script.
(function () {
  "use strict";
  var body = document.body;
  var project = body.getAttribute("data-project");
  if (!project) return;
  var last = { status: null, controls: null, gate: null, lanes: null };
  var runningRoles = [];
  window.__softcoUpdateMs = [];

  var page = window.softcoPage;  // report.js: the code browser and the diagrams, shared with the HTML report
  function setupBrowser(root) { page.setupBrowser(root); }
  function drawDiagrams(root) { return page.drawDiagrams(root, markRunning); }

  function nodeId(role) { return "role_" + role.replace(/[^A-Za-z0-9]/g, "_"); }

  function markRunning() {
    var graph = document.getElementById("sop-graph");
    if (!graph) return;
    var ids = runningRoles.map(function (r) { return "flowchart-" + nodeId(r) + "-"; });
    graph.querySelectorAll("g.node").forEach(function (g) {
      var id = g.id || "";
      var on = ids.some(function (p) { return id.indexOf(p) !== -1; });
      g.classList.toggle("running", on);
    });
  }

  function setupDiffs(root) {
    root.querySelectorAll("details.commit").forEach(function (d) {
      d.addEventListener("toggle", function () {
        if (!d.open || d.getAttribute("data-loaded")) return;
        d.setAttribute("data-loaded", "1");
        var box = d.querySelector(".diff");
        fetch("/p/" + encodeURIComponent(project) + "/commit/" + d.getAttribute("data-sha"), { credentials: "same-origin" })
          .then(function (r) { return r.text().then(function (t) { return { ok: r.ok, text: t }; }); })
          .then(function (r) {
            if (r.ok) { box.innerHTML = r.text; box.classList.remove("muted"); } else { box.textContent = r.text; }
          })
          .catch(function (e) { box.textContent = "could not load the diff: " + e; });
      });
    });
  }

  function replace(id, html, key) {
    var el = document.getElementById(id);
    if (!el || html === undefined) return;
    if (key !== undefined) {
      // a part holding a form: replaced only when what it offers changed, never under a person's typing
      if (el.getAttribute("data-key") === key) return;
      el.setAttribute("data-key", key);
    } else if (html === last[id]) {
      return;
    }
    last[id] = html;
    el.innerHTML = html;
  }

  function apply(u) {
    var t0 = performance.now();
    replace("status", u.status);
    replace("controls", u.controls, u.controls_key);
    replace("gate", u.gate, u.gate_key);
    replace("lanes", u.lanes);
    if (u.steps) document.getElementById("steps").insertAdjacentHTML("beforeend", u.steps);
    body.setAttribute("data-last-step", u.last_step);
    body.setAttribute("data-live", u.live ? "yes" : "no");
    runningRoles = u.running_roles || [];
    markRunning();
    if (u.artifacts !== undefined) {
      var art = document.getElementById("artifacts");
      art.innerHTML = u.artifacts;
      body.setAttribute("data-messages", u.messages);
      setupBrowser(art);
      drawDiagrams(art);
      var commits = document.getElementById("commit-list");
      commits.innerHTML = u.commits;
      setupDiffs(commits);
    }
    body.setAttribute("data-updates", String(Number(body.getAttribute("data-updates")) + 1));
    window.__softcoUpdateMs.push(performance.now() - t0);
  }

  function listen() {
    var url = "/p/" + encodeURIComponent(project) + "/events?after=" + body.getAttribute("data-last-step") +
      "&messages=" + body.getAttribute("data-messages");
    var source = new EventSource(url);
    source.addEventListener("state", function (ev) { apply(JSON.parse(ev.data)); });
    // the board broke under the page: the server ended the stream; a reload shows why, in one line
    source.addEventListener("problem", function () { source.close(); location.reload(); });
    source.onerror = function () {
      // the server went away or restarted: EventSource reconnects by itself; resume from what the page has
      source.close();
      setTimeout(listen, 2000);
    };
  }

  setupBrowser(document);
  setupDiffs(document);
  drawDiagrams(document);
  listen();
})();
