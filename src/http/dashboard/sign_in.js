// A sign-in link (`quire demo --serve` prints one) carries the key in the fragment,
// which the browser never sends to a server: fill the form with it, forget the
// fragment, and sign in.
const key = new URLSearchParams(location.hash.slice(1)).get("key");
if (key) {
  history.replaceState(null, "", location.pathname);
  document.getElementById("key").value = key;
  document.querySelector("form").submit();
}
