// "PNG info": a PNG dropped on the prompt form (or picked with its button) fills the form with the prompt,
// size, seed and prompt extend that its text chunks carry: the playground's own (a `parameters` JSON, see
// generation_download_png in generations/services/generation_files.py) or the Stable Diffusion web UI's
// (`parameters` text). The file is read here in the browser; nothing is uploaded.
(() => {
  "use strict";

  const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
  const MAX_SEED = 2147483647;
  const latin1 = new TextDecoder("latin1");
  const utf8 = new TextDecoder();

  const inflate = async (bytes) => {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  };
  const afterNul = (bytes) => bytes.subarray(bytes.indexOf(0) + 1);

  // The tEXt, zTXt and iTXt chunks of a PNG by keyword, or null when the bytes are not a PNG.
  const textChunks = async (file) => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (bytes.length < 8 || PNG_SIGNATURE.some((byte, index) => bytes[index] !== byte)) return null;
    const view = new DataView(bytes.buffer);
    const texts = {};
    for (let offset = 8; offset + 12 <= bytes.length;) {
      const length = view.getUint32(offset);
      const type = latin1.decode(bytes.subarray(offset + 4, offset + 8));
      const data = bytes.subarray(offset + 8, Math.min(offset + 8 + length, bytes.length));
      offset += 12 + length;
      if (type === "IEND") break;
      const nul = data.indexOf(0);
      if (nul < 1 || !["tEXt", "zTXt", "iTXt"].includes(type)) continue;
      const keyword = latin1.decode(data.subarray(0, nul));
      try {
        if (type === "tEXt") texts[keyword] = latin1.decode(data.subarray(nul + 1));
        else if (type === "zTXt") texts[keyword] = latin1.decode(await inflate(data.subarray(nul + 2)));
        else {
          // keyword, NUL, compression flag and method, language tag, NUL, translated keyword, NUL, text
          const text = afterNul(afterNul(data.subarray(nul + 3)));
          texts[keyword] = utf8.decode(data[nul + 1] === 1 ? await inflate(text) : text);
        }
      } catch {
        // A chunk that does not inflate is skipped; others may still carry the settings.
      }
    }
    return texts;
  };

  // The settings the chunks describe: {prompt, size, seed, promptExtend}, each possibly missing, or null.
  const settingsFrom = (texts) => {
    const parameters = texts.parameters;
    if (parameters) {
      try {
        const ours = JSON.parse(parameters);
        if (ours && typeof ours.prompt === "string") {
          return { prompt: ours.prompt, size: ours.size, seed: ours.seed, promptExtend: ours.prompt_extend };
        }
      } catch {
        // Not JSON: the Stable Diffusion web UI's text.
      }
      // The prompt, perhaps a "Negative prompt:" line, then one line "Steps: 20, …, Seed: 1, Size: 512x768, …".
      const lines = parameters.split("\n");
      const last = lines.length > 1 && /(^|, )Steps: /.test(lines[lines.length - 1]) ? lines.pop() : "";
      const negative = lines.findIndex((line) => line.startsWith("Negative prompt:"));
      const prompt = (negative >= 0 ? lines.slice(0, negative) : lines).join("\n").trim();
      const field = (name) => (last.match(new RegExp(`(?:^|, )${name}: ([^,]+)`)) || [])[1];
      if (prompt) return { prompt, size: field("Size"), seed: field("Seed") };
    }
    return texts.Description ? { prompt: texts.Description } : null;
  };

  const setValue = (field, value) => {
    if (field.type === "checkbox") field.checked = value;
    else field.value = value;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
  };

  // Fill what the settings hold and can be used; say what was filled.
  const fill = (form, settings) => {
    const filled = [];
    if (typeof settings.prompt === "string" && settings.prompt.trim()) {
      setValue(form.elements.prompt, settings.prompt.trim());
      filled.push("prompt");
    }
    const size = String(settings.size ?? "").trim().toLowerCase().replace("×", "x");
    if (/^\d{2,5}x\d{2,5}$/.test(size)) {
      const preset = [...form.elements.size.options].some((option) => option.value === size);
      setValue(form.elements.size, preset ? size : "custom");
      if (!preset) setValue(form.elements.custom_size, size);
      filled.push(`size ${size}`);
    }
    const seed = String(settings.seed ?? "").trim();
    if (/^\d{1,10}$/.test(seed) && Number(seed) <= MAX_SEED) {
      setValue(form.elements.seed, seed);
      filled.push(`seed ${seed}`);
    }
    if (typeof settings.promptExtend === "boolean") {
      setValue(form.elements.prompt_extend, settings.promptExtend);
      filled.push(`prompt extend ${settings.promptExtend ? "on" : "off"}`);
    }
    return filled;
  };

  const read = async (form, file) => {
    const status = form.querySelector("[data-png-status]");
    const texts = await textChunks(file).catch(() => null);
    const settings = texts && settingsFrom(texts);
    const filled = settings ? fill(form, settings) : [];
    status.classList.toggle("is-problem", !filled.length);
    if (filled.length) {
      status.textContent = `Filled from ${file.name}: ${filled.join(", ")}.`;
      form.elements.prompt.focus();
    } else if (!texts) {
      status.textContent = `${file.name} is not a PNG, so it carries no settings to read.`;
    } else {
      status.textContent = `${file.name} carries no generation settings: nothing was changed. Only PNGs with a "parameters" text chunk (such as the playground's downloads) can fill the form.`;
    }
  };

  const formOf = (event) => event.target.closest && event.target.closest("#generation-form");
  document.addEventListener("dragover", (event) => {
    const form = formOf(event);
    if (!form || !event.dataTransfer.types.includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    form.classList.add("is-drop-target");
  });
  document.addEventListener("dragleave", (event) => {
    const form = formOf(event);
    if (form && !form.contains(event.relatedTarget)) form.classList.remove("is-drop-target");
  });
  document.addEventListener("drop", (event) => {
    const form = formOf(event);
    if (!form || !event.dataTransfer.files.length) return;
    event.preventDefault();
    form.classList.remove("is-drop-target");
    read(form, event.dataTransfer.files[0]);
  });
  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-png-file]") || !event.target.files.length) return;
    read(formOf(event), event.target.files[0]);
    event.target.value = "";
  });

  // The way in is shown only where this script runs (the form is drawn anew after a refused submit).
  const reveal = () => document.querySelectorAll("[data-png-settings][hidden]").forEach((part) => { part.hidden = false; });
  document.addEventListener("htmx:afterSettle", reveal);
  reveal();
})();
