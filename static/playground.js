// Small enhancements on top of pages that work without JavaScript.
(() => {
  "use strict";

  const form = () => document.getElementById("generation-form");

  // Ctrl+Enter / Cmd+Enter submits the prompt form from anywhere inside it.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    const target = event.target.closest && event.target.closest("#generation-form");
    if (!target) return;
    event.preventDefault();
    target.requestSubmit();
  });

  // "Use settings" on the home page fills the form in place; elsewhere its link opens the home page filled.
  const useSettings = (settings) => {
    const fields = form().elements;
    fields.prompt.value = settings.prompt;
    const preset = [...fields.size.options].some((option) => option.value === settings.size);
    fields.size.value = preset ? settings.size : "custom";
    fields.custom_size.value = preset ? "" : settings.size;
    fields.seed.value = settings.seed;
    fields.prompt_extend.checked = settings.prompt_extend;
    const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    form().scrollIntoView({ block: "nearest", behavior: reduceMotion ? "auto" : "smooth" });
    fields.prompt.focus({ preventScroll: true });
  };

  document.addEventListener("click", (event) => {
    const randomSeed = event.target.closest("[data-random-seed]");
    if (randomSeed) {
      const input = document.getElementById(randomSeed.dataset.randomSeed);
      input.value = crypto.getRandomValues(new Uint32Array(1))[0] % 2147483648;
      return;
    }
    const settings = event.target.closest("[data-use-settings]");
    if (settings && form() && !event.target.closest("dialog")) {
      event.preventDefault();
      closeMenu(settings);
      useSettings(JSON.parse(settings.dataset.useSettings));
      return;
    }
    const copy = event.target.closest("[data-copy], [data-copy-link]");
    if (copy) {
      event.preventDefault();
      const text = copy.hasAttribute("data-copy-link") ? copy.href : copy.dataset.copy;
      navigator.clipboard.writeText(text).then(() => {
        copy.classList.add("copied");
        setTimeout(() => {
          copy.classList.remove("copied");
          closeMenu(copy);
        }, 900);
      }, () => {});
    }
  });

  // The toolbar's "More" menus are popovers: placed under their button (above it near the bottom of the screen),
  // hidden until placed, following their button when the page scrolls, closed after one of their actions.
  let invoker = null;
  const closeMenu = (element) => {
    const menu = element.closest(".menu:popover-open");
    if (menu) menu.hidePopover();
  };
  const place = (menu) => {
    const button = invoker && invoker.getAttribute("popovertarget") === menu.id
      ? invoker : document.querySelector(`[popovertarget="${CSS.escape(menu.id)}"]`);
    const anchor = button.getBoundingClientRect();
    const left = Math.max(8, Math.min(anchor.right - menu.offsetWidth, innerWidth - menu.offsetWidth - 8));
    const below = anchor.bottom + 4;
    const top = below + menu.offsetHeight > innerHeight - 8 ? Math.max(8, anchor.top - menu.offsetHeight - 4) : below;
    menu.style.left = `${left}px`;
    menu.style.top = `${top}px`;
  };
  document.addEventListener("click", (event) => {
    invoker = (event.target.closest && event.target.closest("[popovertarget]")) || invoker;
  }, true);
  document.addEventListener("beforetoggle", (event) => {
    if (event.target.matches(".menu") && event.newState === "open") event.target.style.visibility = "hidden";
  }, true);
  document.addEventListener("toggle", (event) => {
    const menu = event.target;
    if (!menu.matches(".menu") || event.newState !== "open") return;
    place(menu);
    menu.style.visibility = "";
  }, true);
  document.addEventListener("submit", (event) => closeMenu(event.target), true);
  addEventListener("scroll", () => document.querySelectorAll(".menu:popover-open").forEach(place), { passive: true, capture: true });

  // Aspect ratios the stylesheet does not know (custom sizes, data-ratio="other"): from the picture's own width
  // and height (or its placeholder's viewBox), for the cards' and the gallery tiles' layout.
  const sizeByRatio = (root) => {
    for (const element of root.querySelectorAll("[data-ratio='other']")) {
      const picture = element.querySelector("img, svg.placeholder");
      const [width, height] = picture.matches("img")
        ? [picture.getAttribute("width"), picture.getAttribute("height")]
        : picture.getAttribute("viewBox").split(" ").slice(2);
      element.style.setProperty("--ar", (width / height).toFixed(4));
    }
  };
  document.addEventListener("DOMContentLoaded", () => sizeByRatio(document));
  document.addEventListener("htmx:load", (event) => sizeByRatio(event.detail.elt.parentElement || document));

  // When the playground itself cannot be reached, say so instead of leaving the button silent.
  const showFormAlert = (event) => {
    const alert = event.target.closest("form") && event.target.closest("form").querySelector("[data-form-alert]");
    if (!alert) return;
    alert.textContent = event.type === "htmx:sendError"
      ? "Could not reach the playground. Check your connection; your prompt is still in the box."
      : `The playground answered with an error (${event.detail.xhr.status}). Your prompt is still in the box; try again.`;
    alert.hidden = false;
  };
  // A generation that started leaves the form as typed: only clear the messages of earlier attempts.
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.target.closest && event.target.closest("#generation-form");
    if (!form || !event.detail.successful || event.detail.xhr.getResponseHeader("HX-Reswap") !== "none") return;
    form.querySelectorAll(".errorlist").forEach((list) => list.remove());
    form.querySelectorAll("[aria-invalid]").forEach((field) => field.removeAttribute("aria-invalid"));
    form.querySelector("[data-form-alert]").hidden = true;
  });
  document.addEventListener("htmx:sendError", showFormAlert);
  document.addEventListener("htmx:responseError", showFormAlert);

  // Say things to screen readers through the page's status line; clearing it first repeats a repeated message.
  const announce = (text) => {
    const announcer = document.querySelector("[data-announcer]");
    if (!announcer) return;
    announcer.textContent = "";
    requestAnimationFrame(() => { announcer.textContent = text; });
  };
  const cardSummary = (card) => {
    const status = card.querySelector("[data-card-status]").textContent.trim();
    const prompt = card.querySelector(".prompt").textContent.trim();
    const reason = card.querySelector("[data-card-reason]");
    const short = prompt.length > 80 ? `${prompt.slice(0, 79)}…` : prompt;
    return `${status}: ${short}${reason ? `. ${reason.textContent.trim()}` : ""}`;
  };

  // After Generate the new card is the large one at the top of the results: it comes into view (below the form
  // on a phone), its status is read out, and focus moves to it unless it is still in the form (Ctrl+Enter in the
  // prompt). The card itself says how it is doing from then on.
  document.addEventListener("generation-queued", (event) => {
    const card = document.getElementById(`generation-${event.detail.id}`);
    if (!card) return;
    const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    card.scrollIntoView({ block: "nearest", behavior: reduceMotion ? "auto" : "smooth" });
    const focus = document.activeElement;
    if (!focus || focus === document.body || focus.matches("#generation-form button[type=submit]")) {
      card.querySelector("[data-card-status]").focus({ preventScroll: true });
    }
    announce(cardSummary(card));
  });

  // A form that comes back with errors: focus goes to the first field to mend (or the form-wide message).
  document.addEventListener("htmx:afterSettle", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "generation-form") return;
    const problem = form.querySelector("[aria-invalid=true], .errorlist.nonfield");
    if (!problem) return;
    if (!problem.matches("input, select, textarea")) problem.tabIndex = -1;
    problem.focus();
  });

  // A card whose status changes (queued, generating, done, failed) says so through the status line.
  const cardStatuses = new Map();
  document.addEventListener("htmx:beforeSwap", (event) => {
    const card = event.detail.target;
    if (card.matches("article.card")) cardStatuses.set(card.id, card.dataset.status);
  });
  document.addEventListener("htmx:afterSettle", (event) => {
    const card = event.target;
    if (!(card instanceof Element) || !card.matches("article.card")) return;
    const before = cardStatuses.get(card.id);
    if (before && before !== card.dataset.status) announce(cardSummary(card));
    cardStatuses.delete(card.id);
  });

  // Live updates: one server-sent event stream for the cards still queued or running; a status change
  // refreshes its card at once. The cards also poll every few seconds, in case the stream drops. Elements with
  // data-live-topic="<public id>" and data-live-kinds="comments ratings" follow what is announced about that
  // public id on the same stream: each news is the htmx event "activity-<kind>" on them, with what it is about.
  let stream = null;
  let streamed = "";
  const followLiveCards = () => {
    const topics = [...document.querySelectorAll("[data-live-topic]")];
    const kindsOf = (element) => (element.dataset.liveKinds || "").split(" ").filter(Boolean);
    const kinds = [...new Set(topics.flatMap(kindsOf))].sort();
    const ids = [...new Set([
      ...[...document.querySelectorAll("[data-live-card]")].map((card) => card.dataset.liveCard),
      ...topics.map((element) => element.dataset.liveTopic),
    ])].sort();
    if (`${ids}|${kinds}` === streamed) return;
    streamed = `${ids}|${kinds}`;
    if (stream) stream.close();
    stream = null;
    if (!ids.length) return;
    const url = new URL(document.body.dataset.eventsUrl, window.location.href);
    ids.forEach((id) => url.searchParams.append("id", id));
    stream = new EventSource(url);
    stream.addEventListener("status", (event) => {
      const { id, status } = JSON.parse(event.data);
      const card = document.getElementById(`generation-${id}`);
      if (card && card.dataset.status !== status) htmx.trigger(card, "generation-changed");
    });
    kinds.forEach((kind) => stream.addEventListener(kind, (event) => {
      const { id, about } = JSON.parse(event.data);
      document.querySelectorAll(`[data-live-topic="${CSS.escape(id)}"]`).forEach((element) => {
        if (kindsOf(element).includes(kind)) htmx.trigger(element, `activity-${kind}`, { about });
      });
    }));
  };
  document.addEventListener("htmx:afterSettle", followLiveCards);
  document.addEventListener("DOMContentLoaded", followLiveCards);
  // Leaving the page closes the stream first, so that nothing is cut off half-way.
  addEventListener("pagehide", () => {
    if (stream) stream.close();
    stream = null;
    streamedIds = "";
  });

  // Elapsed time on running cards: the server says how long it has been; the browser keeps counting.
  const firstSeen = new WeakMap();
  const tick = () => {
    const now = performance.now();
    for (const element of document.querySelectorAll("[data-elapsed-ms]")) {
      if (!firstSeen.has(element)) firstSeen.set(element, now - Number(element.dataset.elapsedMs));
      element.textContent = `${((now - firstSeen.get(element)) / 1000).toFixed(1)} s`;
    }
    for (const counter of document.querySelectorAll("[data-count-for]")) {
      const field = document.getElementById(counter.dataset.countFor);
      if (field) counter.textContent = `${field.value.length} / ${counter.dataset.max}`;
    }
  };
  setInterval(tick, 100);
  document.addEventListener("DOMContentLoaded", tick);

  // A share page reloaded from a lightbox (static/lightbox.js) shares its history with the page behind it, so
  // Chrome goes Back to that page within this one: load it, which restores the reader's place.
  addEventListener("popstate", (event) => {
    const fromLightbox = event.state && ("anchor" in event.state || "lightbox" in event.state);
    if (fromLightbox && !document.getElementById("lightbox")) location.reload();
  });
})();
