/**
 * One escaping helper for HTML, SVG, XML and LaTeX, with a browser twin generated from the same
 * tables; and no copy of it anywhere else in the code.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeLatex, escapeMarkup, escapeMarkupSource } from "./index.js";

const unescape = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");
/** What XML 1.0 allows: the C0 controls but tab, newline and return, and U+FFFE/U+FFFF, replaced. */
const xmlSafe = (s: string) =>
  [...s]
    .map((ch) => {
      const k = ch.charCodeAt(0);
      return k <= 0x08 || k === 0x0b || k === 0x0c || (k >= 0x0e && k <= 0x1f) || k === 0xfffe || k === 0xffff ? "\ufffd" : ch;
    })
    .join("");
/** Anything a run file may hold where a string was expected. */
const anyValue = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.array(fc.string(), { maxLength: 3 }));

describe("escapeMarkup", () => {
  it("escapes all five markup characters, quotes included, and coerces any type with String()", () => {
    expect(escapeMarkup(`<img src=x onerror="a('b')">&`)).toBe("&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;");
    expect(escapeMarkup(5)).toBe("5");
    expect(escapeMarkup(null)).toBe("null");
    expect(escapeMarkup(["<a>", "b"])).toBe("&lt;a&gt;,b");
    expect(escapeMarkup({ toString: () => "<script>" })).toBe("&lt;script&gt;");
    // Characters XML forbids would make an SVG unrenderable: replaced.
    expect(escapeMarkup("a\u0001b\u000bc\ufffe")).toBe("a\ufffdb\ufffdc\ufffd");
    expect(escapeMarkup("tab\tnew\nline")).toBe("tab\tnew\nline");
  });
  it("property: the output holds no markup character but in an entity, and reads back as the input", () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        const out = escapeMarkup(v);
        expect(out).not.toMatch(/[<>"']/);
        expect(out.replace(/&(amp|lt|gt|quot|#39);/g, "")).not.toContain("&");
        expect(unescape(out)).toBe(xmlSafe(String(v)));
      }),
      { numRuns: 2000 },
    );
  });
  it("property: the browser function generated from it escapes exactly as it does", () => {
    const browser = new Function(`${escapeMarkupSource("esc")}; return esc;`)() as (v: unknown) => string;
    fc.assert(
      fc.property(anyValue, (v) => {
        expect(browser(v)).toBe(escapeMarkup(v));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("escapeLatex", () => {
  it("escapes the specials and turns line breaks into spaces, so a `%` comment line cannot end early", () => {
    expect(escapeLatex("50% of $x_1$ & {y} #2 ~ ^ \\")).toBe("50\\% of \\$x\\_1\\$ \\& \\{y\\} \\#2 \\textasciitilde{} \\textasciicircum{} \\textbackslash{}");
    expect(escapeLatex("title\n\\input{/etc/passwd}")).toBe("title \\textbackslash{}input\\{/etc/passwd\\}");
    expect(escapeLatex(1000)).toBe("1000");
    expect(escapeLatex("τ ± 1")).toBe("$\\tau$ $\\pm$ 1");
  });
  it("property: no unescaped special, no line break, whatever the value", () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        const out = escapeLatex(v);
        expect(out).not.toMatch(/[\n\r]/);
        // Every backslash starts an escape the helper wrote; every special follows a backslash.
        const stripped = out.replace(/\\(textbackslash|textasciitilde|textasciicircum|textless|textgreater|ldots)\{\}|\\[&%$#_{}]|\$\\(tau|pm|times|leq|geq|cdot)\$|\$-\$/g, "");
        expect(stripped).not.toMatch(/[\\&%$#_{}~^]/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("there is one escaping helper", () => {
  it("no other source file defines its own markup escape table", () => {
    const packages = fileURLToPath(new URL("../../", import.meta.url));
    const copies: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts")) {
          // A table or chain that maps "<" to "&lt;" (as a string literal) is an escaping helper.
          if (/["'`]&lt;["'`]/.test(readFileSync(p, "utf8")) && !p.endsWith(join("core", "src", "escape.ts"))) copies.push(p.slice(packages.length));
        }
      }
    };
    for (const pkg of readdirSync(packages)) {
      const src = join(packages, pkg, "src");
      try {
        if (statSync(src).isDirectory()) walk(src);
      } catch {
        // a package without sources
      }
    }
    expect(copies).toEqual([]);
  });
});
