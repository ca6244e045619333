/** Plain-object check (YAML maps), not arrays or null. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep merge: objects merge key by key, everything else (arrays included) is replaced. */
export function deepMerge<T>(base: T, over: unknown): T {
  if (!isObject(base) || !isObject(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? deepMerge(out[k], v) : v;
  return out as T;
}

/** {"a.b": 1} -> {a: {b: 1}}, recursively; plain keys pass through. */
export function expandDotted(obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const value = isObject(v) ? expandDotted(v) : v;
    const parts = k.split(".");
    let nested: unknown = value;
    for (let i = parts.length - 1; i >= 0; i--) nested = { [parts[i]!]: nested };
    out = deepMerge(out, nested);
  }
  return out;
}

/** Parse a command-line value: numbers, booleans, null, JSON arrays/objects, else a string. */
export function parseValue(raw: string): unknown {
  const s = raw.trim();
  if (s === "true") return true;
  if (s === "false") return false;
  if (s === "null") return null;
  if (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(s)) return Number(s);
  if (/^[[{]/.test(s)) {
    try {
      return JSON.parse(s);
    } catch {
      return s;
    }
  }
  return s;
}

/** Read a dotted path. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const p of path.split(".")) {
    if (!isObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}
