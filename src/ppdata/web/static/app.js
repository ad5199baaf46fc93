// ppdata web: lazy fragments, table sorting, unit filters, copy buttons, plot errors.
// No inline scripts (the Content-Security-Policy forbids them); all text inserted here
// comes from the server, already escaped, or is set with textContent.
"use strict";

function cellValue(row, index, numeric) {
  const cell = row.children[index];
  if (!cell) return numeric ? -Infinity : "";
  const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
  if (!numeric) return raw.toLowerCase();
  const n = parseFloat(raw);
  return Number.isNaN(n) ? -Infinity : n;
}

function makeSortable(table) {
  const headers = table.querySelectorAll("thead th");
  headers.forEach((th, index) => {
    th.classList.add("sort");
    th.addEventListener("click", () => {
      const numeric = th.dataset.type === "number";
      const descending = th.dataset.order !== "desc";
      headers.forEach((h) => { delete h.dataset.order; });
      th.dataset.order = descending ? "desc" : "asc";
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const x = cellValue(a, index, numeric);
        const y = cellValue(b, index, numeric);
        const order = x < y ? -1 : x > y ? 1 : 0;
        return descending ? -order : order;
      });
      rows.forEach((r) => body.appendChild(r));
    });
  });
}

function setupUnitFilters(root) {
  const box = root.querySelector("#unit-filters");
  const table = root.querySelector("#units-table");
  if (!box || !table) return;
  const selects = box.querySelectorAll("select[data-filter]");
  const count = box.querySelector("#unit-count");
  const apply = () => {
    let shown = 0;
    Array.from(table.tBodies[0].rows).forEach((row) => {
      let ok = true;
      selects.forEach((s) => { if (s.value && row.dataset[s.dataset.filter] !== s.value) ok = false; });
      row.hidden = !ok;
      if (ok) shown += 1;
    });
    count.textContent = shown + " units";
  };
  selects.forEach((s) => s.addEventListener("change", apply));
}

function setupCopies(root) {
  root.querySelectorAll(".copy-btn").forEach((button) => {
    button.addEventListener("click", async () => {
      const text = button.parentElement.querySelector(".snippet").textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "copied";
      } catch (e) {
        const range = document.createRange();
        range.selectNodeContents(button.parentElement.querySelector(".snippet"));
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "selected: press Ctrl+C";
      }
    });
  });
}

function setup(root) {
  root.querySelectorAll("table.sortable").forEach(makeSortable);
  setupUnitFilters(root);
  setupCopies(root);
}

function loadFragments() {
  document.querySelectorAll(".fragment[data-src]").forEach(async (box) => {
    try {
      const reply = await fetch(box.dataset.src, { headers: { Accept: "text/html" } });
      const html = await reply.text();
      const doc = new DOMParser().parseFromString(html, "text/html");
      box.replaceChildren(...Array.from(doc.body.childNodes));
      box.dataset.loaded = reply.ok ? "ok" : "error";
      setup(box);
    } catch (e) {
      const p = document.createElement("p");
      p.className = "fragment-error";
      p.textContent = "could not load: " + e;
      box.replaceChildren(p);
      box.dataset.loaded = "error";
    }
  });
}

function watchPlots() {
  document.querySelectorAll("figure.plot img").forEach((img) => {
    const fail = async () => {
      const note = img.parentElement.querySelector(".plot-error");
      let text = "the plot could not be drawn";
      try { text = await (await fetch(img.src)).text(); } catch (e) { /* keep the default */ }
      note.textContent = text;
      note.hidden = false;
      img.hidden = true;
      img.parentElement.dataset.state = "error";
    };
    img.addEventListener("error", fail);
    img.addEventListener("load", () => { img.parentElement.dataset.state = "loaded"; });
    if (img.complete && img.naturalWidth === 0 && img.getAttribute("src") && img.currentSrc) fail();
    else if (img.complete && img.naturalWidth > 0) img.parentElement.dataset.state = "loaded";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setup(document);
  loadFragments();
  watchPlots();
});
