// arca UI: the few interactions that need a script. Everything works
// without it except copying to the clipboard.
"use strict";

document.addEventListener("click", function (ev) {
  // Copy buttons copy the text of the <code> or <pre> next to them.
  var btn = ev.target.closest("button[data-copy]");
  if (btn) {
    var holder = btn.parentElement;
    var code = holder && holder.querySelector("code, pre");
    if (!code) return;
    var text = code.innerText;
    var done = function () {
      var old = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = old; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(code); });
    } else {
      selectText(code);
    }
    return;
  }
});

function selectText(el) {
  var range = document.createRange();
  range.selectNodeContents(el);
  var sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
}

// MLflow's links (the client's "View run at TRACKING_URI/#/experiments/1/runs/ID",
// bookmarks of MLflow's own UI) arrive here with MLflow's route in the
// fragment, which never reaches the server: open the matching page.
(function () {
  var m, h = location.hash;
  if (h.indexOf("#/") !== 0) return;
  var to = null;
  if ((m = /^#\/experiments\/[^\/?]+\/runs\/([^\/?]+)/.exec(h))) to = "/ui/runs/" + m[1];
  else if ((m = /^#\/experiments\/([^\/?]+)/.exec(h))) to = "/ui/experiments/" + m[1];
  else if ((m = /^#\/models\/([^\/?]+)/.exec(h))) to = "/ui/models/" + m[1];
  else if (/^#\/models\/?$/.test(h)) to = "/ui/models";
  else if (/^#\/experiments\/?$/.test(h)) to = "/ui/experiments";
  if (to) location.replace(to);
})();
