// The gallery (templates/generations/gallery.html) on top of its plain links and forms: a lightbox over the
// tiles, several tiles picked at once, filters applied as they change, and the reader's place kept so that
// Back and reload find it again.
(() => {
  "use strict";

  const gallery = document.querySelector("[data-gallery]");
  if (!gallery) return;
  const galleryPath = location.pathname;
  const filters = document.getElementById("gallery-filters");
  const lightbox = document.getElementById("lightbox");
  const lightboxImage = lightbox.querySelector("[data-lightbox-image]");
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
  const idleStatus = status().textContent;
  const tickSelected = () => {
    for (const box of boxes()) {
      box.checked = selected.has(box.value);
      box.closest(".tile").classList.toggle("is-selected", box.checked);
    }
  };
  const showSelection = () => {
    tickSelected();
    status().textContent = !selected.size ? idleStatus
      : selected.size > COMPARE_MAX ? `${selected.size} selected. Compare takes up to ${COMPARE_MAX} images; Favourite and Delete take them all.`
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
      if (wantsNext) step(1);
    } else {
      return;
    }
    showSelection();
    remember();
  });

  // A tile (or its star) swapped in afresh: keep its tick, and the lightbox showing it.
  document.addEventListener("htmx:load", (event) => {
    if (!event.detail.elt.matches(".tile")) return;
    tickSelected();
    if (lightbox.open && event.detail.elt.id === shownId) show(shownId);
  });

  // The lightbox: the tile's share URL in the address bar (Back closes it), previous/next by arrow keys,
  // buttons or a swipe, Esc to close. Links opened another way (new tab, keyboard modifiers) go to the page.
  let shownId = null;
  let openedHere = false;
  let wantsNext = false;
  const imageLinks = () => [...gallery.querySelectorAll(".tile-media[data-image]")];
  const linkOf = (tileId) => document.querySelector(`#${CSS.escape(tileId)} .tile-media[data-image]`);

  const show = (tileId) => {
    const link = linkOf(tileId);
    const tile = link.closest(".tile");
    const thumbnail = link.querySelector("img");
    shownId = tileId;
    wantsNext = false;
    // The thumbnail at once, the full image as soon as it is decoded.
    lightboxImage.src = thumbnail.currentSrc || thumbnail.src;
    lightboxImage.alt = thumbnail.alt;
    lightboxImage.setAttribute("width", thumbnail.getAttribute("width"));
    lightboxImage.setAttribute("height", thumbnail.getAttribute("height"));
    const full = new Image();
    full.src = link.dataset.image;
    full.decode().then(() => { if (shownId === tileId) lightboxImage.src = full.src; }, () => {});
    lightbox.querySelector("[data-lightbox-prompt]").textContent = tile.querySelector(".tile-prompt").textContent;
    lightbox.querySelector("[data-lightbox-details]").href = link.href;
    lightbox.querySelector("[data-lightbox-download]").href = link.dataset.download;
    const favourite = lightbox.querySelector("[data-lightbox-favourite]");
    const isFavourite = tile.querySelector(".tile-star").getAttribute("aria-pressed") === "true";
    favourite.querySelector("[name=id]").value = tile.id.replace(/^generation-/, "");
    const star = favourite.querySelector("button");
    star.value = isFavourite ? "unfavourite" : "favourite";
    star.textContent = isFavourite ? "★ Favourite" : "☆ Favourite";
    star.setAttribute("aria-pressed", String(isFavourite));
    lightbox.dispatchEvent(new CustomEvent("lightbox-show", { detail: { id: favourite.querySelector("[name=id]").value } }));
    const links = imageLinks();
    lightbox.querySelector("[data-lightbox-step='-1']").disabled = links[0] === link;
    lightbox.querySelector("[data-lightbox-step='1']").disabled =
      links[links.length - 1] === link && !gallery.querySelector(".gallery-next");
  };

  const open = (tileId) => {
    remember();
    show(tileId);
    history.pushState({ lightbox: tileId }, "", linkOf(tileId).href);
    openedHere = true;
    lightbox.showModal();
  };

  const step = (delta) => {
    const links = imageLinks();
    const next = links[links.indexOf(linkOf(shownId)) + delta];
    if (next) {
      const tileId = next.closest(".tile").id;
      show(tileId);
      history.replaceState({ lightbox: tileId }, "", next.href);
      next.closest(".tile").scrollIntoView({ block: "nearest" });
    } else if (delta > 0 && gallery.querySelector(".gallery-next")) {
      wantsNext = true;
      htmx.trigger(gallery.querySelector(".gallery-next"), "gallery-more");
    }
  };

  gallery.addEventListener("click", (event) => {
    const link = event.target.closest(".tile-media[data-image]");
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    open(link.closest(".tile").id);
  });
  let swiped = false;
  lightbox.addEventListener("click", (event) => {
    const stepButton = event.target.closest("[data-lightbox-step]");
    if (stepButton) step(Number(stepButton.dataset.lightboxStep));
    else if (event.target.closest("[data-lightbox-close]") || (event.target.matches("[data-lightbox-stage]") && !swiped)) {
      lightbox.close();
    }
    swiped = false;
  });
  lightbox.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      step(event.key === "ArrowRight" ? 1 : -1);
    }
  });
  // However it closes (Esc, the button, a tap beside the image), the lightbox's history entry goes too.
  lightbox.addEventListener("close", () => {
    if (history.state && history.state.lightbox) {
      if (openedHere) history.back();
      else history.replaceState({}, "", galleryUrl());
    }
    const link = shownId && linkOf(shownId);
    if (link) link.focus({ preventScroll: true });
  });
  addEventListener("popstate", (event) => {
    const tileId = event.state && event.state.lightbox;
    if (tileId && !linkOf(tileId)) {
      location.reload(); // a share URL whose tile is not on this page: show its own page
    } else if (tileId) {
      show(tileId);
      openedHere = true;
      if (!lightbox.open) lightbox.showModal();
    } else {
      if (lightbox.open) lightbox.close();
      remember();
    }
  });

  let swipe = null;
  const stage = lightbox.querySelector("[data-lightbox-stage]");
  stage.addEventListener("pointerdown", (event) => {
    swipe = event.pointerType === "mouse" ? null : { x: event.clientX, y: event.clientY };
  });
  stage.addEventListener("pointercancel", () => { swipe = null; });
  stage.addEventListener("pointerup", (event) => {
    if (!swipe) return;
    const dx = event.clientX - swipe.x;
    const dy = event.clientY - swipe.y;
    swipe = null;
    swiped = Math.abs(dx) > 40 && Math.abs(dx) > 1.5 * Math.abs(dy);
    if (swiped) step(dx < 0 ? 1 : -1);
  });

  restorePlace();
})();
