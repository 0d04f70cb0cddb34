// The lightbox (templates/generations/lightbox.html) over any page's pictures: the links to share pages marked
// data-lightbox-item (its value: the image's public id) inside a data-lightbox-group open in it (the picture is the
// share URL's image/, the panel its panel/). The picture shows at once from the thumbnail the
// page already has, then in full; the panel beside it (prompt, parameters, toolbar) comes from the server.
// Arrow keys, the buttons or a swipe step through the pictures (up and down move between a grid's rows); the
// picture's share URL is in the address bar while it shows, so Back closes it. Links opened another way (a new
// tab, keyboard modifiers) go to the share page. Events for the page: lightbox:open, lightbox:show (a picture is
// shown: detail.id is its public id, for what other rooms add to the panel), lightbox:end (stepped past the last
// picture: a gallery or a board loads more, and the lightbox steps on once they come), lightbox:closed.
(() => {
  "use strict";

  const lightbox = document.getElementById("lightbox");
  if (!lightbox) return;
  const image = lightbox.querySelector("[data-lightbox-image]");
  const panel = lightbox.querySelector("[data-lightbox-panel]");
  const items = () => [...document.querySelectorAll("[data-lightbox-group] [data-lightbox-item]")];
  let shown = null;
  let openedHere = false;
  let pageUrl = location.href;
  let wantsNext = false;
  let panelRequest = 0;

  const title = (text) => {
    panel.replaceChildren(Object.assign(document.createElement("h2"), {
      className: "lightbox-prompt", id: "lightbox-title", textContent: text,
    }));
  };

  let shownPlace = "";
  const placeOf = (item) => item.closest("[id]").id;

  const show = (item) => {
    shown = item;
    shownPlace = placeOf(item);
    wantsNext = false;
    const thumbnail = item.querySelector("img");
    image.src = thumbnail.currentSrc || thumbnail.src;
    image.alt = thumbnail.alt;
    image.setAttribute("width", thumbnail.getAttribute("width"));
    image.setAttribute("height", thumbnail.getAttribute("height"));
    const full = new Image();
    full.src = new URL("image/", item.href).href;
    full.decode().then(() => { if (shown === item) image.src = full.src; }, () => {});
    title(thumbnail.alt);
    const request = ++panelRequest;
    fetch(new URL("panel/", item.href))
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        if (request !== panelRequest) return;
        panel.innerHTML = html;
        htmx.process(panel);
      }, () => {});
    const all = items();
    const more = document.querySelector("[data-lightbox-group] [data-lightbox-more]");
    lightbox.querySelector("[data-lightbox-step='-1']").disabled = all[0] === item;
    lightbox.querySelector("[data-lightbox-step='1']").disabled = all[all.length - 1] === item && !more;
    lightbox.dispatchEvent(new CustomEvent("lightbox:show", { bubbles: true, detail: { item, id: item.dataset.lightboxItem } }));
  };

  const open = (item) => {
    lightbox.dispatchEvent(new CustomEvent("lightbox:open", { detail: { item } }));
    pageUrl = location.href;
    show(item);
    history.pushState({ ...history.state, lightbox: placeOf(item) }, "", item.href);
    openedHere = true;
    lightbox.showModal();
  };

  const moveTo = (item) => {
    show(item);
    history.replaceState({ ...history.state, lightbox: placeOf(item) }, "", item.href);
    item.scrollIntoView({ block: "nearest" });
  };

  const step = (delta) => {
    const all = items();
    const next = all[all.indexOf(shown) + delta];
    if (next) {
      moveTo(next);
    } else if (delta > 0 && document.querySelector("[data-lightbox-group] [data-lightbox-more]")) {
      wantsNext = true;
      lightbox.dispatchEvent(new CustomEvent("lightbox:end", { bubbles: true }));
    }
  };

  // Up and down in a grid: the picture in the same column of the row above or below.
  const stepRow = (delta) => {
    const place = shown && shown.closest("[data-row]");
    if (!place) return false;
    const row = Number(place.dataset.row) + delta;
    const target = document.querySelector(
      `[data-row="${row}"][data-column="${place.dataset.column}"][data-section="${place.dataset.section}"] [data-lightbox-item]`,
    );
    if (target) moveTo(target);
    return true;
  };

  document.addEventListener("click", (event) => {
    const item = event.target.closest("[data-lightbox-group] [data-lightbox-item]");
    if (!item || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    open(item);
  });
  // New pictures came in (the next page of a gallery): step on if that was asked for. A picture refreshed while
  // it shows (its tile swapped) stays the one shown.
  document.addEventListener("htmx:afterSettle", () => {
    if (!lightbox.open || !shown) return;
    if (!shown.isConnected) shown = document.querySelector(`#${CSS.escape(shownPlace)} [data-lightbox-item]`) || shown;
    const all = items();
    if (wantsNext && all.indexOf(shown) < all.length - 1) step(1);
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
    if (event.target.closest("input, textarea, select, [popover]")) return;
    const moves = { ArrowRight: () => step(1), ArrowLeft: () => step(-1), ArrowDown: () => stepRow(1), ArrowUp: () => stepRow(-1) };
    if (moves[event.key] && moves[event.key]() !== false) event.preventDefault();
  });
  // However it closes (Esc, the button, a tap beside the picture), its history entry goes too.
  lightbox.addEventListener("close", () => {
    if (history.state && history.state.lightbox) {
      if (openedHere) history.back();
      else history.replaceState({ ...history.state, lightbox: null }, "", pageUrl);
    }
    if (shown && shown.isConnected) shown.focus({ preventScroll: true });
    lightbox.dispatchEvent(new CustomEvent("lightbox:closed", { bubbles: true }));
  });
  addEventListener("popstate", (event) => {
    const id = event.state && event.state.lightbox;
    const item = id && document.querySelector(`#${CSS.escape(id)} [data-lightbox-item]`);
    if (id && !item) {
      location.reload(); // a share URL whose picture is not on this page: show its own page
    } else if (item) {
      show(item);
      openedHere = true;
      if (!lightbox.open) lightbox.showModal();
    } else if (lightbox.open) {
      openedHere = false;
      lightbox.close();
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
})();
