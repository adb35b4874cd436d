// Preselects the browser's time zone in the sign-up and preferences forms
// when the field is still on its default. Served from /static/tz.js; the
// pages work without it (the select is the fallback).
(function () {
  var tz;
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!tz) { return; }
  var fields = document.querySelectorAll('select[data-detect-timezone]');
  for (var i = 0; i < fields.length; i++) {
    var sel = fields[i];
    if (sel.value !== '') { continue; }
    var found = false;
    for (var j = 0; j < sel.options.length; j++) {
      if (sel.options[j].value === tz) { found = true; break; }
    }
    if (!found) {
      // An alias the list does not show (e.g. Asia/Calcutta): offer it.
      var opt = document.createElement('option');
      opt.value = tz;
      opt.textContent = tz;
      sel.appendChild(opt);
    }
    sel.value = tz;
    var note = document.getElementById(sel.id + '-detected');
    if (note) { note.textContent = 'Detected from your browser: ' + tz + '.'; }
  }
})();
