import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { randomStream, sha256 } from "@resagent/core";

/**
 * What a scripted reply does: answer in vLLM's shape, fail with a status, stall, send a body that
 * is not JSON, or close the connection in the middle of the body.
 */
export type Reply =
  | {
      kind: "answer";
      text: string;
      top?: { token: string; logprob: number }[];
      delayMs?: number;
      /** Leave top_logprobs out of the first token's entry (some servers do). */
      omitTop?: boolean;
      /** Answer without the logprobs that were asked for: `logprobs: null`, or no `logprobs` key at all. */
      omitLogprobs?: "null" | "absent";
    }
  | { kind: "status"; status: number; body?: string }
  /** No answer for `ms`, then the connection is closed. */
  | { kind: "stall"; ms: number }
  /** 200 with the answer's JSON cut in half (a complete response, just not JSON). */
  | { kind: "malformed"; answer?: Extract<Reply, { kind: "answer" }> }
  /** 200 headers and half of the announced body, then the socket is destroyed. */
  | { kind: "drop"; answer?: Extract<Reply, { kind: "answer" }> };

export type Script = (n: number, body: Record<string, unknown>) => Reply;

/** A confident yes or no as a served model answers it: the decoded token and its top-2 logprobs (the no carries a "ĠYes" surface form). */
export function yesNoReply(yes: boolean): Extract<Reply, { kind: "answer" }> {
  return {
    kind: "answer",
    text: yes ? "Yes" : "No",
    top: yes
      ? [
          { token: "Yes", logprob: -0.1 },
          { token: "No", logprob: -2.5 },
        ]
      : [
          { token: "No", logprob: -0.2 },
          { token: "ĠYes", logprob: -1.9 },
        ],
  };
}

export interface TestServer {
  url: string;
  /** Requests received (parsed bodies) and their headers. */
  requests: { body: Record<string, unknown>; headers: IncomingMessage["headers"] }[];
  peakInFlight: number;
  close(): Promise<void>;
}

function answerPayload(reply: Extract<Reply, { kind: "answer" }>, n: number, body: Record<string, unknown>): Record<string, unknown> {
  const top = reply.top ?? [];
  const first = top[0] ?? { token: reply.text, logprob: 0 };
  const logprobs = body.logprobs
    ? {
        content: [
          {
            token: first.token,
            logprob: first.logprob,
            bytes: [...Buffer.from(first.token, "utf8")],
            ...(reply.omitTop ? {} : { top_logprobs: top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: [...Buffer.from(t.token, "utf8")] })) }),
          },
        ],
      }
    : null;
  return {
    id: `chatcmpl-${n}`,
    object: "chat.completion",
    created: 1_700_000_000,
    model: body.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: reply.text, tool_calls: [] },
        ...(reply.omitLogprobs === "absent" ? {} : { logprobs: reply.omitLogprobs === "null" ? null : logprobs }),
        finish_reason: "length",
        stop_reason: null,
      },
    ],
    usage: { prompt_tokens: 300, total_tokens: 301, completion_tokens: 1 },
  };
}

/**
 * A local OpenAI/vLLM-compatible server for tests: POST /v1/chat/completions answers with the
 * exact response shape vLLM produces (choices[0].message.content, logprobs.content[0] with token,
 * logprob, bytes and top_logprobs). `script` picks the reply for the n-th request.
 */
export async function startTestServer(script: Script): Promise<TestServer> {
  const requests: TestServer["requests"] = [];
  let inFlight = 0;
  const state = { peakInFlight: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString("utf8")));
    req.on("end", () => {
      const body = JSON.parse(raw || "{}") as Record<string, unknown>;
      const n = requests.length;
      requests.push({ body, headers: req.headers });
      inFlight++;
      state.peakInFlight = Math.max(state.peakInFlight, inFlight);
      const reply = script(n, body);
      const finish = () => inFlight--;
      if (reply.kind === "status") {
        res.writeHead(reply.status, { "content-type": "application/json" }).end(reply.body ?? JSON.stringify({ error: { message: "scripted failure" } }), finish);
        return;
      }
      if (reply.kind === "stall") {
        setTimeout(() => {
          if (!res.writableEnded) res.destroy();
          finish();
        }, reply.ms);
        return;
      }
      if (reply.kind === "malformed" || reply.kind === "drop") {
        const text = JSON.stringify(answerPayload(reply.answer ?? { kind: "answer", text: "Yes" }, n, body));
        const half = Buffer.from(text.slice(0, Math.floor(text.length / 2)), "utf8");
        if (reply.kind === "malformed") {
          res.writeHead(200, { "content-type": "application/json" }).end(half, finish);
          return;
        }
        // Announce the whole body, send half, then hang up: the client's body read fails.
        res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
        res.write(half, () => {
          res.socket?.destroy();
          finish();
        });
        return;
      }
      const payload = answerPayload(reply, n, body);
      setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(payload), finish), reply.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get peakInFlight() {
      return state.peakInFlight;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // Keep-alive sockets and stalled requests would hold close() open.
        server.closeAllConnections();
      }),
  };
}

/** The misbehaviours of a hostile server, each drawn at its own rate. */
export const FAULTS = ["status500", "status429", "hang", "malformed", "noLogprobs", "drop"] as const;
export type Fault = (typeof FAULTS)[number];

export interface HostileOptions {
  seed: number;
  /** Probability of each fault per request (missing keys: 0); together at most 1. */
  rates: Partial<Record<Fault, number>>;
  /** How long a hang lasts before the server closes the connection; make it longer than the client's timeout. */
  hangMs?: number;
}

/** A script wrapped by `hostile`: it also says how many of each fault it injected. */
export interface HostileScript extends Script {
  readonly injected: Record<Fault, number>;
}

/**
 * Wrap a well-behaved script into a hostile one: each request draws, at the given rates, a 500, a
 * 429, a hang, a truncated (non-JSON) body, an answer without the requested logprobs, or a socket
 * closed mid-body; otherwise `script` answers. The draw depends only on the seed, the request body
 * and how many times that same body was seen before, never on arrival order, so a run at any
 * concurrency meets the same faults; a retry draws afresh. `noLogprobs` applies only to requests
 * that ask for logprobs (others are answered normally and nothing is counted).
 */
export function hostile(script: Script, options: HostileOptions): HostileScript {
  const rates = FAULTS.map((f) => options.rates[f] ?? 0);
  if (rates.some((r) => !(r >= 0 && r <= 1)) || rates.reduce((a, b) => a + b, 0) > 1 + 1e-9) throw new RangeError(`fault rates must lie in [0, 1] and sum to at most 1, got ${JSON.stringify(options.rates)}`);
  const seen = new Map<string, number>();
  const injected = Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>;
  const wrapped = (n: number, body: Record<string, unknown>): Reply => {
    const key = sha256(JSON.stringify(body));
    const times = seen.get(key) ?? 0;
    seen.set(key, times + 1);
    const rng = randomStream(options.seed, "hostile-server", `${key}/${times}`);
    const u = rng.next();
    let fault: Fault | undefined;
    let acc = 0;
    for (let i = 0; i < FAULTS.length; i++) {
      acc += rates[i]!;
      if (u < acc) {
        fault = FAULTS[i]!;
        break;
      }
    }
    const reply = script(n, body);
    if (fault === undefined || reply.kind !== "answer" || (fault === "noLogprobs" && !body.logprobs)) return reply;
    injected[fault]++;
    switch (fault) {
      case "status500":
        return { kind: "status", status: 500, body: '{"error":{"message":"Internal Server Error"}}' };
      case "status429":
        return { kind: "status", status: 429, body: '{"error":{"message":"Too Many Requests"}}' };
      case "hang":
        return { kind: "stall", ms: options.hangMs ?? 2_000 };
      case "malformed":
        return { kind: "malformed", answer: reply };
      case "drop":
        return { kind: "drop", answer: reply };
      case "noLogprobs":
        return { ...reply, omitLogprobs: rng.next() < 0.5 ? "null" : "absent" };
    }
  };
  return Object.assign(wrapped, { injected });
}

/** A URL where nothing listens (connections refused): a server that is down. */
export async function deadUrl(): Promise<string> {
  const srv = createTcpServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}/v1`;
}
