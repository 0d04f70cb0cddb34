// The gallery (templates/generations/gallery.html) on top of its plain links and forms: several tiles picked at
// once, filters applied as they change, older pages loaded for the lightbox (static/lightbox.js), and the
// reader's place kept so that Back and reload find it again.
(() => {
  "use strict";

  const gallery = document.querySelector("[data-gallery]");
  if (!gallery) return;
  const galleryPath = location.pathname;
  const filters = document.getElementById("gallery-filters");
  const lightbox = document.getElementById("lightbox");
  const selectionDialog = document.getElementById("selection-dialog");
  const selected = new Set();
  const onGalleryEntry = () => location.pathname === galleryPath;

  // The reader's place. The URL holds the filters and, once older pages are loaded, the last tile loaded
  // (?until=…), so that the server renders them all again for a reload or a Back that cannot use the page
  // cache; history.state holds the tile at the top of the view, how far it is scrolled, and the ticked tiles.
  history.scrollRestoration = "manual";
  let baseUrl = new URL(location.href);
  let loadedMore = baseUrl.searchParams.has("until");
  baseUrl.searchParams.delete("until");

  const topTile = () => {
    for (const tile of gallery.querySelectorAll(".tile")) {
      const box = tile.getBoundingClientRect();
      if (box.bottom > 0) return { anchor: tile.id, offset: box.top };
    }
    return { anchor: null, offset: 0 };
  };
  const galleryUrl = () => {
    const url = new URL(baseUrl);
    const end = gallery.querySelector("[data-page-end]");
    if (loadedMore && end) url.searchParams.set("until", end.dataset.pageEnd);
    return url.href;
  };
  const remember = () => {
    if (!onGalleryEntry()) return;
    history.replaceState({ ...history.state, ...topTile(), selection: [...selected] }, "", galleryUrl());
  };
  let rememberSoon = 0;
  addEventListener("scroll", () => {
    clearTimeout(rememberSoon);
    rememberSoon = setTimeout(remember, 150);
  }, { passive: true });
  addEventListener("pagehide", remember);

  const restorePlace = () => {
    const { anchor, offset, selection } = history.state || {};
    (selection || []).forEach((id) => selected.add(id));
    showSelection();
    const tile = anchor && document.getElementById(anchor);
    if (tile) window.scrollTo(0, tile.getBoundingClientRect().top + window.scrollY - offset);
  };

  // Several tiles picked at once: their boxes belong to the selection bar's form. Shift-click ticks a range.
  // Favourite and Delete take any number; Compare takes up to four, and says so when more are ticked.
  const COMPARE_MAX = 4;
  const bar = document.getElementById("gallery-selection");
  bar.dataset.enhanced = "";
  let lastBox = null;
  const boxes = () => [...gallery.querySelectorAll(".tile [data-compare-pick]")];
  const status = () => document.getElementById("selection-status");
  const tickSelected = () => {
    for (const box of boxes()) {
      box.checked = selected.has(box.value);
      box.closest(".tile").classList.toggle("is-selected", box.checked);
    }
  };
  const showSelection = () => {
    tickSelected();
    status().textContent = selected.size > COMPARE_MAX
      ? `${selected.size} selected. Compare takes up to ${COMPARE_MAX}; Favourite and Delete take them all.`
      : `${selected.size} selected.`;
    gallery.querySelector("[data-selection-clear]").hidden = !selected.size;
    bar.classList.toggle("has-selection", selected.size > 0);
  };
  bar.addEventListener("submit", (event) => {
    if (selected.size <= COMPARE_MAX) return;
    event.preventDefault();
    status().textContent = `Compare takes up to ${COMPARE_MAX} images and ${selected.size} are ticked: untick some first.`;
  });
  gallery.addEventListener("click", (event) => {
    const box = event.target.closest("[data-compare-pick]");
    if (!box) return;
    const all = boxes();
    if (event.shiftKey && all.includes(lastBox)) {
      const [from, to] = [all.indexOf(lastBox), all.indexOf(box)].sort((a, b) => a - b);
      all.slice(from, to + 1).forEach((other) => { other.checked = box.checked; });
    }
    lastBox = box;
    all.forEach((other) => (other.checked ? selected.add(other.value) : selected.delete(other.value)));
    showSelection();
    remember();
  });
  gallery.querySelector("[data-selection-clear]").addEventListener("click", () => {
    selected.clear();
    showSelection();
    remember();
  });

  // Deleting asks in a dialog (the server's confirmation form); "done" closes it.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id === "selection-dialog-body" && !selectionDialog.open) selectionDialog.showModal();
  });
  document.addEventListener("gallery-selection-done", () => {
    selectionDialog.close();
    selected.clear();
    showSelection();
  });
  selectionDialog.addEventListener("click", (event) => {
    if (!event.target.closest("[data-dialog-close]")) return;
    event.preventDefault();
    selectionDialog.close();
  });

  // Filters apply as they change: htmx swaps the results; here the URL follows, without empty fields.
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt !== filters) return;
    for (const [name, value] of [...event.detail.formData.entries()]) {
      if (value === "") event.detail.formData.delete(name);
    }
  });
  // (After a request the new tiles are in place; a "more" link swapped away passes the event to its parent.)
  document.addEventListener("htmx:afterRequest", (event) => {
    const requester = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!event.detail.successful || !requester) return;
    if (requester === filters) {
      baseUrl = new URL(event.detail.pathInfo.finalRequestPath, location.href);
      loadedMore = false;
      selected.clear();
    } else if (requester.matches(".gallery-next")) {
      loadedMore = true;
    } else {
      return;
    }
    showSelection();
    remember();
  });

  // A tile (or its star) swapped in afresh: keep its tick.
  document.addEventListener("htmx:load", (event) => {
    if (event.detail.elt.matches(".tile, #gallery-results")) tickSelected();
  });
  // The lightbox's Favourite: the tile behind it follows.
  document.addEventListener("favourite-changed", (event) => {
    const star = document.getElementById(`favourite-${event.detail.id}`);
    if (!star) return;
    star.setAttribute("aria-pressed", String(event.detail.favourite));
    star.value = event.detail.favourite ? "unfavourite" : "favourite";
    star.firstChild.textContent = event.detail.favourite ? "★" : "☆";
  });

  // Links that act on what the filters match (judging, a CSV, a smart board: data-with-gallery-filters names
  // the parameter that carries them, or none for the link's own query) take the filters as the address has them
  // when clicked, since they change in place.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-with-gallery-filters]");
    if (!link) return;
    const filters = new URLSearchParams(location.search);
    ["after", "until"].forEach((name) => filters.delete(name));
    const carriedIn = link.dataset.withGalleryFilters;
    const url = new URL(link.href);
    url.search = (carriedIn ? new URLSearchParams({ [carriedIn]: filters.toString() }) : filters).toString();
    link.href = url.href;
  });

  // The lightbox: the gallery's place is remembered before it opens; past the last tile, the next page loads.
  lightbox.addEventListener("lightbox:open", remember);
  lightbox.addEventListener("lightbox:end", () => {
    const more = gallery.querySelector(".gallery-next");
    if (more) htmx.trigger(more, "gallery-more");
  });
  lightbox.addEventListener("lightbox:closed", () => {
    if (onGalleryEntry() && !history.state?.lightbox) remember();
  });
  addEventListener("popstate", (event) => {
    if (!(event.state && event.state.lightbox)) remember();
  });

  restorePlace();
})();
