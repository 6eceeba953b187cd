// The overview refreshes itself every few seconds (the script's data-every-ms, set by
// the server) without a full reload: the page is fetched again and its main section
// swapped in. A failed fetch keeps what is shown.
setInterval(async () => {
  try {
    const answer = await fetch(location.href, { credentials: "same-origin" });
    if (!answer.ok) return;
    const page = new DOMParser().parseFromString(await answer.text(), "text/html");
    const fresh = page.getElementById("main");
    if (fresh) document.getElementById("main").replaceChildren(...fresh.childNodes);
  } catch (_) {}
}, Number(document.currentScript.dataset.everyMs));
