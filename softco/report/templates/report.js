// softco's pages, the HTML report and `softco serve`'s live page alike: draw the mermaid diagrams (offline,
// strict) and drive the code browser. The report runs it at once; the live page (body[data-project]) calls it
// from serve.js whenever the server sends new artifacts. Every HTML fragment it inserts was escaped by softco.
window.softcoPage = (function () {
  "use strict";
  var diagramCount = 0;
  var mermaidReady = false;

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

  function setupBrowser(root) {
    root.querySelectorAll(".filelist a, a[href^='#f-']").forEach(function (a) {
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

  // Draws the diagrams under root not drawn yet; then() runs after them, before body[data-diagrams] says done.
  async function drawDiagrams(root, then) {
    var figures = root.querySelectorAll("figure.mermaid-figure:not(.rendered):not(.failed)");
    if (figures.length && window.mermaid) {
      if (!mermaidReady) {
        window.mermaid.initialize({
          startOnLoad: false,
          securityLevel: "strict",
          theme: "neutral",
          fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        });
        mermaidReady = true;
      }
      for (var fig of figures) {
        // Model-written diagrams may carry HTML tags; mermaid would draw some of them (images, handlers).
        // Turn every tag opener into mermaid's own "<" entity so it is drawn as text. "<<" and "<|" stay.
        var src = fig.querySelector(".mermaid-src").textContent.replace(/(?<!<)<(?=[A-Za-z\/!?])/g, "#lt;");
        var target = fig.querySelector(".diagram");
        try {
          var ok = await window.mermaid.parse(src, { suppressErrors: true });
          if (!ok) throw new Error("the mermaid source has a syntax error");
          var out = await window.mermaid.render("softco-diagram-" + diagramCount++, src);
          target.innerHTML = out.svg;
          fig.classList.add("rendered");
        } catch (err) {
          target.textContent = "This diagram could not be drawn (" + (err && err.message ? err.message : err) +
            "); its source is below.";
          target.classList.add("diagram-error");
          fig.classList.add("failed");
          fig.querySelector("details.source").open = true;
        }
      }
    }
    if (then) then();
    document.body.setAttribute("data-diagrams", "done");
  }

  if (!document.body.hasAttribute("data-project")) {
    setupBrowser(document);
    drawDiagrams(document);
  }
  return { showFile: showFile, setupBrowser: setupBrowser, drawDiagrams: drawDiagrams };
})();
