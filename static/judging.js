// Blind judging. The voting page: keys and taps vote, the next pair is already loaded and shows at once while the
// vote is sent in the background, in order. A round's page: its leaderboard refreshes when a vote is announced.
(() => {
  "use strict";

  const KEYS = { ArrowLeft: "left", ArrowRight: "right", ArrowDown: "tie", ArrowUp: "both_bad", s: "skip", S: "skip" };

  const setUpVoting = (judging) => {
    const stage = judging.querySelector("[data-judging-stage]");
    const count = judging.querySelector("[data-judging-count]");
    const alert = judging.querySelector("[data-judging-alert]");
    const known = new Set([...judging.querySelectorAll("[data-ballot]")].map((form) => form.dataset.ballot));
    const waiting = []; // ballots dealt and loading or loaded, not yet shown
    let done = null; // what to show once no pair is left
    let sending = Promise.resolve();
    let stopped = false;

    // A ballot from the server's <template>, made a live element so that its images load (and decode) now.
    const take = (template) => {
      const element = document.importNode(template.content, true).firstElementChild;
      element.querySelectorAll("img").forEach((image) => image.decode().catch(() => {}));
      return element;
    };
    const enqueue = (container) => {
      for (const template of container.querySelectorAll("template[data-ballot-template]")) {
        if (known.has(template.dataset.ballotTemplate)) continue;
        known.add(template.dataset.ballotTemplate);
        waiting.push(take(template));
      }
      const last = container.querySelector("template[data-ballot-done]");
      done = last ? take(last) : null;
      if (container.dataset.votesLabel) count.textContent = container.dataset.votesLabel;
    };
    const show = (element, since) => {
      stage.replaceChildren(element);
      // Two frames: the first is painted with the new pair, the second callback runs after that paint.
      requestAnimationFrame(() => requestAnimationFrame(() => {
        if (since !== undefined) judging.dataset.shownAfterMs = (performance.now() - since).toFixed(1);
        judging.dispatchEvent(new CustomEvent("judging:shown"));
      }));
    };
    let emptySince; // when the stage emptied, waiting for the server to deal more
    const showNext = (since) => {
      if (waiting.length) show(waiting.shift(), since);
      else if (done) show(done, since);
      else {
        stage.replaceChildren();
        emptySince = since;
      }
    };
    const refuse = (text) => {
      stopped = true;
      alert.textContent = text;
      alert.hidden = false;
      stage.replaceChildren();
    };

    const vote = (form, answer, since) => {
      if (stopped) return;
      const body = new FormData(form);
      body.set("choice", answer);
      showNext(since);
      sending = sending.then(async () => {
        let response;
        try {
          response = await fetch(form.action, { method: "POST", body, headers: { "HX-Request": "true" } });
        } catch {
          refuse("Your last vote could not be sent: the playground cannot be reached. Reload to try again.");
          return;
        }
        const html = document.createRange().createContextualFragment(await response.text());
        if (!response.ok) {
          const reason = html.querySelector("[data-refusal]");
          refuse(reason ? reason.textContent : `Your last vote was not taken (${response.status}). Reload to try again.`);
          return;
        }
        const container = html.querySelector("[data-ballot-queue]");
        if (container) enqueue(container);
        if (!stage.firstElementChild) showNext(emptySince);
      });
    };

    stage.addEventListener("submit", (event) => {
      event.preventDefault();
      vote(event.target, event.submitter.value, event.timeStamp);
    });
    document.addEventListener("keydown", (event) => {
      const answer = KEYS[event.key];
      if (!answer || event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.target.closest("input, textarea, select, [contenteditable]")) return;
      const form = stage.querySelector("form[data-ballot]");
      if (!form) return;
      event.preventDefault();
      vote(form, answer, event.timeStamp);
    });
    enqueue(judging.querySelector("[data-ballot-queue]"));
    // On a phone the site's header would push the second image below the fold.
    if (window.matchMedia("(max-width: 800px)").matches) judging.scrollIntoView({ block: "start" });
  };

  // A round's page follows its votes on the playground's event stream and refreshes the leaderboard.
  const followRound = (round) => {
    const url = new URL(document.body.dataset.eventsUrl, window.location.href);
    url.searchParams.set("id", round.dataset.roundEvents);
    const stream = new EventSource(url);
    // At most two refreshes a second, and always one after the last vote of a burst. The leaderboard is looked
    // up when the refresh fires: each refresh swaps in a new element.
    let refresh = null;
    stream.addEventListener("vote", () => {
      refresh ??= setTimeout(() => {
        refresh = null;
        const leaderboard = document.getElementById("leaderboard");
        if (leaderboard) htmx.trigger(leaderboard, "round-voted");
      }, 500);
    });
  };

  document.addEventListener("DOMContentLoaded", () => {
    const judging = document.querySelector("[data-judging]");
    if (judging) setUpVoting(judging);
    const round = document.querySelector("[data-round-events]");
    if (round) followRound(round);
  });
})();
