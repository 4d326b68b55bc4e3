// softco report: draw the mermaid diagrams (offline, strict) and drive the code browser.
(function () {
  "use strict";

  function showFile(id) {
    var files = document.querySelectorAll(".browser article.file");
    if (!files.length) return;
    var found = false;
    files.forEach(function (f) { if (f.id === id) found = true; });
    if (!found) id = files[0].id;
    files.forEach(function (f) { f.hidden = f.id !== id; });
    document.querySelectorAll(".filelist a").forEach(function (a) {
      a.classList.toggle("active", a.getAttribute("data-file") === id);
    });
  }

  function setupBrowser() {
    document.querySelectorAll(".filelist a, a[href^='#f-']").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        var id = a.getAttribute("href").slice(1);
        ev.preventDefault();
        showFile(id);
        document.getElementById("code").scrollIntoView();
        history.replaceState(null, "", "#" + id);
      });
    });
    var hash = location.hash.slice(1);
    showFile(hash.indexOf("f-") === 0 ? hash : "");
  }

  async function drawDiagrams() {
    var figures = document.querySelectorAll("figure.mermaid-figure");
    if (!figures.length || !window.mermaid) {
      document.body.setAttribute("data-diagrams", "done");
      return;
    }
    window.mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      theme: "neutral",
      fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    });
    var n = 0;
    for (var fig of figures) {
      // Model-written diagrams may carry HTML tags; mermaid would draw some of them (images, handlers).
      // Turn every tag opener into mermaid's own "<" entity so it is drawn as text. "<<" and "<|" stay.
      var src = fig.querySelector(".mermaid-src").textContent.replace(/(?<!<)<(?=[A-Za-z\/!?])/g, "#lt;");
      var target = fig.querySelector(".diagram");
      try {
        var ok = await window.mermaid.parse(src, { suppressErrors: true });
        if (!ok) throw new Error("the mermaid source has a syntax error");
        var out = await window.mermaid.render("softco-diagram-" + n++, src);
        target.innerHTML = out.svg;
        fig.classList.add("rendered");
      } catch (err) {
        target.textContent = "This diagram could not be drawn (" + (err && err.message ? err.message : err) +
          "); its source is below.";
        target.classList.add("diagram-error");
        fig.querySelector("details.source").open = true;
      }
    }
    document.body.setAttribute("data-diagrams", "done");
  }

  setupBrowser();
  drawDiagrams();
})();
