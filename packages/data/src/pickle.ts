import { InputError } from "@resagent/core";

/** What our unpickler yields: JSON-like values (tuples become arrays). */
export type PickleValue = null | boolean | number | bigint | string | PickleValue[] | { [key: string]: PickleValue };

const MARK = Symbol("mark");
type Item = PickleValue | typeof MARK;

/**
 * A reader for the Python pickles REFER ships (`refs(*).p`): protocols 0–2, Python 2 strings
 * (S, T, U) and unicode (V, X), ints and longs, floats, lists, dicts, tuples, marks and the memo.
 * Anything else (classes, REDUCE, BUILD...) is refused with the opcode's name and position.
 */
export function unpickle(bytes: Uint8Array, file = "<pickle>"): PickleValue {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const stack: Item[] = [];
  const memo = new Map<number, PickleValue>();
  const fail = (msg: string): never => {
    throw new InputError(msg, { file });
  };
  const need = (n: number, op: string) => {
    if (pos + n > buf.length) fail(`pickle ends inside opcode ${op} at byte ${pos - 1} (needs ${n} more byte(s), file has ${buf.length})`);
  };
  const line = (op: string): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) fail(`pickle ends inside opcode ${op} at byte ${pos - 1} (no newline)`);
    const s = buf.toString("latin1", pos, end);
    pos = end + 1;
    return s;
  };
  const popMark = (op: string): PickleValue[] => {
    const items: PickleValue[] = [];
    for (;;) {
      if (stack.length === 0) fail(`opcode ${op} at byte ${pos - 1} found no mark`);
      const v = stack.pop()!;
      if (v === MARK) return items.reverse();
      items.push(v);
    }
  };
  const pop = (op: string): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) fail(`opcode ${op} at byte ${pos - 1} found an empty stack`);
    return v as PickleValue;
  };
  const top = (op: string): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail(`opcode ${op} at byte ${pos - 1} found an empty stack`);
    return v as PickleValue;
  };
  const key = (k: PickleValue): string => {
    if (typeof k === "string") return k;
    if (typeof k === "number" || typeof k === "bigint" || typeof k === "boolean" || k === null) return String(k);
    return fail(`dict key at byte ${pos - 1} is a ${Array.isArray(k) ? "list/tuple" : "dict"}; only strings and numbers are supported as keys`);
  };
  const setItems = (d: PickleValue, kv: PickleValue[], op: string) => {
    if (!d || typeof d !== "object" || Array.isArray(d)) fail(`opcode ${op} at byte ${pos - 1} expects a dict`);
    for (let i = 0; i + 1 < kv.length; i += 2) (d as Record<string, PickleValue>)[key(kv[i]!)] = kv[i + 1]!;
  };
  const int = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  const parseInt10 = (s: string, op: string): number | bigint => {
    const t = s.trim().replace(/L$/, "");
    if (!/^[-+]?\d+$/.test(t)) fail(`opcode ${op} at byte ${pos - 1}: bad integer ${JSON.stringify(s)}`);
    return int(BigInt(t));
  };
  const littleSigned = (b: Buffer): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return int(v);
  };

  while (pos < buf.length) {
    const code = buf[pos++]!;
    const op = String.fromCharCode(code);
    switch (code) {
      case 0x80: // PROTO
        need(1, "PROTO");
        if (buf[pos]! > 2) fail(`pickle protocol ${buf[pos]} is not supported (0–2 are)`);
        pos++;
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP at byte ${pos - 1} with ${stack.length} items on the stack`);
        return stack[0] as PickleValue;
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        stack.pop();
        break;
      case 0x31: // POP_MARK
        popMark("POP_MARK");
        break;
      case 0x32: // DUP
        stack.push(top("DUP"));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x49: {
        // INT (protocol 0 booleans are I01 / I00)
        const s = line("INT");
        stack.push(s === "01" ? true : s === "00" ? false : parseInt10(s, "INT"));
        break;
      }
      case 0x4a:
        need(4, "BININT");
        stack.push(buf.readInt32LE(pos));
        pos += 4;
        break;
      case 0x4b:
        need(1, "BININT1");
        stack.push(buf[pos++]!);
        break;
      case 0x4d:
        need(2, "BININT2");
        stack.push(buf.readUInt16LE(pos));
        pos += 2;
        break;
      case 0x4c:
        stack.push(parseInt10(line("LONG"), "LONG"));
        break;
      case 0x8a: {
        need(1, "LONG1");
        const n = buf[pos++]!;
        need(n, "LONG1");
        stack.push(littleSigned(buf.subarray(pos, pos + n)));
        pos += n;
        break;
      }
      case 0x8b: {
        need(4, "LONG4");
        const n = buf.readInt32LE(pos);
        pos += 4;
        need(n, "LONG4");
        stack.push(littleSigned(buf.subarray(pos, pos + n)));
        pos += n;
        break;
      }
      case 0x46: {
        const s = line("FLOAT");
        const v = Number(s);
        if (Number.isNaN(v) && !/nan/i.test(s)) fail(`opcode FLOAT at byte ${pos - 1}: bad float ${JSON.stringify(s)}`);
        stack.push(v);
        break;
      }
      case 0x47:
        need(8, "BINFLOAT");
        stack.push(buf.readDoubleBE(pos));
        pos += 8;
        break;
      case 0x53: // STRING: a Python 2 repr, quoted
        stack.push(unescapeRepr(line("STRING"), () => fail(`opcode STRING at byte ${pos - 1}: not a quoted string`)));
        break;
      case 0x54: {
        need(4, "BINSTRING");
        const n = buf.readInt32LE(pos);
        pos += 4;
        need(n, "BINSTRING");
        stack.push(buf.toString("latin1", pos, pos + n));
        pos += n;
        break;
      }
      case 0x55: {
        need(1, "SHORT_BINSTRING");
        const n = buf[pos++]!;
        need(n, "SHORT_BINSTRING");
        stack.push(buf.toString("latin1", pos, pos + n));
        pos += n;
        break;
      }
      case 0x56: // UNICODE: raw-unicode-escape
        stack.push(line("UNICODE").replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a?: string, b?: string) => String.fromCodePoint(parseInt(a ?? b!, 16))));
        break;
      case 0x58: {
        need(4, "BINUNICODE");
        const n = buf.readUInt32LE(pos);
        pos += 4;
        need(n, "BINUNICODE");
        stack.push(buf.toString("utf8", pos, pos + n));
        pos += n;
        break;
      }
      case 0x5d:
        stack.push([]);
        break;
      case 0x6c:
        stack.push(popMark("LIST"));
        break;
      case 0x61: {
        const v = pop("APPEND");
        const l = top("APPEND");
        if (!Array.isArray(l)) fail(`opcode APPEND at byte ${pos - 1} expects a list`);
        (l as PickleValue[]).push(v);
        break;
      }
      case 0x65: {
        const items = popMark("APPENDS");
        const l = top("APPENDS");
        if (!Array.isArray(l)) fail(`opcode APPENDS at byte ${pos - 1} expects a list`);
        (l as PickleValue[]).push(...items);
        break;
      }
      case 0x7d:
        stack.push({});
        break;
      case 0x64: {
        const d: Record<string, PickleValue> = {};
        setItems(d, popMark("DICT"), "DICT");
        stack.push(d);
        break;
      }
      case 0x73: {
        const v = pop("SETITEM");
        const k = pop("SETITEM");
        setItems(top("SETITEM"), [k, v], "SETITEM");
        break;
      }
      case 0x75: {
        const kv = popMark("SETITEMS");
        setItems(top("SETITEMS"), kv, "SETITEMS");
        break;
      }
      case 0x29:
        stack.push([]);
        break;
      case 0x74:
        stack.push(popMark("TUPLE"));
        break;
      case 0x85:
        stack.push([pop("TUPLE1")]);
        break;
      case 0x86: {
        const b = pop("TUPLE2");
        stack.push([pop("TUPLE2"), b]);
        break;
      }
      case 0x87: {
        const c = pop("TUPLE3");
        const b = pop("TUPLE3");
        stack.push([pop("TUPLE3"), b, c]);
        break;
      }
      case 0x70:
        memo.set(Number(parseInt10(line("PUT"), "PUT")), top("PUT"));
        break;
      case 0x71:
        need(1, "BINPUT");
        memo.set(buf[pos++]!, top("BINPUT"));
        break;
      case 0x72:
        need(4, "LONG_BINPUT");
        memo.set(buf.readUInt32LE(pos), top("LONG_BINPUT"));
        pos += 4;
        break;
      case 0x67:
      case 0x68:
      case 0x6a: {
        const name = code === 0x67 ? "GET" : code === 0x68 ? "BINGET" : "LONG_BINGET";
        let idx: number;
        if (code === 0x67) idx = Number(parseInt10(line(name), name));
        else if (code === 0x68) {
          need(1, name);
          idx = buf[pos++]!;
        } else {
          need(4, name);
          idx = buf.readUInt32LE(pos);
          pos += 4;
        }
        if (!memo.has(idx)) fail(`opcode ${name} at byte ${pos - 1} refers to memo ${idx}, which was never stored`);
        stack.push(memo.get(idx)!);
        break;
      }
      default: {
        const names: Record<number, string> = { 0x63: "GLOBAL", 0x52: "REDUCE", 0x62: "BUILD", 0x81: "NEWOBJ", 0x69: "INST", 0x6f: "OBJ", 0x50: "PERSID", 0x51: "BINPERSID", 0x42: "BINBYTES (protocol 3)", 0x8c: "SHORT_BINUNICODE (protocol 4)", 0x95: "FRAME (protocol 4)" };
        fail(`unsupported pickle opcode ${names[code] ?? `0x${code.toString(16)}`} (${JSON.stringify(op)}) at byte ${pos - 1}: only plain lists, dicts, tuples, strings and numbers are read`);
      }
    }
  }
  return fail(`pickle ends without STOP (truncated at byte ${buf.length})`);
}

/** Python 2 repr of a str ('...' or "..."), escapes included. */
function unescapeRepr(s: string, bad: () => never): string {
  const t = s.trim();
  const q = t[0];
  if ((q !== "'" && q !== '"') || t[t.length - 1] !== q || t.length < 2) bad();
  const body = t.slice(1, -1);
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const n = body[++i];
    const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", '"': '"', a: "\x07", b: "\b", f: "\f", v: "\v" };
    if (n !== undefined && n in simple) out += simple[n];
    else if (n === "x") {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (n !== undefined && /[0-7]/.test(n)) {
      let oct = n;
      while (oct.length < 3 && /[0-7]/.test(body[i + 1] ?? "")) oct += body[++i];
      out += String.fromCharCode(parseInt(oct, 8));
    } else out += `\\${n ?? ""}`;
  }
  return out;
}
