import { chromium } from "playwright-core";
import sharp from "/work/wt/report/node_modules/.pnpm/node_modules/sharp/lib/index.js";
const [file, out] = process.argv.slice(2);
const b = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
const p = await b.newPage({ viewport: { width: 1100, height: 1150 } });
await p.goto("file://" + file);
await p.waitForSelector("body[data-ready='1']");
await p.selectOption("#f-sort", "iou-asc");
// Bring the title, banner and table close to the gallery for one picture: hide the long middle sections.
await p.addStyleTag({ content: "#metrics, #metrics + table, #plots, #plots ~ figure, #calls, #calls + dl, #provenance, #provenance ~ dl, #provenance ~ details, nav { display: none !important; }" });
await p.waitForTimeout(300);
await p.evaluate(() => window.scrollTo(0, 0));
await p.waitForFunction("[...document.querySelectorAll('#gallery img')].slice(0, 6).every((i) => i.complete && i.naturalWidth > 0)", null, { timeout: 10000 }).catch(() => {});
const png = await p.screenshot();
await sharp(png).png({ palette: true, quality: 85, compressionLevel: 9 }).toFile(out);
await b.close();
