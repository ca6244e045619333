import { escapeMarkupSource } from "@resagent/core";
/**
 * The gallery's browser code. It runs in the page, not in Node: `galleryScript()` inlines the
 * function's source, so it must not use imports or anything outside its own body. Cards are
 * built from the JSON block the page carries; images load lazily.
 */
export interface GalleryCard {
  /** "<id>|<cell>": the card's data-sample-id. */
  k: string;
  id: string;
  cell: string;
  ds: string;
  phrase: string;
  iou: number;
  biou: number | null;
  box: number[] | null;
  fail: string | null;
  kinds: string[];
  q: number;
  verr: number;
  verrUsed: number;
  scored: number;
  pos: number;
  neg: number;
  img: string | null;
  note: string | null;
  i: number;
  /** Queries in order: [queue, rank, P(yes) or null, decision, gold (1/0/null), used (1/0)]. */
  qs: [string, number, number | null, string, number | null, number][];
}

export interface GalleryData {
  cells: string[];
  datasets: string[];
  cards: GalleryCard[];
  /** Cards per page; every card is on the page when the run has no more than this. */
  pageSize: number;
}

/** Core's escapeMarkup, defined in the page by galleryScript() from the same tables. */
declare function resagentEscape(value: unknown): string;

function galleryMain(): void {
  const dataEl = document.getElementById("gallery-data");
  if (!dataEl) return;
  const data = JSON.parse(dataEl.textContent || "{}") as GalleryData;
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const grid = $<HTMLDivElement>("gallery");
  const count = $<HTMLSpanElement>("f-count");
  const fCell = $<HTMLSelectElement>("f-cell");
  const fDs = $<HTMLSelectElement>("f-dataset");
  const fMin = $<HTMLInputElement>("f-iou-min");
  const fMax = $<HTMLInputElement>("f-iou-max");
  const fKind = $<HTMLSelectElement>("f-kind");
  const fSort = $<HTMLSelectElement>("f-sort");
  const prev = $<HTMLButtonElement>("f-prev");
  const next = $<HTMLButtonElement>("f-next");
  const dialog = $<HTMLDialogElement>("compare");
  const dialogBody = $<HTMLDivElement>("compare-body");
  const esc = resagentEscape;
  const opt = (v: string, label: string) => `<option value="${esc(v)}">${esc(label)}</option>`;
  fCell.innerHTML = opt("", "all cells") + data.cells.map((c) => opt(c, c)).join("");
  fDs.innerHTML = opt("", "all datasets") + data.datasets.map((d) => opt(d, d)).join("");
  const KIND_LABEL: Record<string, string> = { "grounding-failure": "grounding failure", "wrong-object": "wrong object", "verifier-error": "verifier error", none: "no failure" };
  let page = 0;

  const card = (c: GalleryCard, big: boolean): string => {
    const img = c.img
      ? `<img ${big ? "" : 'loading="lazy" '}src="${esc(c.img)}" width="320" height="240" alt="overlay of ${esc(c.id)} in ${esc(c.cell)}">`
      : `<div class="noimg">no image</div>`;
    const grounding = c.fail ? `<span class="bad">grounding failed: ${esc(c.fail)}</span>` : c.box ? `box [${esc(c.box.map((v) => Math.round(v)).join(", "))}]` : "no box";
    const tags = c.kinds.map((k) => `<span class="tag ${esc(k)}">${esc(KIND_LABEL[k] || k)}</span>`).join("");
    const verif = c.q ? `${esc(c.q)} queried · ${esc(c.pos)}+ / ${esc(c.neg)}− chosen${c.scored ? ` · ${esc(c.verr)} of ${esc(c.scored)} answers contradict gold${c.verrUsed ? ` (${esc(c.verrUsed)} used)` : ""}` : ""}` : "no points queried";
    return (
      `<div class="card${big ? " big" : ""}" data-sample-id="${esc(c.k)}" data-cell="${esc(c.cell)}" data-dataset="${esc(c.ds)}" data-iou="${esc(c.iou)}" data-kinds="${esc(c.kinds.join(" "))}">` +
      img +
      `<div class="meta"><b>${esc(c.cell)}</b> · ${esc(c.ds)} · <code>${esc(c.id)}</code></div>` +
      `<div class="phrase">“${esc(c.phrase)}”</div>` +
      `<div class="nums">IoU <b>${esc((100 * c.iou).toFixed(1))}</b>${c.biou === null ? "" : ` · box IoU ${esc(c.biou.toFixed(2))}`}</div>` +
      `<div class="ground">${grounding}</div>` +
      `<div class="verif">${verif}</div>` +
      (c.note ? `<div class="note">${esc(c.note)}</div>` : "") +
      (c.qs.length
        ? `<details class="queries"><summary>queries</summary><table><tr><th>queue</th><th>#</th><th>P(yes)</th><th>decision</th><th>gold</th><th>used</th></tr>` +
          c.qs
            .map(([queue, rank, p, decision, gold, used]) => {
              const wrong = gold !== null && (decision === "positive" || decision === "negative") && (decision === "positive") !== (gold === 1);
              return `<tr${wrong ? ' class="wrong"' : ""}><td>${esc(queue)}</td><td>${esc(rank)}</td><td>${p === null ? "–" : esc(p.toFixed(3))}</td><td>${esc(decision)}</td><td>${gold === null ? "–" : gold ? "yes" : "no"}</td><td>${used ? "✓" : ""}</td></tr>`;
            })
            .join("") +
          `</table></details>`
        : "") +
      `<div class="tags">${tags}</div>` +
      (big ? "" : `<button class="all-cells" data-id="${esc(c.id)}" data-ds="${esc(c.ds)}">all cells side by side</button>`) +
      `</div>`
    );
  };

  const filtered = (): GalleryCard[] => {
    const cell = fCell.value;
    const ds = fDs.value;
    const lo = fMin.value === "" ? -Infinity : Number(fMin.value) / 100;
    const hi = fMax.value === "" ? Infinity : Number(fMax.value) / 100;
    const kind = fKind.value;
    const out = data.cards.filter((c) => (!cell || c.cell === cell) && (!ds || c.ds === ds) && c.iou >= lo - 1e-9 && c.iou <= hi + 1e-9 && (!kind || c.kinds.includes(kind)));
    const sort = fSort.value;
    if (sort === "iou-asc") out.sort((a, b) => a.iou - b.iou || a.i - b.i);
    else if (sort === "iou-desc") out.sort((a, b) => b.iou - a.iou || a.i - b.i);
    return out;
  };

  const render = () => {
    const list = filtered();
    const size = data.cards.length <= data.pageSize ? Math.max(1, list.length) : data.pageSize;
    const pages = Math.max(1, Math.ceil(list.length / size));
    page = Math.min(page, pages - 1);
    const shown = list.slice(page * size, (page + 1) * size);
    grid.innerHTML = shown.map((c) => card(c, false)).join("");
    count.textContent = `${list.length} of ${data.cards.length} records` + (pages > 1 ? ` · page ${page + 1} of ${pages}` : "");
    prev.hidden = next.hidden = pages <= 1;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    document.body.dataset.rendered = String(shown.length);
  };

  for (const el of [fCell, fDs, fMin, fMax, fKind, fSort]) {
    el.addEventListener("input", () => {
      page = 0;
      render();
    });
  }
  prev.addEventListener("click", () => {
    page--;
    render();
  });
  next.addEventListener("click", () => {
    page++;
    render();
  });
  grid.addEventListener("click", (ev) => {
    const btn = (ev.target as HTMLElement).closest("button.all-cells") as HTMLButtonElement | null;
    if (!btn) return;
    const same = data.cards.filter((c) => c.id === btn.dataset.id && c.ds === btn.dataset.ds);
    same.sort((a, b) => data.cells.indexOf(a.cell) - data.cells.indexOf(b.cell));
    dialogBody.innerHTML = same.map((c) => card(c, true)).join("");
    $<HTMLHeadingElement>("compare-title").textContent = `${btn.dataset.id}: “${same[0]?.phrase ?? ""}” in ${same.length} cells`;
    dialog.showModal();
  });
  $<HTMLButtonElement>("compare-close").addEventListener("click", () => dialog.close());
  render();
  document.body.dataset.ready = "1";
}

/** The gallery's script, to inline in the page: the escaping function generated from core's definition, then the gallery. */
export function galleryScript(): string {
  // Some TypeScript transforms (esbuild's keepNames, used by test runners) wrap nested functions in
  // __name(...) calls; the page has no such helper, so give it a no-op one.
  return `var __name = function (f) { return f; };\n${escapeMarkupSource("resagentEscape")}\n(${galleryMain.toString()})();`;
}
