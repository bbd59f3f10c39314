/**
 * The HTML page of `pwalk summary --html` and `pwalk diff --html`: one
 * self-contained file (inline CSS, inline SVG charts, no script, no network)
 * with the same tables as the text output and charts rendered on the server
 * by Apache ECharts (npm `echarts`, SVG server-side rendering; imported only
 * here, when a page is written).
 *
 * Every number cell carries its exact value in `data-v` (what `--json`
 * says); the cell text is the human form. The page also embeds the whole
 * JSON in `<script type="application/json" id="pwalk-data">`.
 *
 * Names are shown as the text output shows them ({@link visible}): control
 * characters and bidirectional controls as `\xHH` and `\u202e` escapes,
 * in the tables, titles and chart labels alike, so that a folder named
 * "rtl\u202eexe.txt" cannot display as "rtltxt.exe". The embedded JSON keeps
 * the names as they are.
 *
 * @module
 */
import type { Summary } from "./summary.ts";
import {
  type ChangeRow,
  type Diff,
  type FileChange,
  fileMarks,
  fileStatus,
  recarriedNote,
} from "./diff.ts";
import {
  bytes,
  count,
  date,
  delta,
  deltaCount,
  seenTwiceWarning,
  unlistedTables,
  visible,
  visibleUnits,
} from "./text.ts";
import { columns } from "../width.ts";

/** The pinned charting library. */
export const ECHARTS_SPECIFIER = "npm:echarts@6.0.0";

// deno-lint-ignore no-explicit-any
type ECharts = any;

let echartsModule: Promise<ECharts> | undefined;

function loadECharts(): Promise<ECharts> {
  const spec = [ECHARTS_SPECIFIER][0]; // not a literal: kept out of the static graph
  echartsModule ??= import(spec);
  return echartsModule;
}

/**
 * Start importing ECharts now, without waiting for it (a failure is told
 * when a chart is drawn). `summary --html` and `diff --html` call it before
 * their DuckDB work: on importing an npm package Deno also fetches its
 * registry entry ("Download https://registry.npmjs.org/echarts") in the
 * background, even when the lockfile and the cached package need none, and
 * caches it once the fetch ends; imported only when the page was drawn, the
 * process exited first, and every run downloaded it again.
 */
export function preloadECharts(): void {
  loadECharts().catch(() => {});
}

/** One chart as an SVG string (ECharts SSR); the chart is disposed. */
async function chart(option: Record<string, unknown>, width = 900, height = 360): Promise<string> {
  const echarts = await loadECharts();
  const c = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
  try {
    c.setOption({ animation: false, ...option });
    return c.renderToSVGString();
  } finally {
    c.dispose();
  }
}

/** Text for the page: {@link visible}, then HTML-escaped. */
const esc = (s: string) =>
  visible(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

/** A table cell: text, with the exact value in data-v for numbers. */
type Cell = string | { text: string; v: number | string | null };

function htmlTable(id: string, title: string, head: string[], rows: Cell[][]): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join("");
  const body = rows.map((r) =>
    "<tr>" + r.map((c) =>
      typeof c === "string"
        ? `<td${c.length <= 20 && !/\s/.test(c) ? ' class="w"' : ""}>${esc(c)}</td>`
        : `<td class="n" data-v="${esc(String(c.v))}" title="${esc(String(c.v))}">${
          esc(c.text)
        }</td>`
    ).join("") + "</tr>"
  ).join("\n");
  return `<section id="${id}"><h2>${esc(title)}</h2><div class="t"><table><thead><tr>${th}</tr>` +
    `</thead><tbody>${
      body || `<tr><td colspan="${head.length}">(none)</td></tr>`
    }</tbody></table></div></section>`;
}

const B = (n: number): Cell => ({ text: bytes(n), v: n });
const D = (n: number): Cell => ({ text: delta(n), v: n });
const C = (n: number): Cell => ({ text: count(n), v: n });
const DC = (n: number): Cell => ({ text: deltaCount(n), v: n });
/** An id (uid, gid): a name for the number, not a quantity: no digit groups. */
const ID = (n: number): Cell => ({ text: String(n), v: n });

// (a long path wraps anywhere, in a heading too; a short word (a date, an
// id, a name) never: on a narrow screen a table, or a chart, is as wide
// as it needs and scrolls sideways in its box, not squeezed to two
// characters a line or shrunk to 4 px text)
const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}h1,h2,dd{overflow-wrap:anywhere}
.t,.chart{overflow-x:auto}
table{border-collapse:collapse;margin:.4em 0}td,th{padding:.15em .6em;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top;overflow-wrap:anywhere;min-width:6em}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.n,td.w{white-space:nowrap;overflow-wrap:normal}th{overflow-wrap:normal}
th{background:#f3f3f3}.chart{margin:.6em 0}.chart svg{display:block}
dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dt{font-weight:600}
.warning{color:#a40;font-weight:600}`;

function page(title: string, body: string, data: unknown): string {
  const json = JSON.stringify(data).replace(/</g, "\\u003c");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><h1>${esc(title)}</h1>
${body}
<script type="application/json" id="pwalk-data">${json}</script>
</body></html>
`;
}

/** A chart's section; with no data (`svg` null), `note` in its place, not empty axes. */
function figure(id: string, title: string, svg: string | null, note = "(none)"): string {
  const body = svg === null
    ? `<p class="none">${esc(note)}</p>`
    : `<div class="chart">${svg}</div>`;
  return `<section id="${id}"><h2>${esc(title)}</h2>${body}</section>`;
}

const who = (name: string | null, id: number) => name ?? String(id);
const PALETTE = [
  "#5470c6",
  "#91cc75",
  "#fac858",
  "#ee6666",
  "#73c0de",
  "#3ba272",
  "#fc8452",
  "#9a60b4",
  "#ea7ccc",
];
/** The layer of the age charts that holds the users past `--top` (and past {@link LAYERS}). */
const OTHER_USERS = "(other users)";
const base = (p: string) => p.slice(p.lastIndexOf("/") + 1) || p;
/**
 * The users an age chart stacks, each in a colour of its own (the rest are
 * {@link OTHER_USERS}; the table below the chart has every bucket's total):
 * ECharts' palette has 9 colours and gave the 10th user the 1st one's.
 */
const LAYERS = 20;
const LAYER_COLOURS = [
  ...PALETTE,
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#bcbd22",
  "#393b79",
  "#ad494a",
  "#637939",
];

/**
 * The size ranges of a histogram from its smallest to its largest, those
 * between that hold no file as empty ones: the chart's axis in equal steps
 * (">=8.0 KiB" beside ">=32.0 KiB" read as one step).
 */
function sizeRanges(h: Summary["sizeHistogram"]): Summary["sizeHistogram"] {
  const out: Summary["sizeHistogram"] = [];
  for (const b of h) {
    for (let at = out.at(-1)?.max ?? b.min; at < b.min; at = at === 0 ? 1 : at * 2) {
      const max = at === 0 ? 1 : at * 2;
      out.push({ min: at, max, allocatedBytes: 0, apparentBytes: 0, entries: 0, files: 0 });
    }
    out.push(b);
  }
  return out;
}

/**
 * Pixels of `s` in ECharts' 12 px sans-serif, erring wide: capitals and
 * m/w 11 (a "W" is 11.3), other characters 7 a terminal column (wide
 * ones 14): a legend estimated narrower than it is overlapped the bars.
 */
function textWidth(s: string): number {
  let px = 0;
  for (const ch of s) px += /[A-Zmw@%]/.test(ch) ? 11 : columns(ch) * 7;
  return px;
}

/**
 * Pixels a legend's name takes at most: longer ones are cut ("…"). A name
 * wider than the chart (a user named in 200 characters) made ECharts
 * centre its row on the chart, drawing the names beside it off the left
 * edge.
 */
const LEGEND_TEXT = 300;
/**
 * Text drawn on a box of the palette's colours, or of their shades (a
 * treemap's inner boxes, darker): dark, in a light halo, legible on any
 * of them (white on the palette's yellow read at 1.6:1, dark grey alone
 * on the inner boxes' blues at 2.5:1).
 */
const LABEL_ON_FILL = {
  color: "#1a1a1a",
  textBorderColor: "rgba(255,255,255,0.85)",
  textBorderWidth: 2.5,
};
/** A legend at the top of a chart, its names cut at {@link LEGEND_TEXT} pixels. */
const LEGEND = { top: 0, textStyle: { width: LEGEND_TEXT, overflow: "truncate" } };

/** The height of a legend's rows at the top of a chart `width` wide ({@link LEGEND}'s items; `names` made {@link visible}). */
function legendHeight(names: string[], width = 900): number {
  let rows = 1, x = 0;
  for (const n of names) {
    const w = 25 + 5 + Math.min(LEGEND_TEXT, textWidth(n)) + 10; // symbol, gap, text, item gap
    if (x > 0 && x + w > width - 10) [rows, x] = [rows + 1, w];
    else x += w;
  }
  return rows * 24;
}

/**
 * Bars a chart of users, groups, extensions or folders draws at most: the
 * first of its table's rows (a --top of 100,000 made charts a million
 * pixels tall, tens of MB of SVG each); the table below lists them all.
 */
const CHART_BARS = 50;

/** The rows a chart draws, and its title, saying so when they are fewer than the table's. */
function charted<T>(title: string, rows: readonly T[]): [string, readonly T[]] {
  return rows.length > CHART_BARS
    ? [
      `${title} (the first ${CHART_BARS} of ${count(rows.length)} in the table)`,
      rows.slice(0, CHART_BARS),
    ]
    : [title, rows];
}

/** A chart's height for `rows` horizontal bars: 22 px each, at least the usual 360. */
const barsHeight = (rows: number, extra = 0) => Math.max(360, 60 + extra + rows * 22);

/**
 * `p` in at most `max` characters: its start and its end, "…" between,
 * cut between grapheme clusters and never inside an escape
 * ({@link visibleUnits}).
 */
export function shortened(p: string, max = 30): string {
  const s = visible(p);
  if ([...s].length <= max) return s;
  const u = visibleUnits(s);
  const chars = (x: string) => [...x].length;
  let tailRoom = Math.ceil((max - 1) * 0.65), headRoom = max - 1 - tailRoom;
  let i = 0, j = u.length;
  while (i < j && chars(u[i]) <= headRoom) headRoom -= chars(u[i++]);
  while (j > i && chars(u[j - 1]) <= tailRoom) tailRoom -= chars(u[--j]);
  return u.slice(0, i).join("") + "…" + u.slice(j).join("");
}

/**
 * A value axis of bytes from `lo` to `hi` (0 within), labelled in one
 * binary unit: the largest (B, KiB, MiB...) not above the axis's largest
 * end, its ticks at a step of 1, 2 or 5 times a power of ten of that unit
 * (fractions too: 0.5 GiB), so every label is the tick's exact amount
 * ("0 B, 0.5 GiB, 1.0 GiB, 1.5 GiB"; ECharts' own steps are decimal:
 * "1000 B, 2.0 KiB, 2.9 KiB", and a step of 500 MiB put 1.5 GiB, rounded,
 * where 1500 MiB is).
 */
function bytesAxis(lo: number, hi: number) {
  const [min, max] = [Math.min(0, lo), Math.max(0, hi)];
  const names = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let u = 0;
  while (u < names.length - 1 && 1024 ** (u + 1) <= Math.max(-min, max)) u++;
  const unit = 1024 ** u;
  // the step in units: the least of 1, 2, 5 x 10^k at least a fifth of the span
  const raw = (max - min) / 5 / unit;
  let k = raw > 0 ? Math.floor(Math.log10(raw)) : 0;
  let m = [1, 2, 5, 10].find((x) => x * 10 ** k >= raw * (1 - 1e-12)) ?? 10;
  if (m === 10) [m, k] = [1, k + 1];
  if (u === 0 && k < 0) [m, k] = [1, 0]; // whole bytes
  const step = m * 10 ** k * unit;
  const decimals = u === 0 ? 0 : Math.max(1, -k);
  return {
    type: "value",
    min: Math.floor(min / step) * step,
    max: Math.max(step, Math.ceil(max / step) * step),
    interval: step,
    axisLabel: {
      formatter: (v: number) => v === 0 ? "0 B" : `${(v / unit).toFixed(decimals)} ${names[u]}`,
    },
  };
}

/** The lowest and highest ends of stacked bars of `series` (a stack's negative and positive parts apart). */
function stackEnds(series: number[][]): [number, number] {
  let lo = 0, hi = 0;
  for (let i = 0; i < (series[0]?.length ?? 0); i++) {
    const at = series.map((s) => s[i] ?? 0);
    lo = Math.min(lo, at.filter((v) => v < 0).reduce((a, v) => a + v, 0));
    hi = Math.max(hi, at.filter((v) => v > 0).reduce((a, v) => a + v, 0));
  }
  return [lo, hi];
}

function barOption(names: string[], values: number[], horizontal = true) {
  const cat = {
    type: "category",
    data: names.map(visible),
    inverse: horizontal,
    axisLabel: { width: 160, overflow: "truncate" },
  };
  const val = bytesAxis(...stackEnds([values]));
  return {
    // room on the right for the longest bar's label ("1023.9 KiB")
    grid: { left: horizontal ? 180 : 70, right: horizontal ? 90 : 30, top: 20, bottom: 40 },
    xAxis: horizontal ? val : cat,
    yAxis: horizontal ? cat : val,
    series: [{
      type: "bar",
      barMaxWidth: 28,
      data: values,
      label: {
        show: true,
        position: horizontal ? "right" : "top",
        formatter: (p: { value: number }) => bytes(p.value),
      },
    }],
  };
}

/** The treemap data of a folder tree (nested by parent). */
function treemapData(s: Summary, key: "allocatedBytes" | "apparentBytes") {
  type Node = {
    name: string;
    path: string;
    value: number;
    children: Node[];
    /** Its subfolders in the scan (`children` holds the `top` largest). */
    subfolders: number;
    /** Its entries, recursive (not itself). */
    entries: number;
    itemStyle?: { color: string };
  };
  const nodes = new Map<string, Node>();
  const roots: Node[] = [];
  for (const f of s.folderTree) {
    const n: Node = {
      name: visible(f.level === 0 ? f.path : base(f.path)),
      path: f.path,
      value: f[key],
      children: [],
      subfolders: f.subfolders ?? 0,
      entries: f.entries,
    };
    nodes.set(`${f.level}\0${f.path}`, n);
    const parent = f.parent === null ? undefined : nodes.get(`${f.level - 1}\0${f.parent}`);
    if (parent) parent.children.push(n);
    else roots.push(n);
  }
  // ECharts shares a box among the children by their values, not by the
  // parent's: a folder's own files (with its folder entry, and the
  // subfolders past --top when it has `top` shown) get a grey box of their
  // own, or a subfolder would fill its whole parent. A root without
  // subfolders gets its box too: the roots' level has no colour of its own
  // (the palette starts below it), so a root drawn as a leaf was blank.
  // With every subfolder shown and no other entry of its own, that box is
  // the folder's own entry: named so, not "(files here)".
  const rest = (n: Node, root: boolean) => {
    if (n.children.length === 0 && !root) return;
    n.children.forEach((c) => rest(c, false));
    const left = n.value - n.children.reduce((a, c) => a + c.value, 0);
    const own = n.entries - n.children.reduce((a, c) => a + c.entries + 1, 0);
    if (left > 0) {
      n.children.push({
        name: n.children.length < n.subfolders
          ? "(files here, other folders)"
          : own > 0
          ? "(files here)"
          : "(the folder itself)",
        path: n.path,
        value: left,
        children: [],
        subfolders: 0,
        entries: 0,
        itemStyle: { color: "#bbbbbb" },
      });
    }
  };
  roots.forEach((r) => rest(r, true));
  return roots;
}

/**
 * The HTML page of a summary: one offline file with tables and SVG charts.
 *
 * @example
 * ```ts
 * import { report, summarize, summaryHtml } from "jsr:@pwalk/cli";
 * import { assertEquals, assertStringIncludes } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data`);
 * await Deno.writeTextFile(`${tmp}/data/a.txt`, "hello");
 * await report(`${tmp}/data`, { output: `${tmp}/scan.csv.zst` });
 *
 * const s = await summarize([`${tmp}/scan.csv.zst`]);
 * const html = await summaryHtml(s);
 * await Deno.writeTextFile(`${tmp}/scan.html`, html);
 * assertStringIncludes(html, `<title>pwalk summary: ${tmp}/data</title>`);
 * assertStringIncludes(html, `${tmp}/data/a.txt`); // among the largest files
 * // the page carries the summary itself, as JSON
 * const json = html.match(/<script type="application\/json" id="pwalk-data">(.*)<\/script>/s)!;
 * assertEquals(JSON.parse(json[1]), JSON.parse(JSON.stringify(s)));
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function summaryHtml(s: Summary): Promise<string> {
  const t = s.totals;
  const useAlloc = t.allocatedBytes > 0;
  const key = useAlloc ? "allocatedBytes" : "apparentBytes";
  const measure = useAlloc ? "allocated" : "apparent";
  const parts: string[] = [];
  // the totals' lines the text prints below the counts (the warning only when it applies)
  const errors = t.errors === null
    ? "<dd>not recorded in a scan</dd>"
    : `<dd data-v="${t.errors}">${count(t.errors)}</dd>`;
  const warning = t.foldersSeenTwice
    ? `<p class="warning" data-v="${t.foldersSeenTwice}">` +
      `${esc(seenTwiceWarning(t.foldersSeenTwice))}</p>`
    : "";
  parts.push(`<section id="totals"><h2>Totals</h2><dl>
<dt>roots</dt><dd>${esc(s.roots.join(", ") || "(no root row)")}</dd>
<dt>scan files</dt><dd>${esc(s.scans.join(", "))}</dd>
<dt>ages as of</dt><dd data-v="${s.now}">${date(s.now)} UTC</dd>
<dt>hard links</dt><dd data-v="${t.hardLinkNames}">${count(t.hardLinkNames)} extra names \
(bytes counted once)</dd>
<dt>names not UTF-8</dt><dd data-v="${t.nonUtf8Names}">${count(t.nonUtf8Names)}</dd>
<dt>errors</dt>${errors}
</dl>${warning}</section>`);
  parts.push(htmlTable("totals-table", "Entries and bytes", [
    "entries",
    "files",
    "folders",
    "links",
    "other",
    "allocated",
    "apparent",
    "users",
    "groups",
  ], [[
    C(t.entries),
    C(t.files),
    C(t.folders),
    C(t.links),
    C(t.other),
    B(t.allocatedBytes),
    B(t.apparentBytes),
    C(s.userCount),
    C(s.groupCount),
  ]]));

  parts.push(figure(
    "chart-folders",
    `Folders by recursive ${measure} size (levels 0-${s.depth})`,
    await chart(
      {
        series: [{
          type: "treemap",
          data: treemapData(s, key),
          roam: false,
          nodeClick: false,
          breadcrumb: { show: false },
          label: {
            show: true,
            formatter: (p: { name: string; value: number }) => `${p.name}\n${bytes(p.value)}`,
            ...LABEL_ON_FILL,
          },
          upperLabel: { show: true, height: 20, ...LABEL_ON_FILL },
          levels: [
            { itemStyle: { borderWidth: 0, gapWidth: 3 } },
            { color: PALETTE, itemStyle: { gapWidth: 2 } },
            {
              colorSaturation: [0.35, 0.6],
              itemStyle: { gapWidth: 1, borderColorSaturation: 0.7 },
            },
          ],
        }],
      },
      1000,
      520,
    ),
  ));
  const ownerRows = (rows: Summary["users"]) =>
    rows.map((u) => [
      who(u.name, u.id),
      ID(u.id),
      B(u.allocatedBytes),
      B(u.apparentBytes),
      C(u.entries),
      C(u.files),
    ]);
  // (how many there are beside the top ones, as the text says)
  const of = (rows: unknown[], total: number) => `top ${rows.length} of ${count(total)}`;
  for (
    const [id, title, head, rows, total] of [
      ["users", "Users", ["user", "uid"], s.users, s.userCount],
      ["groups", "Groups", ["group", "gid"], s.groups, s.groupCount],
    ] as const
  ) {
    const [chartTitle, bars] = charted(`${title} by ${measure} size`, rows);
    parts.push(figure(
      `chart-${id}`,
      chartTitle,
      await chart(
        barOption(bars.map((u) => who(u.name, u.id)), bars.map((u) => u[key])),
        900,
        barsHeight(bars.length),
      ),
    ));
    parts.push(
      htmlTable(
        id,
        `${title} (${of(rows, total)})`,
        [...head, "allocated", "apparent", "entries", "files"],
        ownerRows(rows),
      ),
    );
  }
  const [extTitle, exts] = charted(`Extensions by ${measure} size`, s.extensions);
  parts.push(figure(
    "chart-extensions",
    extTitle,
    exts.length
      ? await chart(
        barOption(exts.map((x) => x.ext || "(none)"), exts.map((x) => x[key])),
        900,
        barsHeight(exts.length),
      )
      : null,
    "(no files)",
  ));
  parts.push(
    htmlTable(
      "extensions",
      `Extensions (files; ${of(s.extensions, s.extensionCount)})`,
      ["extension", "allocated", "apparent", "files"],
      s.extensions.map((
        x,
      ) => [x.ext || "(none)", B(x.allocatedBytes), B(x.apparentBytes), C(x.files)]),
    ),
  );

  const ranges = sizeRanges(s.sizeHistogram);
  parts.push(figure(
    "chart-sizes",
    "File sizes (count of files)",
    s.sizeHistogram.length === 0 ? null : await chart({
      grid: { left: 70, right: 20, top: 20, bottom: 80 },
      xAxis: {
        type: "category",
        data: ranges.map((b) => b.min === 0 ? "0" : `≥${bytes(b.min)}`),
        axisLabel: { rotate: 45 },
      },
      yAxis: { type: "value", minInterval: 1 }, // (a count: no tick at 0.2 file)
      series: [{ type: "bar", data: ranges.map((b) => b.files) }],
    }),
    "(no files)",
  ));
  parts.push(
    htmlTable(
      "sizes",
      "File sizes",
      ["from", "below", "files", "apparent", "allocated"],
      s.sizeHistogram.map((
        b,
      ) => [B(b.min), B(b.max), C(b.files), B(b.apparentBytes), B(b.allocatedBytes)]),
    ),
  );

  for (
    const [id, title, ages, byUser] of [
      ["mtime", "Files by last modification (mtime)", s.mtimeAges, s.mtimeAgesByUser],
      ["atime", "Files by last access (atime)", s.atimeAges, s.atimeAgesByUser],
    ] as const
  ) {
    // the users past --top (and past LAYERS) as one more layer, so that
    // each bar is its bucket's total
    const layers = byUser.slice(0, LAYERS);
    const others = ages.map((a, i) => a[key] - layers.reduce((n, u) => n + u[key][i], 0));
    const names = [...layers.map((u) => visible(who(u.name, u.id))), OTHER_USERS];
    const legend = legendHeight(names);
    const othersSeries = others.some((v) => v > 0)
      ? [{
        type: "bar",
        stack: "users",
        name: OTHER_USERS,
        data: others,
        itemStyle: { color: "#bbbbbb" },
      }]
      : [];
    parts.push(figure(
      `chart-${id}`,
      `${title}: ${measure} bytes, stacked by user`,
      ages.every((a) => a.files === 0) ? null : await chart(
        {
          legend: LEGEND,
          grid: { left: 80, right: 20, top: legend + 16, bottom: 30 },
          xAxis: { type: "category", data: ages.map((a) => a.label) },
          yAxis: bytesAxis(...stackEnds([ages.map((a) => a[key])])),
          series: [
            ...layers.map((u, i) => ({
              type: "bar",
              stack: "users",
              name: names[i],
              data: u[key],
              itemStyle: { color: LAYER_COLOURS[i] },
            })),
            ...othersSeries,
          ],
        },
        900,
        360 + legend - 24,
      ),
      "(no files)",
    ));
    parts.push(
      htmlTable(
        id,
        title,
        ["age", "allocated", "apparent", "files"],
        ages.map((a) => [a.label, B(a.allocatedBytes), B(a.apparentBytes), C(a.files)]),
      ),
    );
  }
  parts.push(
    htmlTable(
      "folders",
      `Folders by recursive ${measure} size (levels 0-${s.depth})`,
      ["folder", "level", "allocated", "apparent", "entries", "files"],
      s.folders.map((
        f,
      ) => [f.path, C(f.level), B(f.allocatedBytes), B(f.apparentBytes), C(f.entries), C(f.files)]),
    ),
  );
  parts.push(
    htmlTable("busiest", "Folders with the most direct entries (pw_fcount)", [
      "folder",
      "entries",
      "bytes (pw_dirsum)",
      "owner",
    ], s.busiestFolders.map((f) => [f.path, C(f.entries), B(f.bytes), who(f.user, f.uid)])),
  );
  parts.push(
    htmlTable(
      "largest",
      "Largest files",
      ["file", "apparent", "allocated", "owner", "modified", "accessed"],
      s.largestFiles.map((
        f,
      ) => [
        f.path,
        B(f.apparentBytes),
        B(f.allocatedBytes),
        who(f.user, f.uid),
        date(f.mtime),
        date(f.atime),
      ]),
    ),
  );
  parts.push(
    htmlTable(
      "cold",
      `Cold data: files not read for 365 days, per user (${of(s.coldByUser, s.coldUserCount)})`,
      [
        "user",
        "uid",
        "allocated",
        "apparent",
        "entries",
        "files",
      ],
      ownerRows(s.coldByUser),
    ),
  );
  return page(`pwalk summary: ${s.roots.join(", ") || s.scans.join(", ")}`, parts.join("\n"), s);
}

/**
 * The HTML page of a diff.
 *
 * @example
 * ```ts
 * import { diff, diffHtml, report } from "jsr:@pwalk/cli";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data`);
 * await report(`${tmp}/data`, { output: `${tmp}/old.csv.zst` });
 * await Deno.writeTextFile(`${tmp}/data/new.txt`, "hello");
 * await report(`${tmp}/data`, { output: `${tmp}/new.csv.zst` });
 *
 * const d = await diff([`${tmp}/old.csv.zst`], [`${tmp}/new.csv.zst`]);
 * const html = await diffHtml(d);
 * await Deno.writeTextFile(`${tmp}/diff.html`, html);
 * assertStringIncludes(html, `<title>pwalk diff: ${tmp}/data</title>`);
 * assertStringIncludes(html, `${tmp}/data/new.txt`); // among the new files
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function diffHtml(d: Diff): Promise<string> {
  const t = d.totals;
  // a folder's path below its root ("alpha/data"), a root as it is
  const rootsOf = [...new Set([...d.old.roots, ...d.new.roots])]
    .sort((a, b) => b.length - a.length);
  const below = (p: string) => {
    for (const r of rootsOf) {
      const pre = r.endsWith("/") ? r : `${r}/`;
      if (p.startsWith(pre) && p.length > pre.length) return p.slice(pre.length);
    }
    return p;
  };
  const parts: string[] = [];
  const kinds = [
    "added",
    "removed",
    "replaced",
    "changed",
    "moved",
    "grown",
    "shrunk",
    "unchanged",
    "net",
  ] as const;
  parts.push(
    htmlTable(
      "totals",
      `${d.old.roots.join(", ")} → ${d.new.roots.join(", ")}`,
      ["kind", "entries", "allocated", "apparent"],
      kinds.map((
        k,
      ) => [
        k,
        k === "net" ? DC(t[k].entries) : C(t[k].entries),
        k === "net" || k === "grown" || k === "shrunk"
          ? D(t[k].allocatedBytes)
          : B(t[k].allocatedBytes),
        k === "net" || k === "grown" || k === "shrunk"
          ? D(t[k].apparentBytes)
          : B(t[k].apparentBytes),
      ]),
    ),
  );
  // folders that listed nothing in one scan though unchanged: their
  // entries look removed (or added), right below the totals
  for (const { id, title, other, rows } of unlistedTables(d)) {
    parts.push(htmlTable(
      id,
      title,
      ["folder", `names in ${other}`],
      rows.map((r) => [
        r.path,
        C(r.listed),
      ]),
    ));
  }
  const changeRows = (rows: ChangeRow[]) =>
    rows.map((
      r,
    ) => [
      r.name ?? r.key,
      D(r.net.allocatedBytes),
      D(r.net.apparentBytes),
      DC(r.net.entries),
      C(r.added.entries),
      B(r.added.allocatedBytes),
      C(r.removed.entries),
      B(r.removed.allocatedBytes),
      C(r.grown.entries),
      D(r.grown.allocatedBytes),
      C(r.shrunk.entries),
      D(r.shrunk.allocatedBytes),
    ]);
  // the largest changes either way, and how many there were (a cut to --top
  // shows as one)
  const cut = (what: string, rows: ChangeRow[], total: number) =>
    `${what} (top ${rows.length} of ${count(total)}) by net allocated change`;
  const head = [
    "",
    "net allocated",
    "net apparent",
    "net entries",
    "added",
    "added alloc",
    "removed",
    "removed alloc",
    "grown",
    "grown alloc",
    "shrunk",
    "shrunk alloc",
  ];
  for (
    const [id, title, all] of [
      ["users", cut("Users", d.users, d.userCount), d.users],
      ["groups", cut("Groups", d.groups, d.groupCount), d.groups],
      ["folders", cut(`Folders at level ${d.depth}`, d.folders, d.folderCount), d.folders],
    ] as const
  ) {
    const [chartTitle, rows] = charted(title, all);
    // What the four kinds of change leave of the net: entries whose owner
    // or group changed (chown, chgrp), counted in the net of the old and of
    // the new owner, and allocation that changed alone (a file recalled
    // from tape, written into a sparse hole: same size and mtime); a bar
    // of its own, or a transfer would not show. A folder's is the latter
    // only (a chown moves no bytes between folders; a move is added and
    // removed).
    const moved = rows.map((r) =>
      r.net.allocatedBytes -
      (r.added.allocatedBytes + r.grown.allocatedBytes - r.removed.allocatedBytes +
        r.shrunk.allocatedBytes)
    );
    const movedSeries = moved.some((v) => v !== 0)
      ? [{
        type: "bar",
        name: id === "folders" ? "allocation changed alone" : "owner, group or allocation changed",
        stack: "c",
        data: moved,
      }]
      : [];
    parts.push(figure(
      `chart-${id}`,
      chartTitle,
      rows.length === 0 ? null : await chart(
        {
          grid: { left: 200, right: 40, top: 30, bottom: 40 },
          // (a folder by its path below its root, "alpha/data", not "data":
          // at level 2 several are named alike)
          legend: LEGEND,
          xAxis: bytesAxis(...stackEnds([
            ...["added", "grown", "shrunk"].map((k) =>
              rows.map((r) => r[k as "added" | "grown" | "shrunk"].allocatedBytes)
            ),
            rows.map((r) => -r.removed.allocatedBytes),
            moved,
          ])),
          yAxis: {
            type: "category",
            inverse: true,
            data: rows.map((r) =>
              typeof r.name === "string"
                ? visible(r.name)
                : id === "folders"
                ? shortened(below(r.key)) // (made visible there)
                : visible(r.key)
            ),
            axisLabel: { width: 190, overflow: "truncate" },
          },
          series: [
            {
              type: "bar",
              name: "added",
              stack: "c",
              data: rows.map((r) => r.added.allocatedBytes),
            },
            {
              type: "bar",
              name: "grown",
              stack: "c",
              data: rows.map((r) => r.grown.allocatedBytes),
            },
            {
              type: "bar",
              name: "removed",
              stack: "c",
              data: rows.map((r) => -r.removed.allocatedBytes),
            },
            {
              type: "bar",
              name: "shrunk",
              stack: "c",
              data: rows.map((r) => r.shrunk.allocatedBytes),
            },
            ...movedSeries,
          ],
        },
        900,
        barsHeight(rows.length, 10),
      ),
      "(no changes)",
    ));
    parts.push(
      htmlTable(
        id,
        title,
        [id === "folders" ? "folder" : id.slice(0, -1), ...head.slice(1)],
        changeRows(all),
      ),
    );
  }
  parts.push(
    htmlTable(
      "growing",
      `Folders (levels 0-${d.depth}; top ${d.growingFolders.length} of ${
        count(d.growingFolderCount)
      }) that changed most, recursive${recarriedNote(d)}`,
      ["folder", "old allocated", "new allocated", "change", "entries change"],
      d.growingFolders.map((
        f,
      ) => [
        f.path,
        B(f.old.allocatedBytes),
        B(f.new.allocatedBytes),
        D(f.delta.allocatedBytes),
        DC(f.delta.entries),
      ]),
    ),
  );
  const fileRows = (rows: FileChange[]) =>
    rows.map((
      f,
    ) => [
      f.path,
      fileStatus(f),
      f.oldSize === null ? "-" : B(f.oldSize),
      f.newSize === null ? "-" : B(f.newSize),
      f.oldMtime === null ? "-" : date(f.oldMtime),
      f.newMtime === null ? "-" : date(f.newMtime),
      f.user ?? String(f.uid),
    ]);
  const fh = ["file", "status", "old size", "new size", "old mtime UTC", "new mtime UTC", "owner"];
  for (
    const [id, title, rows, list] of [
      ["new-files", "Largest new files", d.newFiles, "new"],
      ["deleted-files", "Largest deleted files", d.deletedFiles, "deleted"],
      ["changed-files", "Files changed most", d.changedFiles, "changed"],
    ] as const
  ) parts.push(htmlTable(id, title + fileMarks(rows, list), fh, fileRows(rows)));
  const roots = (r: string[]) => r.join(", ");
  const title = roots(d.old.roots) === roots(d.new.roots)
    ? roots(d.old.roots)
    : `${roots(d.old.roots)} → ${roots(d.new.roots)}`;
  return page(`pwalk diff: ${title}`, parts.join("\n"), d);
}
