// Reviewing on top of pages that work without JavaScript: the shown image's rating and comments in the lightbox
// (static/lightbox.js) with keys to rate (1–5, 0 clears) and comment (C), review mode's keys (A approve, R
// reject), ordering a board by drag and drop or Alt+←/→, and a board's live updates.
(() => {
  "use strict";

  const typing = (target) => target.closest && target.closest("input, textarea, select, [contenteditable]");
  const plainKey = (event) => !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event.target);

  // Rate by key: the rating form in `scope` (the lightbox's panel, review mode) takes the star pressed.
  const rateWithKey = (scope, key) => {
    const button = scope && scope.querySelector(`[data-rating-form] button[value="${key}"]`);
    if (button) button.click();
    return Boolean(button);
  };
  const focusComment = (scope) => {
    const field = scope && scope.querySelector("[data-comment-text]");
    if (field) field.focus();
    return Boolean(field);
  };

  // A star posts the rating in place, the rating (yours and the team's) coming back in its stead.
  document.addEventListener("click", (event) => {
    const star = event.target.closest("[data-rating-form] button[name=value]");
    if (!star) return;
    event.preventDefault();
    const form = star.form;
    htmx.ajax("POST", form.action, { source: form, values: { value: star.value }, target: form.closest(".rating"), swap: "outerHTML" });
  });

  // The lightbox (static/lightbox.js), wherever it is: the shown image's rating and comments under its panel, with
  // keys 1–5 to rate, 0 to clear and C to comment.
  const lightbox = document.getElementById("lightbox");
  const lightboxReviews = lightbox && lightbox.querySelector("[data-lightbox-reviews]");
  if (lightboxReviews) {
    // (Fetched rather than by htmx.ajax, whose aborted requests log errors: the last image asked for wins.)
    let asked = 0;
    lightbox.addEventListener("lightbox:show", (event) => {
      const request = ++asked;
      fetch(lightboxReviews.dataset.panelUrl.replace("--id--", event.detail.id))
        .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
        .then((html) => {
          if (request !== asked) return;
          lightboxReviews.innerHTML = html;
          htmx.process(lightboxReviews);
        }, () => {});
    });
    lightbox.addEventListener("keydown", (event) => {
      if (!plainKey(event)) return;
      if (/^[0-5]$/.test(event.key) && rateWithKey(lightboxReviews, event.key)) event.preventDefault();
      else if (event.key.toLowerCase() === "c" && focusComment(lightboxReviews)) event.preventDefault();
    });
  }

  // A board's page: keys on the image in focus (1–5 rate, 0 clears, Alt+←/→ move it), drag and drop, and
  // the live updates of its images and review progress.
  const board = document.querySelector("[data-board]");
  if (board) {
    const refreshTile = (id) => {
      const tile = document.getElementById(`item-${id}`);
      if (tile && tile.matches("[hx-get]")) htmx.trigger(tile, "tile-changed");
    };
    let reloadSoon = 0;
    const reloadImages = () => {
      clearTimeout(reloadSoon);
      reloadSoon = setTimeout(() => {
        const url = new URL(location.href);
        htmx.ajax("GET", url.pathname + url.search, { target: "#board-images", swap: "outerHTML" });
        url.searchParams.set("part", "progress");
        if (document.getElementById("board-progress")) htmx.ajax("GET", url.pathname + url.search, { target: "#board-progress", swap: "outerHTML" });
      }, 400);
    };
    for (const kind of ["activity-ratings", "activity-comments", "activity-board"]) {
      board.addEventListener(kind, (event) => {
        if (event.target !== board) return;
        const about = event.detail && event.detail.about;
        if (about) refreshTile(about);
        else if (kind === "activity-board") reloadImages();
        if (kind === "activity-board" && about && document.getElementById("board-progress")) {
          const url = new URL(location.href);
          url.searchParams.set("part", "progress");
          htmx.ajax("GET", url.pathname + url.search, { target: "#board-progress", swap: "outerHTML" });
        }
      });
    }

    const move = (tile, index) => {
      htmx.ajax("POST", board.dataset.moveUrl, { values: { id: tile.dataset.id, to: String(index) }, swap: "none" })
        .then(reloadImages);
    };
    // A tile refreshed after a key pressed on it keeps the focus, so that the keys go on working on it.
    let refocus = null;
    board.addEventListener("keydown", (event) => {
      const media = event.target.closest && event.target.closest(".board-item-media");
      if (!media || lightbox.open) return;
      const tile = media.closest(".board-item");
      if (event.altKey && (event.key === "ArrowLeft" || event.key === "ArrowRight") && tile.closest("[data-orderable]")) {
        event.preventDefault();
        const index = Number(tile.dataset.index) + (event.key === "ArrowRight" ? 1 : -1);
        const sibling = event.key === "ArrowRight" ? tile.nextElementSibling : tile.previousElementSibling;
        if (sibling) (event.key === "ArrowRight" ? sibling.after(tile) : sibling.before(tile));
        media.focus();
        refocus = tile.id;
        move(tile, Math.max(index, 0));
      } else if (plainKey(event) && /^[0-5]$/.test(event.key) && media.dataset.rateUrl) {
        event.preventDefault();
        refocus = tile.id;
        htmx.ajax("POST", media.dataset.rateUrl, { values: { value: event.key }, swap: "none" })
          .then(() => refreshTile(tile.dataset.id));
      }
    });
    document.addEventListener("htmx:afterSettle", () => {
      const tile = refocus && document.getElementById(refocus);
      if (!tile || tile.contains(document.activeElement)) return;
      refocus = null;
      tile.querySelector(".board-item-media").focus({ preventScroll: true });
    });

    // The lightbox over the board: past the last image loaded, the next page; as it closes, the tile it showed
    // last is redrawn (its rating and comments may have changed there) and keeps the focus.
    let shownInLightbox = null;
    lightbox.addEventListener("lightbox:show", (event) => { shownInLightbox = event.detail.id; });
    lightbox.addEventListener("lightbox:end", () => {
      const more = board.querySelector("[data-lightbox-more]");
      if (more) htmx.trigger(more, "board-more");
    });
    lightbox.addEventListener("lightbox:closed", () => {
      refocus = `item-${shownInLightbox}`;
      refreshTile(shownInLightbox);
    });

    const grid = board.querySelector("[data-orderable]");
    if (grid) {
      let dragged = null;
      grid.querySelectorAll(".board-item").forEach((tile) => { tile.draggable = true; });
      grid.addEventListener("htmx:load", (event) => { if (event.detail.elt.matches(".board-item")) event.detail.elt.draggable = true; });
      grid.addEventListener("dragstart", (event) => {
        dragged = event.target.closest(".board-item");
        if (!dragged) return;
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", dragged.dataset.id);
        dragged.classList.add("is-dragged");
      });
      grid.addEventListener("dragover", (event) => {
        const over = event.target.closest(".board-item");
        if (!dragged || !over || over === dragged) return;
        event.preventDefault();
        const box = over.getBoundingClientRect();
        const after = event.clientX > box.left + box.width / 2;
        (after ? over.after(dragged) : over.before(dragged));
      });
      grid.addEventListener("dragend", () => {
        if (!dragged) return;
        dragged.classList.remove("is-dragged");
        move(dragged, [...grid.querySelectorAll(".board-item")].indexOf(dragged));
        dragged = null;
      });
    }
  }

  // Review mode: A approves, R rejects, C comments, ←/→ move, 1–5 rate.
  const review = document.querySelector("[data-review-mode]");
  if (review) {
    document.addEventListener("keydown", (event) => {
      if (!plainKey(event)) return;
      const key = event.key.toLowerCase();
      const click = (selector) => {
        const target = review.querySelector(selector);
        if (!target || target.disabled) return false;
        target.click();
        return true;
      };
      const done = (key === "a" && click("[data-review-status='approved']"))
        || (key === "r" && click("[data-review-status='rejected']"))
        || (key === "c" && focusComment(review))
        || (event.key === "ArrowLeft" && click("[data-review-previous]"))
        || (event.key === "ArrowRight" && click("[data-review-next]"))
        || (/^[0-5]$/.test(key) && rateWithKey(review, key));
      if (done) event.preventDefault();
    });
  }

  // "Add to board" from anywhere (a card, the gallery's selection or lightbox, a grid): the chooser in a dialog.
  // Links carry the images in their address, buttons in their form.
  let boardDialog = null;
  const openBoardDialog = (url) => {
    if (!boardDialog) {
      boardDialog = document.createElement("dialog");
      boardDialog.className = "selection-dialog board-dialog";
      boardDialog.setAttribute("aria-labelledby", "add-to-board-title");
      boardDialog.innerHTML = '<div class="board-dialog-body" data-board-dialog-body></div>';
      document.body.append(boardDialog);
      boardDialog.addEventListener("click", (event) => {
        if (event.target.closest("[data-dialog-close]") || event.target === boardDialog) {
          event.preventDefault();
          boardDialog.close();
        }
      });
    }
    htmx.ajax("GET", url, { target: boardDialog.querySelector("[data-board-dialog-body]"), swap: "innerHTML" })
      .then(() => {
        if (!boardDialog.open) boardDialog.showModal();
        const first = boardDialog.querySelector("input[type=radio]:checked, [data-new-board]");
        if (first) first.focus();
      });
  };
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-board-dialog]");
    const button = event.target.closest("[data-board-dialog-submit]");
    if (link && event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey) {
      event.preventDefault();
      openBoardDialog(link.href);
    } else if (button) {
      event.preventDefault();
      // (formAction is the page's own address when the button has no formaction of its own.)
      const url = new URL(button.getAttribute("formaction") || button.form.action, location.href);
      for (const [name, value] of new FormData(button.form)) if (name === "id" || name === "next") url.searchParams.append(name, value);
      if (!url.searchParams.has("next")) url.searchParams.set("next", location.pathname + location.search);
      openBoardDialog(url.href);
    }
  });

  // A batch's grid coloured by the team's mean: the means of its cells, read once.
  const gridTools = document.querySelector("[data-grid-ratings]");
  if (gridTools) {
    const toggle = gridTools.querySelector("[data-grid-colour]");
    fetch(gridTools.dataset.gridRatings).then((response) => response.json()).then(({ cells }) => {
      for (const [id, { mean, band }] of Object.entries(cells)) {
        const cell = document.getElementById(`generation-${id}`);
        if (!cell) continue;
        cell.dataset.mean = band;
        const badge = document.createElement("span");
        badge.className = `grid-mean mean-${band}`;
        badge.textContent = `${mean}★`;
        cell.append(badge);
      }
      gridTools.querySelector("[data-grid-colour-toggle]").hidden = !Object.keys(cells).length;
    });
    toggle.addEventListener("change", () => document.body.classList.toggle("grid-by-mean", toggle.checked));
  }

  // Comments: Cancel in an edit form puts the thread back as it was.
  document.addEventListener("click", (event) => {
    const cancel = event.target.closest("[data-comments-reload]");
    if (!cancel) return;
    event.preventDefault();
    htmx.trigger(document.body, "comments-changed");
  });
})();
