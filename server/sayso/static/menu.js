// The main menu is a <details> element that the page serves open, so that it works without
// JavaScript. At phone width this collapses it behind its "Menu" button; on wider windows
// it is always open (and its button hidden by sayso.css).
const PHONE = window.matchMedia("(max-width: 40rem)");

function fit(menu) {
  menu.open = !PHONE.matches;
}

document.addEventListener("DOMContentLoaded", () => {
  const menu = document.querySelector("details.menu");
  if (!menu) return;
  fit(menu);
  PHONE.addEventListener("change", () => fit(menu));
});
