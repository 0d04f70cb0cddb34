// Reviewing on top of pages that work without JavaScript: the lightbox of a board (and of its share page) with
// the image's rating and comments beside it, keys to rate (1–5, 0 clears), comment (C) and move (←/→), review
// mode's keys (A approve, R reject), ordering a board by drag and drop or Alt+←/→, and a board's live updates.
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

  // The lightbox over a board's images (its page, its share page).
  const lightbox = document.querySelector("[data-review-lightbox]");
  const images = () => [...document.querySelectorAll("[data-lightbox-panel]")];
  let shown = null;
  const show = (link) => {
    shown = link;
    const picture = lightbox.querySelector("[data-lightbox-picture]");
    const thumbnail = link.querySelector("img");
    picture.src = thumbnail ? thumbnail.currentSrc || thumbnail.src : "";
    picture.alt = thumbnail ? thumbnail.alt : "";
    if (link.dataset.lightboxImage) {
      const full = new Image();
      full.src = link.dataset.lightboxImage;
      full.decode().then(() => { if (shown === link) picture.src = full.src; }, () => {});
    }
    lightbox.querySelector("[data-lightbox-title]").textContent = thumbnail ? thumbnail.alt : "Image";
    lightbox.querySelector("[data-lightbox-details]").href = link.href;
    const panel = lightbox.querySelector("[data-lightbox-content]");
    htmx.ajax("GET", link.dataset.lightboxPanel, { target: panel, swap: "innerHTML" });
    const all = images();
    lightbox.querySelector("[data-lightbox-step='-1']").disabled = all[0] === link;
    lightbox.querySelector("[data-lightbox-step='1']").disabled =
      all[all.length - 1] === link && !document.querySelector(".board-more a");
  };
  // Past the last image loaded, the lightbox loads the board's next page and goes on.
  let wantsNext = false;
  const step = (delta) => {
    const all = images();
    const next = all[all.indexOf(shown) + delta];
    const more = document.querySelector(".board-more a");
    if (next) {
      show(next);
      next.scrollIntoView({ block: "nearest" });
    } else if (delta > 0 && more) {
      wantsNext = true;
      htmx.trigger(more, "board-more");
    }
  };
  document.addEventListener("htmx:afterSettle", () => {
    if (wantsNext && lightbox && lightbox.open) {
      wantsNext = false;
      step(1);
    }
  });
  if (lightbox) {
    document.addEventListener("click", (event) => {
      const link = event.target.closest("[data-lightbox-panel]");
      if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      show(link);
      lightbox.showModal();
    });
    lightbox.addEventListener("click", (event) => {
      const stepButton = event.target.closest("[data-lightbox-step]");
      if (stepButton) step(Number(stepButton.dataset.lightboxStep));
      else if (event.target.closest("[data-lightbox-close]") || event.target.matches("[data-lightbox-stage]")) lightbox.close();
    });
    lightbox.addEventListener("keydown", (event) => {
      if (!plainKey(event)) return;
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        event.preventDefault();
        step(event.key === "ArrowRight" ? 1 : -1);
      } else if (/^[0-5]$/.test(event.key) && rateWithKey(lightbox, event.key)) {
        event.preventDefault();
      } else if (event.key.toLowerCase() === "c" && focusComment(lightbox)) {
        event.preventDefault();
      }
    });
    lightbox.addEventListener("close", () => {
      if (shown) {
        const tile = shown.closest("[hx-get]");
        if (tile && tile.matches(".board-item")) htmx.trigger(tile, "tile-changed");
        shown.focus({ preventScroll: true });
      }
    });
    let swipe = null;
    const stage = lightbox.querySelector("[data-lightbox-stage]");
    stage.addEventListener("pointerdown", (event) => {
      swipe = event.pointerType === "mouse" ? null : { x: event.clientX, y: event.clientY };
    });
    stage.addEventListener("pointerup", (event) => {
      if (!swipe) return;
      const dx = event.clientX - swipe.x;
      const dy = event.clientY - swipe.y;
      swipe = null;
      if (Math.abs(dx) > 40 && Math.abs(dx) > 1.5 * Math.abs(dy)) step(dx < 0 ? 1 : -1);
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

  // The gallery's lightbox: the image's rating and comments (keys 1–5, 0, C), and "Add to board".
  const galleryLightbox = document.getElementById("lightbox");
  const reviewsBar = galleryLightbox && galleryLightbox.querySelector("[data-lightbox-reviews]");
  if (reviewsBar) {
    const panelUrl = (id, part) => `${reviewsBar.dataset.panelUrl.replace("--id--", id)}?part=${part}`;
    const comments = reviewsBar.querySelector("[data-lightbox-comments]");
    let shownId = null;
    const loadComments = () => {
      if (comments.open && shownId) {
        htmx.ajax("GET", panelUrl(shownId, "discussion"), { target: reviewsBar.querySelector("[data-lightbox-comments-body]"), swap: "innerHTML" });
      }
    };
    galleryLightbox.addEventListener("lightbox-show", (event) => {
      shownId = event.detail.id;
      htmx.ajax("GET", panelUrl(shownId, "rating"), { target: reviewsBar.querySelector("[data-lightbox-rating]"), swap: "innerHTML" });
      const add = new URL(reviewsBar.dataset.addUrl, location.href);
      add.searchParams.set("id", shownId);
      reviewsBar.querySelector("[data-lightbox-add]").href = add.href;
      loadComments();
    });
    comments.addEventListener("toggle", loadComments);
    galleryLightbox.addEventListener("keydown", (event) => {
      if (!plainKey(event)) return;
      if (/^[0-5]$/.test(event.key) && rateWithKey(reviewsBar, event.key)) event.preventDefault();
      else if (event.key.toLowerCase() === "c") {
        event.preventDefault();
        comments.open = true;
        const focusSoon = () => { if (!focusComment(comments)) setTimeout(focusSoon, 50); };
        focusSoon();
      }
    });
  }

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

  // The gallery's filters as a CSV or a smart board: the filters as the address has them now.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-with-gallery-filters]");
    if (!link) return;
    const filters = new URLSearchParams(location.search);
    ["after", "until"].forEach((name) => filters.delete(name));
    const url = new URL(link.href);
    url.search = link.dataset.withGalleryFilters === "csv" ? filters.toString() : new URLSearchParams({ smart: filters.toString() }).toString();
    link.href = url.href;
  });

  // Comments: Cancel in an edit form puts the thread back as it was.
  document.addEventListener("click", (event) => {
    const cancel = event.target.closest("[data-comments-reload]");
    if (!cancel) return;
    event.preventDefault();
    htmx.trigger(document.body, "comments-changed");
  });
})();
