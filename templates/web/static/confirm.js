// A person who opens the confirmation link in a browser is subscribed at
// once: the page submits its own form. Link scanners that fetch the page
// without running scripts change nothing, and the button stays for browsers
// without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("confirm-form");
  if (form && !form.dataset.sent) {
    form.dataset.sent = "1";
    form.submit();
  }
});
