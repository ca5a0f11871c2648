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
