// Fills in the consumer's time zone from the browser when none is saved yet, and says so;
// without script the field stays empty and the page asks for it if quiet hours need it.
document.addEventListener("DOMContentLoaded", () => {
  const input = document.getElementById("time_zone");
  const note = document.getElementById("time-zone-detected");
  if (!input || input.value.trim()) return;
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return;
  }
  if (!zone) return;
  input.value = zone;
  if (note) note.textContent = ` We filled in ${zone}, the time zone your browser uses; change it if it is not yours.`;
});
