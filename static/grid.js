// A batch's grid page (templates/generations/batch.html): the cells' size, from a slider, remembered in this
// browser for every grid. Until it is moved the cells fill the page's width.
(() => {
  "use strict";

  const slider = document.getElementById("cell-size");
  if (!slider) return;
  const KEY = "playground.grid-cell-size";
  const remembered = () => {
    try {
      return Number(localStorage.getItem(KEY)) || 0;
    } catch {
      return 0; // storage refused (a private window): the slider still works for this page
    }
  };
  const apply = (size) => {
    const grid = document.getElementById("batch-grid");
    grid.style.setProperty("--cell", `${size}px`);
    grid.classList.add("is-sized");
  };

  slider.closest("[data-cell-size]").hidden = false;
  if (remembered()) {
    slider.value = remembered();
    apply(slider.value);
  } else {
    const cell = document.querySelector("#batch-grid .grid-cell");
    if (cell) slider.value = Math.round(cell.getBoundingClientRect().width);
  }
  slider.addEventListener("input", () => {
    apply(slider.value);
    try {
      localStorage.setItem(KEY, slider.value);
    } catch {
      // as above
    }
  });
  // The grid refreshes itself while cells are unfinished: the new one takes the chosen size too.
  document.addEventListener("htmx:load", (event) => {
    if (event.detail.elt.id === "batch-grid" && remembered()) apply(remembered());
  });
})();
