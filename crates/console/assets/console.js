// Tenpo console: a little progressive enhancement; every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // "select all" boxes: <input type=checkbox data-select-all="name">
  for (const all of document.querySelectorAll("input[data-select-all]")) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`)) {
        box.checked = all.checked;
      }
    });
  }
  // buttons that ask first: <button data-confirm="...">
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (e) => {
      if (!window.confirm(button.dataset.confirm)) e.preventDefault();
    });
  }
});
