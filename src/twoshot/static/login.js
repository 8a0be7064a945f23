const $ = (id) => document.getElementById(id);

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), credentials: "same-origin" });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && data.error.message) || ("HTTP " + r.status));
  return data;
}

if (location.pathname.endsWith("/welcome")) {
  // The one-time token is in the fragment: it never reaches a server log. Take it out of
  // the address bar at once, so it is not left in the history either.
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  history.replaceState(null, "", location.pathname);
  $("welcome").hidden = false;
  post("/api/account/sign-in-link", { token })
    .then((a) => { $("who").textContent = "For " + a.email + ". The link works once."; $("new1").focus(); })
    .catch((e) => { $("who").textContent = e.message; $("set").disabled = true; });
  $("welcome").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if ($("new1").value !== $("new2").value) { $("msg2").textContent = "The two passwords differ."; return; }
    $("set").disabled = true;
    try {
      await post("/api/account/password", { token, password: $("new1").value });
      location.replace("/dashboard");
    } catch (e) { $("msg2").textContent = e.message; $("set").disabled = false; }
  });
} else {
  $("signin").hidden = false;
  $("email").focus();
  $("signin").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("go").disabled = true;
    $("msg").textContent = "";
    try {
      await post("/api/account/sign-in", { email: $("email").value, password: $("password").value });
      location.replace("/dashboard");
    } catch (e) { $("msg").textContent = e.message; $("go").disabled = false; }
  });
}
